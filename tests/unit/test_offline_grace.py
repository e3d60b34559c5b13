"""The offline grace period: a page reload is no OFFLINE/ONLINE flap (fake clock)."""

from __future__ import annotations

import pytest

from tests.unit.conftest import META, World, build_world

pytestmark = pytest.mark.anyio

GRACE = 5.0


@pytest.fixture
def world() -> World:
    return build_world(env={"PRESENCE_OFFLINE_GRACE": str(GRACE)})


async def test_a_reload_within_the_grace_is_invisible_to_everyone(world: World) -> None:
    await world.service.connect("u1", "old-tab", META)
    world.broadcaster.changes.clear()

    async def reload() -> None:
        await world.service.disconnect("u1", "old-tab")
        world.clock.advance(GRACE - 0.5)
        await world.service.sweep()
        assert (await world.service.connect("u1", "new-tab", META)).status == "ONLINE"
        world.clock.advance(GRACE * 2)
        await world.service.sweep()

    assert await world.writes_after(reload) == 0
    assert world.broadcaster.changes == []


async def test_the_user_goes_offline_once_the_grace_runs_out(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "DND")
    await world.service.disconnect("u1", "s1")

    world.clock.advance(GRACE - 0.1)
    await world.service.sweep()
    assert world.broadcaster.seen_by_others("u1") == ["ONLINE", "DND"]
    assert (await world.durable("u1")).status == "DND"

    world.clock.advance(0.1)
    await world.service.sweep()
    assert world.broadcaster.seen_by_others("u1") == ["ONLINE", "DND", "OFFLINE"]
    record = await world.durable("u1")
    assert (record.status, record.chosen) == ("OFFLINE", "DND")


async def test_appearing_offline_lasts_through_a_reload_but_not_beyond_the_grace(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "OFFLINE")
    await world.service.disconnect("u1", "s1")
    assert (await world.service.connect("u1", "s2", META)).status == "OFFLINE"  # reload: still hidden

    await world.service.disconnect("u1", "s2")
    world.clock.advance(GRACE)
    await world.service.sweep()
    assert (await world.service.connect("u1", "s3", META)).status == "ONLINE"  # a new visit


async def test_an_expired_session_gets_no_grace(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    world.clock.advance(world.service.session_ttl)

    await world.service.sweep()

    assert world.broadcaster.seen_by_others("u1") == ["ONLINE", "OFFLINE"]


async def test_shutdown_ends_every_session_in_one_batch_without_grace(world: World) -> None:
    for n in range(30):
        await world.service.connect(f"u{n % 10}", f"s{n}", META)
    world.broadcaster.changes.clear()

    assert await world.service.end_instance(batch=7) == 30

    assert sorted(c.user_id for c in world.broadcaster.changes) == sorted(f"u{n}" for n in range(10))
    assert {c.public for c in world.broadcaster.changes} == {"OFFLINE"}
    await world.service.disconnect("u1", "s1")  # the socket closing afterwards records nothing more
    assert len(world.broadcaster.changes) == 10
