"""A flapping user is written at most once per linger, even while writes are slow: records
that arrive during a write wait to coalesce like the first ones did."""

from __future__ import annotations

import time

import anyio
import pytest

from presence_gateway.domain.presence import DurableStatus
from presence_gateway.service_layer.durable_writer import DurableWriter
from tests.memory_status_repository import InMemoryStatusRepository

pytestmark = pytest.mark.anyio


class SlowRepository(InMemoryStatusRepository):
    """Every write takes a round trip's time, during which more records arrive."""

    async def save_many(self, records) -> None:
        await anyio.sleep(0.005)
        await super().save_many(records)


async def test_a_user_flapping_during_slow_writes_is_written_once_per_linger() -> None:
    repository = SlowRepository()
    linger = 0.02
    writer = DurableWriter(repository, linger=linger)
    async with anyio.create_task_group() as tg:
        await tg.start(writer.run)
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < 0.2:
            n += 1
            writer.submit(DurableStatus("u1", "ONLINE" if n % 2 else "OFFLINE", None, float(n), float(n)))
            await anyio.sleep(0)  # the flapping itself, yielding to the writer
        with anyio.fail_after(5):  # the last state lands
            while writer.pending or repository.records.get("u1") is None or repository.records["u1"].at != n:
                await anyio.sleep(0.005)
        elapsed = time.monotonic() - started
        tg.cancel_scope.cancel()

    assert repository.writes <= int(elapsed / linger) + 1
