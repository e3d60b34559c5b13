"""What reaches PostgreSQL, counted by PostgreSQL: only changes of the durable value, a
bounded number of them for a flapping user, and always the last state."""

from __future__ import annotations

import time

import anyio
import pytest

from tests.support.gateway_container import NO_GRACE
from tests.support.sql_world import META, sql_world, two_tab_cycle
from tests.support.write_counter import WriteCounter

pytestmark = pytest.mark.anyio


async def wait_until_stored(world, expected: dict[str, tuple[str, str | None]], timeout: float = 10.0) -> None:
    with anyio.fail_after(timeout):
        while True:
            if world.writer.pending == 0 and all([await world.stored(u) == e for u, e in expected.items()]):
                return
            await anyio.sleep(0.01)


async def test_a_second_tab_a_ping_and_a_repeated_status_write_nothing(postgres_engine) -> None:
    counter = await WriteCounter(postgres_engine).install()
    world = sql_world(postgres_engine, NO_GRACE)
    service, writer = world.service, world.writer

    async def rows_written_by(*steps) -> int:
        before = await counter.read()
        for step in steps:
            await step
        await writer.flush()
        return (await counter.read()).rows - before.rows

    assert await rows_written_by(service.connect("u1", "tab1", META)) == 1
    assert await rows_written_by(
        service.connect("u1", "tab2", META),
        service.heartbeat("u1", "tab1", META),
        service.heartbeat("u1", "tab2", META),
        service.choose("u1", "tab1", META, "ONLINE"),
    ) == 0
    assert await rows_written_by(service.choose("u1", "tab1", META, "DND")) == 1
    assert await rows_written_by(
        service.choose("u1", "tab2", META, "DND"),
        service.heartbeat("u1", "tab2", META),
        service.disconnect("u1", "tab2"),
    ) == 0
    assert await rows_written_by(service.disconnect("u1", "tab1")) == 1
    assert await world.stored("u1") == ("OFFLINE", "DND")


@pytest.mark.parametrize("pause", [0.01, 0.0], ids=["100-changes-a-second", "as-fast-as-it-can"])
async def test_a_flapping_user_costs_a_bounded_number_of_writes_and_the_last_state_lands(postgres_engine, pause) -> None:
    counter = await WriteCounter(postgres_engine).install()
    linger = 0.05
    world = sql_world(postgres_engine, NO_GRACE, linger=linger)
    changes = 0
    async with anyio.create_task_group() as tg:
        await tg.start(world.writer.run)
        started = time.monotonic()
        while changes < 101 or time.monotonic() - started < 0.5:
            if changes % 2 == 0:
                await world.service.connect("flapper", "tab", META)
            else:
                await world.service.disconnect("flapper", "tab")
            changes += 1
            await anyio.sleep(pause)  # the load itself (and a yield to the writer), not a wait
        if changes % 2 == 0:  # end connected: the last state is ONLINE
            await world.service.connect("flapper", "tab", META)
            changes += 1
        await wait_until_stored(world, {"flapper": ("ONLINE", None)})
        elapsed = time.monotonic() - started
        tg.cancel_scope.cancel()

    writes = await counter.read()
    # The writer sleeps ``linger`` before each batch, so it cannot write more often than
    # once per linger, however fast the user flaps.
    bound = int(elapsed / linger) + 1
    print(f"\n{changes} changes, stored after {elapsed:.2f}s: {writes.rows} rows, {writes.statements} statements (bound {bound})")
    assert 1 <= writes.rows <= bound


async def test_a_two_tab_visit_costs_two_rows_when_nothing_coalesces(postgres_engine) -> None:
    counter = await WriteCounter(postgres_engine).install()
    world = sql_world(postgres_engine, NO_GRACE)
    for cycle in range(20):
        # Every step's write lands before the next step: nothing left to coalesce.
        await two_tab_cycle(world.service, f"user-{cycle % 5}", settle=world.writer.flush)

    writes = await counter.read()
    # ONLINE when the first tab opens, OFFLINE when the last closes; the rest writes nothing.
    assert (writes.rows, writes.statements) == (40, 40)


async def test_1000_two_tab_cycles_of_100_users(postgres_engine) -> None:
    counter = await WriteCounter(postgres_engine).install()
    world = sql_world(postgres_engine, NO_GRACE)
    users = [f"user-{n}" for n in range(100)]
    async with anyio.create_task_group() as tg:
        await tg.start(world.writer.run)
        started = time.monotonic()
        for cycle in range(1000):
            await two_tab_cycle(world.service, users[cycle % len(users)])
            await anyio.sleep(0)
        await wait_until_stored(world, {user: ("OFFLINE", None) for user in users})
        elapsed = time.monotonic() - started
        tg.cancel_scope.cancel()

    writes = await counter.read()
    print(f"\n1000 two-tab cycles of 100 users in {elapsed:.2f}s: {writes.rows} rows "
          f"({writes.inserted} inserted, {writes.updated} updated) in {writes.statements} statements")
    assert writes.rows <= 2000
    assert writes.inserted == len(users)
