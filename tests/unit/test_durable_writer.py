"""Write-behind: coalesced per user, ordered, batched, and kept through an outage."""

from __future__ import annotations

from collections.abc import Iterable

import anyio
import pytest

from presence_gateway.domain.presence import DurableStatus
from presence_gateway.service_layer.durable_writer import DurableWriter
from tests.fakes import FlakyRepository, known
from tests.memory_status_repository import InMemoryStatusRepository

pytestmark = pytest.mark.anyio


def record(user: str, status: str, at: float, last_seen: float | None = None, chosen: str | None = None) -> DurableStatus:
    return DurableStatus(user, status, chosen, last_seen, at)


async def wait_until(condition, timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.001)


async def test_a_flapping_user_costs_one_write_with_the_last_state() -> None:
    repository = InMemoryStatusRepository()
    writer = DurableWriter(repository)
    for n in range(100):
        writer.submit(record("u1", "ONLINE" if n % 2 else "OFFLINE", at=float(n), last_seen=float(n)))

    await writer.flush()

    assert repository.writes == 1
    assert known(await repository.get("u1")).status == "ONLINE"


async def test_an_older_record_never_replaces_a_newer_one() -> None:
    repository = InMemoryStatusRepository()
    writer = DurableWriter(repository)
    writer.submit(record("u1", "ONLINE", at=20.0))
    writer.submit(record("u1", "OFFLINE", at=10.0))
    await writer.flush()
    writer.submit(record("u1", "OFFLINE", at=15.0))
    await writer.flush()

    assert known(await repository.get("u1")).status == "ONLINE"


async def test_a_coalesced_record_keeps_the_last_seen_of_the_one_it_replaced() -> None:
    repository = InMemoryStatusRepository()
    writer = DurableWriter(repository)
    writer.submit(record("u1", "OFFLINE", at=1.0, last_seen=1.0))
    writer.submit(record("u1", "OFFLINE", at=2.0, last_seen=None, chosen="INVISIBLE"))
    await writer.flush()

    stored = known(await repository.get("u1"))
    assert (stored.chosen, stored.last_seen) == ("INVISIBLE", 1.0)


async def test_reads_see_queued_writes() -> None:
    writer = DurableWriter(InMemoryStatusRepository())
    writer.submit(record("u1", "DND", at=1.0, chosen="DND"))

    assert known(await writer.get("u1")).chosen == "DND"


class CountingRepository(InMemoryStatusRepository):
    """Keeps how many records each write carried."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    async def save_many(self, records: Iterable[DurableStatus]) -> None:
        records = list(records)
        self.calls.append(len(records))
        await super().save_many(records)


async def test_writes_are_batched() -> None:
    repository = CountingRepository()
    writer = DurableWriter(repository, batch_size=100)
    for n in range(250):
        writer.submit(record(f"u{n}", "ONLINE", at=1.0))
    await writer.flush()

    assert repository.calls == [100, 100, 50]


async def test_an_outage_queues_the_newest_state_and_writes_it_when_the_database_returns() -> None:
    flaky = FlakyRepository(InMemoryStatusRepository())
    writer = DurableWriter(flaky, linger=0, retry_initial=0.001, retry_max=0.01)
    async with anyio.create_task_group() as tg:
        await tg.start(writer.run)
        flaky.down = True
        writer.submit(record("u1", "ONLINE", at=1.0))
        await wait_until(lambda: flaky.refused >= 2)
        assert not writer.available
        writer.submit(record("u1", "DND", at=2.0, chosen="DND"))
        writer.submit(record("u2", "ONLINE", at=3.0))

        flaky.down = False
        await wait_until(lambda: writer.pending == 0 and writer.available)
        tg.cancel_scope.cancel()

    assert known(await flaky.inner.get("u1")).status == "DND"
    assert known(await flaky.inner.get("u2")).status == "ONLINE"


async def test_flush_raises_and_keeps_the_records_when_the_database_is_down() -> None:
    flaky = FlakyRepository(InMemoryStatusRepository())
    writer = DurableWriter(flaky)
    flaky.down = True
    writer.submit(record("u1", "ONLINE", at=1.0))

    with pytest.raises(ConnectionError):
        await writer.flush()

    assert writer.pending == 1
