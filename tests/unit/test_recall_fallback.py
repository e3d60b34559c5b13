"""A first connect asks the database what the user chose; a database that is down or
slow must not fail or stall that connect."""

from __future__ import annotations

import anyio
import pytest

from presence_gateway.domain.presence import DurableStatus
from tests.memory_status_repository import InMemoryStatusRepository
from tests.support.gateway_container import NO_GRACE
from tests.unit.conftest import META, build_world

pytestmark = pytest.mark.anyio


class UnreachableRepository(InMemoryStatusRepository):
    async def get(self, user_id: str):
        raise ConnectionError("database unavailable")


class StalledRepository(InMemoryStatusRepository):
    async def get(self, user_id: str):
        await anyio.sleep_forever()


async def test_a_database_that_is_down_connects_the_user_without_a_remembered_choice(caplog) -> None:
    world = build_world(UnreachableRepository())

    status = (await world.service.connect("u1", "s1", META)).status

    assert status == "ONLINE"
    assert world.broadcaster.seen_by_others("u1") == ["ONLINE"]
    assert "remembered status of user u1 not read" in caplog.text


async def test_a_stalled_database_delays_a_connect_by_the_recall_timeout_at_most(caplog) -> None:
    world = build_world(StalledRepository())
    world.service.recall_timeout = 0.05

    with anyio.fail_after(5):
        status = (await world.service.connect("u1", "s1", META)).status

    assert status == "ONLINE"
    assert "not read within 0.05s" in caplog.text


async def test_a_database_that_answers_still_brings_the_choice_back() -> None:
    repository = InMemoryStatusRepository()
    await repository.save_many([DurableStatus("u1", "OFFLINE", "DND", 1.0, 1.0)])
    world = build_world(repository)

    assert (await world.service.connect("u1", "s1", META)).status == "DND"


class FlakyReads(InMemoryStatusRepository):
    """Reads fail while ``down``; writes still land (they are queued and retried anyway)."""

    down = True

    async def get(self, user_id: str):
        if self.down:
            raise ConnectionError("database unavailable")
        return await super().get(user_id)


async def test_a_choice_that_could_not_be_read_is_not_erased_and_comes_back_later() -> None:
    repository = FlakyReads()
    await repository.save_many([DurableStatus("u1", "OFFLINE", "DND", 1.0, 1.0)])
    world = build_world(repository, env=NO_GRACE)  # the OFFLINE is written at the disconnect

    assert (await world.service.connect("u1", "s1", META)).status == "ONLINE"
    await world.service.disconnect("u1", "s1")
    await world.writer.flush()
    stored = repository.records["u1"]
    assert (stored.status, stored.chosen) == ("OFFLINE", "DND")

    repository.down = False
    assert (await world.service.connect("u1", "s2", META)).status == "DND"
