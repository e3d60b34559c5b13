"""Pings held for the next sweep (held_pings.py), through the Clock port: the socket stays
while it pings, a silent one still expires one TTL after its last ping (within a sweep),
and nothing is held while the store does not answer."""

from __future__ import annotations

import pytest

from tests.fakes import FakeClock, RecordingBroadcaster, TableTokenVerifier
from tests.memory_status_repository import InMemoryStatusRepository
from tests.support.gateway_container import NO_GRACE, gateway_container
from tests.unit.conftest import META

pytestmark = pytest.mark.anyio

TTL = 90.0  # docs/protocol.md: a ping renews the socket's 90 s TTL
SWEEP = 5.0  # PRESENCE_SWEEP_INTERVAL's default


class Circuit:
    closed = True

    def is_closed(self) -> bool:
        return self.closed


def held_world(circuit: Circuit):
    clock = FakeClock()
    container = gateway_container(
        NO_GRACE,
        clock=clock,
        status_repository=InMemoryStatusRepository(),
        broadcaster=RecordingBroadcaster(),
        token_verifier=TableTokenVerifier(),
        pings_may_wait=circuit.is_closed,
    )
    return container.presence_service(), container.presence_store(), clock


async def sweep_until_expired(service, clock: FakeClock, until: float) -> float | None:
    while clock.now() < until:
        clock.advance(SWEEP)
        await service.sweep()
        if service.expired:
            return clock.now()
    return None


async def test_a_socket_that_falls_silent_expires_one_ttl_after_its_held_ping() -> None:
    service, store, clock = held_world(Circuit())
    await service.connect("u1", "s1", META)
    clock.advance(30)
    await service.heartbeat("u1", "s1", META)
    assert (await store.states(["u1"]))[0].sessions == 1
    last_ping = clock.now()

    expired_at = await sweep_until_expired(service, clock, last_ping + TTL + 2 * SWEEP)

    assert expired_at is not None
    assert last_ping + TTL <= expired_at <= last_ping + TTL + SWEEP
    assert (await store.states(["u1"]))[0].sessions == 0


async def test_while_the_store_does_not_answer_a_ping_goes_to_it_at_once() -> None:
    circuit = Circuit()
    service, store, clock = held_world(circuit)
    await service.connect("u1", "s1", META)
    circuit.closed = False
    clock.advance(30)
    await service.heartbeat("u1", "s1", META)

    assert await store.expire_due(clock.now() + TTL - 1, limit=10) == []  # renewed without a sweep


async def test_a_held_ping_of_a_socket_that_disconnected_brings_nothing_back() -> None:
    service, store, clock = held_world(Circuit())
    await service.connect("u1", "s1", META)
    clock.advance(30)
    await service.heartbeat("u1", "s1", META)
    await service.disconnect("u1", "s1")

    clock.advance(SWEEP)
    await service.sweep()

    assert (await store.states(["u1"]))[0].sessions == 0


async def test_a_socket_pinging_every_second_is_written_about_once_per_half_ttl_and_stays(monkeypatch) -> None:
    service, store, clock = held_world(Circuit())
    await service.connect("u1", "s1", META)
    renewed: list[int] = []
    renew_many = service._sessions.renew_many

    async def counting(renewals):
        renewed.append(len(renewals))
        return await renew_many(renewals)

    monkeypatch.setattr(service._sessions, "renew_many", counting)
    for second in range(1, 181):  # three minutes, a ping a second, a sweep every SWEEP
        clock.advance(1)
        await service.heartbeat("u1", "s1", META)
        if second % SWEEP == 0:
            await service.sweep()

    assert service.expired == 0
    assert (await store.states(["u1"]))[0].sessions == 1
    # written once the store's expiry is within half a TTL: every ~45 s, not every sweep (36)
    assert 3 <= len(renewed) <= 180 // (TTL / 2 - SWEEP) + 1
