"""The migrations own the durable table, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from presence_gateway.adapters.sql import migrate
from presence_gateway.adapters.sql.engine import create_engine, sqlite_url
from presence_gateway.adapters.sql.schema import metadata, user_presence
from presence_gateway.adapters.sql.status_repository import SqlStatusRepository
from presence_gateway.domain.presence import DurableStatus
from presence_gateway.domain.rich_presence import CustomStatus
from tests.support.postgres_server import IsolatedSchema

pytestmark = pytest.mark.anyio

RECORD = DurableStatus("u1", "OFFLINE", "DND", 1_800_000_000.5, 1_800_000_000.5)


@pytest.fixture
async def sqlite_engine(tmp_path: Path):
    engine = create_engine(sqlite_url(tmp_path / "presence.sqlite3"))
    yield engine
    await engine.dispose()


@pytest.fixture
async def postgres_engine(postgres_url: str):
    async with IsolatedSchema(postgres_url) as schema:
        engine = create_engine(postgres_url, schema=schema)
        yield engine
        await engine.dispose()


@pytest.fixture(params=["sqlite_engine", "postgres_engine"])
def empty_database(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


async def tables(engine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_upgrade_from_empty_downgrade_and_upgrade_again(empty_database) -> None:
    assert (await migrate.revision(empty_database)).current is None

    await migrate.upgrade(empty_database)
    assert (await migrate.revision(empty_database)).up_to_date
    assert "user_presence" in await tables(empty_database)

    await migrate.downgrade(empty_database, "base")
    assert (await migrate.revision(empty_database)).current is None
    assert "user_presence" not in await tables(empty_database)

    await migrate.upgrade(empty_database)
    repository = SqlStatusRepository(empty_database)
    await repository.save_many([RECORD])
    assert await repository.get("u1") == RECORD


async def test_the_contacts_table_comes_and_goes_with_its_own_revision(empty_database) -> None:
    await migrate.upgrade(empty_database, "0001")
    assert "presence_contacts" not in await tables(empty_database)

    await migrate.upgrade(empty_database)
    assert {"user_presence", "presence_contacts"} <= await tables(empty_database)
    await SqlStatusRepository(empty_database).save_many([RECORD])

    await migrate.downgrade(empty_database, "0001")
    assert "presence_contacts" not in await tables(empty_database)
    async with empty_database.connect() as connection:
        row = (await connection.execute(text("SELECT status, chosen_status FROM user_presence"))).one()
    assert tuple(row) == ("OFFLINE", "DND")


async def test_rows_from_before_the_custom_status_read_as_none_and_take_one(empty_database) -> None:
    await migrate.upgrade(empty_database, "0002")
    async with empty_database.begin() as connection:
        await connection.execute(
            text("INSERT INTO user_presence (user_id, status, chosen_status, updated_at) VALUES ('u1', 'OFFLINE', 'DND', :at)"),
            {"at": datetime.fromtimestamp(RECORD.at, UTC)},
        )

    await migrate.upgrade(empty_database)

    repository = SqlStatusRepository(empty_database)
    old = await repository.get("u1")
    assert old is not None and (old.chosen, old.custom) == ("DND", None)
    custom = CustomStatus("lunch", "🍜", 1_800_003_600.0)
    await repository.save_many([replace(RECORD, at=RECORD.at + 1, custom=custom, custom_known=True)])
    new = await repository.get("u1")
    assert new is not None and new.custom == custom


async def test_the_migrated_table_is_the_one_the_code_queries(empty_database) -> None:
    await migrate.upgrade(empty_database)

    async with empty_database.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"version_table": migrate.VERSION_TABLE}), metadata
            )
        )
    assert differences == []


async def test_a_table_from_before_migrations_is_adopted_with_its_rows(empty_database) -> None:
    async with empty_database.begin() as connection:
        await connection.run_sync(user_presence.create)  # all those gateways had
    await SqlStatusRepository(empty_database).save_many([RECORD])

    await migrate.upgrade(empty_database)

    assert (await migrate.revision(empty_database)).up_to_date
    assert await SqlStatusRepository(empty_database).get("u1") == RECORD


async def test_the_chat_backends_own_alembic_history_is_left_alone(empty_database) -> None:
    async with empty_database.begin() as connection:
        await connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        await connection.execute(text("INSERT INTO alembic_version VALUES ('their_head')"))

    await migrate.upgrade(empty_database)
    await migrate.downgrade(empty_database, "base")

    async with empty_database.connect() as connection:
        assert (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one() == "their_head"


async def test_check_only_refuses_a_schema_that_is_behind_and_says_what_to_run(empty_database) -> None:
    with pytest.raises(migrate.DatabaseNotReady, match="presence-gateway db upgrade"):
        await migrate.prepare(empty_database, may_upgrade=False, where="under test")
    assert "user_presence" not in await tables(empty_database)

    before, after = await migrate.prepare(empty_database, may_upgrade=True, where="under test")
    assert (before.current, after.up_to_date) == (None, True)

    before, after = await migrate.prepare(empty_database, may_upgrade=False, where="under test")
    assert before.up_to_date and after.up_to_date


async def test_a_schema_newer_than_this_gateway_is_never_touched(empty_database) -> None:
    await migrate.upgrade(empty_database)
    async with empty_database.begin() as connection:
        await connection.execute(text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = 'from_the_future'"))

    for may_upgrade in (False, True):
        with pytest.raises(migrate.DatabaseNotReady, match="from_the_future") as refused:
            await migrate.prepare(empty_database, may_upgrade=may_upgrade, where="under test")
        assert "db upgrade" not in str(refused.value)
    assert (await migrate.revision(empty_database)).current == "from_the_future"


async def test_instances_starting_together_upgrade_postgresql_once(postgres_engine) -> None:
    await asyncio.gather(*(migrate.prepare(postgres_engine, may_upgrade=True, where="under test") for _ in range(4)))

    assert (await migrate.revision(postgres_engine)).up_to_date
    async with postgres_engine.connect() as connection:
        assert (await connection.execute(text(f"SELECT count(*) FROM {migrate.VERSION_TABLE}"))).scalar_one() == 1
