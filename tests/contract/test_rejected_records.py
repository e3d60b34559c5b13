"""A record the database refuses for its content stops no one: the writer sets it aside
and writes every other record of the batch (real SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from presence_gateway.domain.errors import RecordRejected
from presence_gateway.domain.presence import DurableStatus
from presence_gateway.service_layer.durable_writer import DurableWriter

pytestmark = pytest.mark.anyio

# A lone surrogate (JSON's "\ud800" decodes to one) no driver can encode; a NUL byte
# PostgreSQL's text cannot hold (SQLite stores it).
REFUSED_BY = {
    "sqlite_repository": ["\ud800"],
    "postgres_repository": ["\ud800", "nul\x00user"],
}


@pytest.fixture(params=sorted(REFUSED_BY))
def sql_repository(request: pytest.FixtureRequest):
    return request.param, request.getfixturevalue(request.param)


def online(user: str, at: float) -> DurableStatus:
    return DurableStatus(user, "ONLINE", None, None, at)


async def test_a_refused_value_is_raised_as_a_rejection_not_an_outage(sql_repository) -> None:
    name, repository = sql_repository
    for bad in REFUSED_BY[name]:
        with pytest.raises(RecordRejected):
            await repository.save_many([online(bad, 1.0)])


async def test_one_refused_record_is_set_aside_and_the_rest_of_its_batch_is_written(sql_repository) -> None:
    name, repository = sql_repository
    writer = DurableWriter(repository, batch_size=500)
    bad_ids = REFUSED_BY[name]
    for n in range(30):
        writer.submit(online(f"u{n}", 10.0 + n))
    for bad in bad_ids:
        writer.submit(online(bad, 5.0))

    await writer.flush()

    assert writer.pending == 0
    assert writer.rejected == len(bad_ids)
    assert writer.written == 30
    stored = await repository.get_many([f"u{n}" for n in range(30)])
    assert len(stored) == 30
    # and the writer goes on writing
    writer.submit(online("after", 50.0))
    await writer.flush()
    assert (await repository.get("after")).status == "ONLINE"
