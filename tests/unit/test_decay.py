"""Decay (IDLE held ten minutes becomes AWAY), driven by the sweeper through the fake clock."""

from __future__ import annotations

import pytest

from presence_gateway.domain.statuses import BUILTIN_STATUSES, Decay, Status, StatusRegistry
from tests.support.gateway_container import NO_GRACE
from tests.unit.conftest import META, World, build_world

pytestmark = pytest.mark.anyio


def decaying_registry() -> StatusRegistry:
    statuses = [s if s.name != "IDLE" else Status("IDLE", decay=Decay(600.0, "AWAY")) for s in BUILTIN_STATUSES]
    return StatusRegistry(
        [*statuses, Status("AWAY", choosable=False, decay=Decay(3600.0, "SNOOZING")), Status("SNOOZING", choosable=False)]
    )


@pytest.fixture
def world() -> World:
    # Sessions outlive these hours without pings, and a close is OFFLINE at once: only decay
    # is under test here.
    return build_world(registry=decaying_registry(), env={"PRESENCE_SESSION_TTL": "86400", **NO_GRACE})


async def test_idle_becomes_away_once_held_long_enough(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "IDLE")

    world.clock.advance(599)
    await world.service.sweep()
    assert world.broadcaster.seen_by_self("u1") == ["ONLINE", "IDLE"]

    world.clock.advance(1)
    await world.service.sweep()
    assert world.broadcaster.seen_by_self("u1") == ["ONLINE", "IDLE", "AWAY"]
    assert world.broadcaster.seen_by_others("u1") == ["ONLINE", "IDLE", "AWAY"]
    assert (await world.durable("u1")).chosen == "AWAY"


async def test_a_decay_chain_keeps_its_rhythm(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "IDLE")

    world.clock.advance(600 + 3600 + 5)  # one late sweep sees both steps due
    await world.service.sweep()
    await world.service.sweep()

    assert world.broadcaster.seen_by_self("u1")[-2:] == ["AWAY", "SNOOZING"]


async def test_choosing_again_restarts_the_decay(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "IDLE")
    world.clock.advance(300)
    await world.service.choose("u1", "s1", META, "DND")
    world.clock.advance(100)
    await world.service.choose("u1", "s1", META, "IDLE")

    world.clock.advance(200)  # 600 s after the first IDLE: that one no longer counts
    await world.service.sweep()
    assert world.broadcaster.seen_by_self("u1")[-1] == "IDLE"

    world.clock.advance(400)
    await world.service.sweep()
    assert world.broadcaster.seen_by_self("u1")[-1] == "AWAY"


async def test_a_status_without_decay_never_changes_by_itself(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "DND")
    for _ in range(10):
        world.clock.advance(3600)
        await world.service.heartbeat("u1", "s1", META)
        await world.service.sweep()

    assert world.broadcaster.seen_by_self("u1") == ["ONLINE", "DND"]


async def test_a_remembered_status_decays_while_the_user_is_away_and_comes_back_decayed(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "IDLE")
    await world.service.disconnect("u1", "s1")
    world.broadcaster.changes.clear()

    world.clock.advance(601)
    await world.service.sweep()
    assert world.broadcaster.seen_by_others("u1") == []  # still OFFLINE to everyone
    assert (await world.durable("u1")).chosen == "AWAY"

    assert (await world.service.connect("u1", "s2", META)).status == "AWAY"
