"""Decay follows the shown status, over every presence store: a user whose sockets are all
idle is shown IDLE, and ten minutes of that (IDLE decays to AWAY here) make them AWAY;
a socket active again cancels it, or, once decayed, makes them ONLINE again. Driven by the
sweeper through the fake clock; each socket event is still the store's one call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from presence_gateway.adapters.memory.presence_store import InMemoryPresenceStore
from presence_gateway.domain.ports import SessionMeta
from presence_gateway.domain.rich_presence import ShownDecays
from presence_gateway.domain.statuses import StatusRegistry
from presence_gateway.service_layer.durable_writer import DurableWriter
from presence_gateway.service_layer.use_cases import PresenceService
from tests.fakes import FakeClock, RecordingBroadcaster, TableTokenVerifier
from tests.memory_status_repository import InMemoryStatusRepository
from tests.support.redis_stores import redis_stores
from tests.support.statuses import idle_decays_to_away

pytestmark = pytest.mark.anyio

WEB = SessionMeta(device="web", connected_at=0.0, ip="127.0.0.1")
MOBILE = SessionMeta(device="mobile", connected_at=0.0, ip="127.0.0.1")


@dataclass
class World:
    service: PresenceService
    broadcaster: RecordingBroadcaster
    clock: FakeClock

    def shown(self, user_id: str = "u1") -> str:
        return self.broadcaster.seen_by_others(user_id)[-1]

    def devices(self, user_id: str = "u1") -> dict[str, str]:
        return dict(next(c for c in reversed(self.broadcaster.changes) if c.user_id == user_id).devices)

    async def idle(self, session: str, meta: SessionMeta = WEB) -> None:
        await self.service.choose("u1", session, meta, "IDLE")

    async def active(self, session: str, meta: SessionMeta = WEB) -> None:
        await self.service.choose("u1", session, meta, "ONLINE")

    async def after(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.service.sweep()


@pytest.fixture(params=["memory", "redis", "cluster"])
async def world(request: pytest.FixtureRequest) -> AsyncIterator[World]:
    clock = FakeClock()
    statuses = idle_decays_to_away()
    options: dict[str, Any] = {"clock": clock, "shown_decays": ShownDecays.of(statuses)}
    if request.param == "memory":
        yield _world(InMemoryPresenceStore(**options), statuses, clock)
        return
    url = request.getfixturevalue("redis_url" if request.param == "redis" else "redis_cluster_url")
    async with redis_stores(url, "decay", **options) as stores:
        yield _world(stores["decay"], statuses, clock)


def _world(store, statuses: StatusRegistry, clock: FakeClock) -> World:
    broadcaster = RecordingBroadcaster()
    service = PresenceService(
        registry=statuses, sessions=store, sweeps=store, seeding=store, durable=DurableWriter(InMemoryStatusRepository()),
        broadcaster=broadcaster, clock=clock, verifier=TableTokenVerifier(), session_ttl=86_400.0, offline_grace=0.0,
    )
    return World(service, broadcaster, clock)


async def test_every_socket_idle_for_the_decay_makes_the_user_away(world: World) -> None:
    await world.service.connect("u1", "web", WEB)
    await world.service.connect("u1", "phone", MOBILE)
    await world.idle("web")
    await world.idle("phone", MOBILE)
    assert world.shown() == "IDLE"

    await world.after(599)
    assert world.shown() == "IDLE"
    await world.after(1)

    assert world.shown() == "AWAY"
    assert world.devices() == {"web": "IDLE", "mobile": "IDLE"}


async def test_the_decay_counts_from_when_the_last_socket_went_idle(world: World) -> None:
    await world.service.connect("u1", "web", WEB)
    await world.service.connect("u1", "phone", MOBILE)
    await world.idle("web")
    await world.after(600)  # the phone is active: the user is ONLINE, nothing decays
    assert world.shown() == "ONLINE"

    await world.idle("phone", MOBILE)
    await world.after(599)
    assert world.shown() == "IDLE"
    await world.after(1)
    assert world.shown() == "AWAY"


async def test_a_socket_active_again_cancels_the_decay(world: World) -> None:
    await world.service.connect("u1", "web", WEB)
    await world.idle("web")
    await world.after(300)
    await world.active("web")
    await world.after(100)
    await world.idle("web")

    await world.after(500)  # 900 s after the first IDLE, 500 after the second
    assert world.shown() == "IDLE"
    await world.after(100)
    assert world.shown() == "AWAY"


async def test_a_new_socket_cancels_it_too(world: World) -> None:
    await world.service.connect("u1", "web", WEB)
    await world.idle("web")
    await world.after(300)
    await world.service.connect("u1", "phone", MOBILE)

    await world.after(600)
    assert world.shown() == "ONLINE"


@pytest.mark.parametrize("wake", ["update", "connect"])
async def test_an_away_user_whose_socket_is_active_again_is_online(world: World, wake: str) -> None:
    await world.service.connect("u1", "web", WEB)
    await world.idle("web")
    await world.after(600)
    assert world.shown() == "AWAY"

    if wake == "update":
        await world.active("web")
    else:
        await world.service.connect("u1", "phone", MOBILE)

    assert world.shown() == "ONLINE"
    await world.after(3600)
    assert world.shown() == "ONLINE"


async def test_the_active_socket_leaving_the_idle_ones_starts_the_decay(world: World) -> None:
    await world.service.connect("u1", "web", WEB)
    await world.service.connect("u1", "phone", MOBILE)
    await world.idle("web")
    await world.after(300)
    await world.service.disconnect("u1", "phone")
    assert world.shown() == "IDLE"

    await world.after(599)
    assert world.shown() == "IDLE"
    await world.after(1)
    assert world.shown() == "AWAY"


async def test_away_by_decay_is_not_kept_past_the_visit(world: World) -> None:
    await world.service.connect("u1", "web", WEB)
    await world.idle("web")
    await world.after(600)
    await world.service.disconnect("u1", "web")

    await world.service.connect("u1", "web2", WEB)

    assert world.broadcaster.seen_by_others("u1")[-2:] == ["OFFLINE", "ONLINE"]


async def test_a_user_wide_choice_stands_over_idle_devices(world: World) -> None:
    await world.service.connect("u1", "web", WEB)
    await world.service.choose("u1", "web", WEB, "DND")
    await world.idle("web")

    await world.after(3600)

    assert world.shown() == "DND"
