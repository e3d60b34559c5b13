"""Restoring an instance's sessions after the shared store lost everything (Redis
restarted empty): presence comes back whole, nobody is told of a change that never
happened, and what the loss swallowed is still announced (fake clock, in-process store)."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import pytest

from presence_gateway.adapters.memory.presence_store import InMemoryPresenceStore
from presence_gateway.domain.errors import Unavailable
from presence_gateway.domain.presence import Choice, UserState
from presence_gateway.entrypoints.wiring.containers import layer_of
from presence_gateway.service_layer.restore import RestoreRequests, SessionRestorer, keep_sessions_restored
from tests.fakes import FakeClock, RecordingBroadcaster, TableTokenVerifier
from tests.memory_status_repository import InMemoryStatusRepository
from tests.support.gateway_container import NO_GRACE, gateway_container
from tests.unit.conftest import META
from tests.unit.conftest import World as UnitWorld

pytestmark = pytest.mark.anyio

TTL = 90.0


class LosableStore:
    """An in-process store that can lose everything, as Redis restarted without
    persistence does, or refuse every call while ``down``; ``restoring`` holds a restore
    back until it is set."""

    def __init__(self) -> None:
        self.current = InMemoryPresenceStore()
        self.down = False
        self.restoring: anyio.Event | None = None

    def lose(self) -> None:
        self.current = InMemoryPresenceStore()

    async def restore_sessions(self, sessions):
        if self.restoring is not None:
            await self.restoring.wait()
        return await self.current.restore_sessions(sessions)

    def __getattr__(self, name: str):
        if self.down:
            async def refuse(*_, **__):
                raise Unavailable("presence store unavailable")

            return refuse
        return getattr(self.current, name)


@dataclass(kw_only=True)
class World(UnitWorld[LosableStore]):
    """The unit tests' world, its store one that can lose everything, plus the restorer."""

    restorer: SessionRestorer
    requests: RestoreRequests

    def told(self) -> list[tuple[str, str]]:
        return [(c.user_id, c.status) for c in self.broadcaster.changes]


@pytest.fixture
async def world() -> World:
    """Wired as with Redis (the use cases' store records what a restore needs); the Redis
    store itself is replaced by one that can lose everything, so nothing connects."""
    clock, repository, broadcaster, store = FakeClock(), InMemoryStatusRepository(), RecordingBroadcaster(), LosableStore()
    container = gateway_container(
        {"REDIS_URL": "redis://127.0.0.1:1/0", "PRESENCE_SESSION_TTL": str(TTL), **NO_GRACE},
        clock=clock,
        status_repository=repository,
        broadcaster=broadcaster,
        token_verifier=TableTokenVerifier(),
        presence_store=store,
    )
    service, restorer = container.presence_service(), layer_of(container, "session_restorer")()
    await restorer.mark()
    await service.seed_remembered_choices()  # as the warm-up does at start
    return World(
        service=service, store=store, repository=repository, writer=container.durable_writer(),
        broadcaster=broadcaster, clock=clock, restorer=restorer, requests=layer_of(container, "restore_requests")(),
    )


async def test_sessions_and_choices_come_back_and_nobody_is_told(world: World) -> None:
    await world.service.connect("dnd", "d1", META)
    await world.service.choose("dnd", "d1", META, "DND")
    await world.service.connect("hidden", "h1", META)
    await world.service.choose("hidden", "h1", META, "OFFLINE")  # appear offline, this visit only
    await world.service.connect("two", "t1", META)
    await world.service.connect("two", "t2", META)
    users = ("dnd", "hidden", "two")
    before = [(await world.store.states([user]))[0] for user in users]
    told = world.told()

    world.store.lose()

    async def restore() -> None:
        assert await world.restorer.restore_if_lost() == 4

    assert await world.writes_after(restore) == 0
    assert world.told() == told
    assert [(await world.store.states([user]))[0] for user in users] == before
    assert before[1] == UserState(1, Choice("OFFLINE", False), True)
    assert await world.restorer.restore_if_lost() is None  # nothing lost since


async def test_a_silent_session_expires_when_it_was_due_not_a_ttl_after_the_restore(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    world.clock.advance(80)
    world.store.lose()
    await world.restorer.restore_if_lost()

    world.clock.advance(10)
    await world.service.sweep()

    assert world.told() == [("u1", "ONLINE"), ("u1", "OFFLINE")]


async def test_a_tab_closed_during_the_outage_is_announced_once_restored(world: World) -> None:
    await world.service.connect("gone", "g1", META)
    await world.service.connect("stays", "s1", META)
    await world.service.connect("stays", "s2", META)
    world.store.down = True
    for user, session in (("gone", "g1"), ("stays", "s1")):
        with pytest.raises(Unavailable):
            await world.service.disconnect(user, session)
    world.store.down = False
    world.store.lose()

    await world.restorer.restore_if_lost()

    assert world.told() == [("gone", "ONLINE"), ("stays", "ONLINE"), ("gone", "OFFLINE")]
    assert (await world.store.states(["stays"]))[0] == UserState(1, None, True)
    await world.writer.flush()
    assert world.repository.records["gone"].status == "OFFLINE"


async def test_a_tab_closed_during_an_outage_that_lost_nothing_is_ended_once_the_store_is_back(
    world: World,
) -> None:
    await world.service.connect("u1", "s1", META)
    world.store.down = True
    with pytest.raises(Unavailable):
        await world.service.disconnect("u1", "s1")
    world.store.down = False

    assert await world.restorer.restore_if_lost() is None  # checked when the store came back

    assert world.told() == [("u1", "ONLINE"), ("u1", "OFFLINE")]
    assert (await world.store.states(["u1"]))[0] == UserState(0, None, True)


async def test_a_tab_closed_after_the_loss_asks_for_a_check_and_is_announced_once_restored(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    world.store.lose()

    await world.service.disconnect("u1", "s1")  # the store had nothing left to end
    with anyio.fail_after(1):
        await world.requests.wait()
    await world.restorer.restore_if_lost()

    assert world.told() == [("u1", "ONLINE"), ("u1", "OFFLINE")]


async def test_an_offline_grace_the_loss_swallowed_still_ends_in_offline(world: World) -> None:
    world.service.offline_grace = 5.0
    await world.service.connect("u1", "s1", META)
    await world.service.disconnect("u1", "s1")  # last tab: OFFLINE waits for the grace
    world.store.lose()

    await world.restorer.restore_if_lost()
    world.clock.advance(5.0)
    await world.service.sweep()

    assert world.told() == [("u1", "ONLINE"), ("u1", "OFFLINE")]


async def test_a_grace_that_ran_out_is_not_restored(world: World) -> None:
    world.service.offline_grace = 5.0
    await world.service.connect("u1", "s1", META)
    await world.service.disconnect("u1", "s1")
    world.clock.advance(5.0)
    await world.service.sweep()
    world.store.lose()

    await world.restorer.restore_if_lost()
    await world.service.sweep()

    assert world.told() == [("u1", "ONLINE"), ("u1", "OFFLINE")]
    assert (await world.store.states(["u1"]))[0] == UserState(0, None, False)


async def test_a_tab_closing_while_sessions_are_restored_is_not_undone(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    world.store.lose()
    world.store.restoring = anyio.Event()

    async with anyio.create_task_group() as tg:
        tg.start_soon(world.restorer.restore_if_lost)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(world.service.disconnect, "u1", "s1")
        await anyio.wait_all_tasks_blocked()
        world.store.restoring.set()

    assert (await world.store.states(["u1"]))[0] == UserState(0, None, True)
    assert world.told() == [("u1", "ONLINE"), ("u1", "OFFLINE")]


async def test_the_time_a_restore_took_is_read_from_the_clock(world: World) -> None:
    """The metrics' restore seconds: the port's time, which the fake moves while the store
    takes its time putting the sessions back."""
    await world.service.connect("u1", "s1", META)
    world.store.lose()
    world.store.restoring = anyio.Event()

    async with anyio.create_task_group() as tg:
        tg.start_soon(world.restorer.restore_if_lost)
        await anyio.wait_all_tasks_blocked()
        world.clock.advance(2.5)
        world.store.restoring.set()

    assert (world.restorer.restores, world.restorer.restore_seconds) == (1, 2.5)


async def test_remembered_choices_of_users_nobody_holds_are_copied_in_again(world: World) -> None:
    await world.service.connect("away", "a1", META)
    await world.service.choose("away", "a1", META, "INVISIBLE")
    await world.service.disconnect("away", "a1")
    await world.writer.flush()
    world.store.lose()

    await world.restorer.restore_if_lost()
    await world.restorer.seed()

    assert (await world.store.states(["away"]))[0] == UserState(0, Choice("INVISIBLE", True), True)


async def test_the_loop_restores_when_asked(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    async with anyio.create_task_group() as tg:
        await tg.start(keep_sessions_restored, world.restorer, world.requests)
        world.store.lose()
        world.requests.request()
        with anyio.fail_after(5):
            while ((await world.store.states(["u1"]))[0]).sessions != 1:
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert world.told() == [("u1", "ONLINE")]
