"""When an instance may judge another dead: a lease lapsed alone means its holder died; all
leases lapsed together (this instance's own too) mean the store forgot them — a failover to
a replica that missed the last renewals — and nobody is judged until each instance has had
a whole TTL to renew (fake clock)."""

from __future__ import annotations

import pytest

from presence_gateway.service_layer.use_cases import PresenceService
from tests.fakes import FakeClock, RecordingBroadcaster, TableTokenVerifier
from tests.memory_status_repository import InMemoryStatusRepository
from tests.support.gateway_container import gateway_container

pytestmark = pytest.mark.anyio

TTL = 10.0


class SharedLeases:
    """The store's lease registry as the instances share it: instance -> expiry."""

    def __init__(self) -> None:
        self.expiries: dict[str, float] = {}

    def forget_renewals_since(self, moment: float, ttl: float) -> None:
        """A failover to a replica that last heard of every lease at ``moment``."""
        self.expiries = {instance: moment + ttl for instance in self.expiries}


class LeasesOf:
    """One instance's view (the InstanceLeases role) of the shared registry."""

    def __init__(self, shared: SharedLeases, instance: str) -> None:
        self.shared = shared
        self.instance = instance

    async def renew_lease(self, now: float, ttl: float) -> bool:
        held = self.shared.expiries.get(self.instance, float("-inf")) > now
        self.shared.expiries[self.instance] = now + ttl
        return held

    async def release_lease(self) -> None:
        self.shared.expiries.pop(self.instance, None)

    async def claim_dead_instances(self, now: float) -> list[str]:
        dead = [i for i, expiry in self.shared.expiries.items() if expiry <= now and i != self.instance]
        for instance in dead:
            del self.shared.expiries[instance]
        return dead


def instance(shared: SharedLeases, name: str, clock: FakeClock) -> PresenceService:
    container = gateway_container(
        clock=clock,
        status_repository=InMemoryStatusRepository(),
        broadcaster=RecordingBroadcaster(),
        token_verifier=TableTokenVerifier(),
        instance_leases=LeasesOf(shared, name),
    )
    return container.presence_service()


async def live(clock: FakeClock, seconds: float, *alive: PresenceService) -> None:
    """``seconds`` pass while the ``alive`` instances renew every third of a TTL, as
    their lease loops do."""
    step = TTL / 3
    while seconds > 0:
        clock.advance(min(step, seconds))
        seconds -= step
        for service in alive:
            await service.renew_lease(TTL)


async def running(shared: SharedLeases, clock: FakeClock, *names: str) -> list[PresenceService]:
    """Instances that took their leases and have renewed them for a third of a TTL."""
    services = [instance(shared, name, clock) for name in names]
    for service in services:
        await service.renew_lease(TTL)
    await live(clock, TTL / 3, *services)
    return services


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def shared() -> SharedLeases:
    return SharedLeases()


async def test_an_instance_whose_lease_lapsed_alone_is_taken_over(shared: SharedLeases, clock: FakeClock) -> None:
    a, b = await running(shared, clock, "a", "b")
    await live(clock, TTL + 1, a)  # b is killed: it renews no more
    assert await a.take_over_dead_instances() == {"b": 0}


async def test_after_its_own_lease_lapsed_an_instance_judges_nobody_for_a_ttl(
    shared: SharedLeases, clock: FakeClock
) -> None:
    a, b = await running(shared, clock, "a", "b")
    shared.forget_renewals_since(clock.now() - 2 * TTL, TTL)  # every lease looks lapsed
    # a's lease loop finds its own lease lapsed; a looks for the dead before b renews.
    assert not await a.renew_lease(TTL)
    assert await a.take_over_dead_instances() == {}
    await live(clock, TTL / 3, a, b)  # b is alive and renews within a third of a TTL
    assert await a.take_over_dead_instances() == {}
    await live(clock, TTL, a, b)
    assert await a.take_over_dead_instances() == {}
    await live(clock, TTL + 1, a)  # now b stops renewing: it is judged once its lease lapses
    assert await a.take_over_dead_instances() == {"b": 0}


async def test_the_first_renewal_holds_no_judgement_back(shared: SharedLeases, clock: FakeClock) -> None:
    """A fresh instance finds no lease of its own: that is no lapse, and a dead peer is
    taken over at once."""
    b = instance(shared, "b", clock)
    await b.renew_lease(TTL)
    await live(clock, TTL + 1)  # b died
    a = instance(shared, "a", clock)
    assert not await a.renew_lease(TTL)
    assert await a.take_over_dead_instances() == {"b": 0}


async def test_an_instance_that_looks_before_renewing_checks_its_own_lease_first(
    shared: SharedLeases, clock: FakeClock
) -> None:
    a, b = await running(shared, clock, "a", "b")
    shared.forget_renewals_since(clock.now() - 2 * TTL, TTL)
    # a's look for the dead comes before its lease loop's next renewal.
    assert await a.take_over_dead_instances() == {}
    await live(clock, TTL / 3, a, b)
    assert await a.take_over_dead_instances() == {}
    assert set(shared.expiries) == {"a", "b"}


async def test_an_instance_leaving_neither_judges_nor_takes_its_lease_again(
    shared: SharedLeases, clock: FakeClock
) -> None:
    a, _ = await running(shared, clock, "a", "b")
    await live(clock, TTL + 1, a)  # b died
    a.draining = True  # shutting down: its sessions ended, its lease released
    await a.release_lease()
    assert await a.take_over_dead_instances() == {}
    assert "a" not in shared.expiries
