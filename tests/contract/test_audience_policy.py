"""The AudiencePolicy contract: every adapter answers with the subset of the targets the
viewer may watch; ``contacts`` reads the pairs the chat backend wrote into
``presence_contacts``, on SQLite and PostgreSQL alike, and the unit tests' contacts fake
keeps them in a set and is held to the same answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert

from presence_gateway.adapters.open_policy import OpenAudience
from presence_gateway.adapters.sql import migrate
from presence_gateway.adapters.sql.contacts_policy import SqlContactsAudience
from presence_gateway.adapters.sql.engine import create_engine, sqlite_url
from presence_gateway.adapters.sql.schema import presence_contacts
from presence_gateway.domain.errors import Unavailable
from tests.e2e.gateway_process import free_port
from tests.fakes import ContactsAudience
from tests.support.postgres_server import IsolatedSchema

pytestmark = pytest.mark.anyio

PAIRS = [("alice", "bob"), ("alice", "carol"), ("bob", "alice"), ("dave", "alice")]


class Contacts:
    """A contacts policy and the table behind it, filled as a chat backend would."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.policy = SqlContactsAudience(engine)

    async def add(self, pairs) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(presence_contacts), [{"viewer_id": v, "target_id": t} for v, t in pairs])


@pytest.fixture
async def sqlite_contacts(tmp_path: Path):
    engine = create_engine(sqlite_url(tmp_path / "presence.sqlite3"))
    await migrate.upgrade(engine)
    contacts = Contacts(engine)
    await contacts.add(PAIRS)
    yield contacts
    await engine.dispose()


@pytest.fixture
async def postgres_contacts(postgres_url: str):
    async with IsolatedSchema(postgres_url) as schema:
        engine = create_engine(postgres_url, schema=schema)
        await migrate.upgrade(engine)
        contacts = Contacts(engine)
        await contacts.add(PAIRS)
        yield contacts
        await engine.dispose()


class FakeContacts:
    """The unit tests' contacts policy, filled the same way."""

    def __init__(self) -> None:
        self.policy = ContactsAudience(*PAIRS)

    async def add(self, pairs) -> None:
        self.policy.pairs.update(pairs)


@pytest.fixture
def fake_contacts() -> FakeContacts:
    return FakeContacts()


@pytest.fixture
def open_policy():
    return OpenAudience()


@pytest.fixture(params=["sqlite_contacts", "postgres_contacts", "fake_contacts"])
def contacts(request: pytest.FixtureRequest) -> Contacts | FakeContacts:
    return request.getfixturevalue(request.param)


@pytest.fixture(params=["open_policy", "sqlite_contacts", "postgres_contacts", "fake_contacts"])
def audience_policy(request: pytest.FixtureRequest):
    adapter = request.getfixturevalue(request.param)
    return adapter.policy if isinstance(adapter, (Contacts, FakeContacts)) else adapter


# ---------------------------------------------------------------- every adapter


async def test_the_answer_is_a_subset_of_the_targets(audience_policy) -> None:
    allowed = await audience_policy.allowed("alice", ["bob", "zed", "carol"])

    assert allowed <= {"bob", "zed", "carol"}
    assert {"bob", "carol"} <= allowed  # alice's contacts, whichever the policy


async def test_no_targets_is_an_empty_answer(audience_policy) -> None:
    assert await audience_policy.allowed("alice", []) == set()


async def test_a_thousand_targets_in_one_call(audience_policy) -> None:
    targets = [f"u{n}" for n in range(1500)] + ["bob"]

    allowed = await audience_policy.allowed("alice", targets)

    assert "bob" in allowed and allowed <= set(targets)


# ---------------------------------------------------------------- open


async def test_open_lets_anyone_watch_anyone(open_policy) -> None:
    assert await open_policy.allowed("zed", ["alice", "bob"]) == {"alice", "bob"}


# ---------------------------------------------------------------- contacts


async def test_contacts_allow_exactly_the_written_pairs(contacts) -> None:
    assert await contacts.policy.allowed("alice", ["bob", "carol", "dave", "erin"]) == {"bob", "carol"}
    assert await contacts.policy.allowed("erin", ["alice", "bob"]) == set()


async def test_a_contact_goes_one_way(contacts) -> None:
    assert await contacts.policy.allowed("dave", ["alice"]) == {"alice"}
    assert await contacts.policy.allowed("alice", ["dave"]) == set()


async def test_pairs_the_backend_adds_count_at_once(contacts) -> None:
    await contacts.add([("erin", "alice")])

    assert await contacts.policy.allowed("erin", ["alice"]) == {"alice"}


async def test_contacts_past_one_statement_are_all_found(contacts) -> None:
    await contacts.add([("frank", f"u{n}") for n in range(0, 2500, 5)])

    allowed = await contacts.policy.allowed("frank", [f"u{n}" for n in range(2500)])

    assert allowed == {f"u{n}" for n in range(0, 2500, 5)}


@pytest.fixture(params=["sql-unreachable", "fake-down"])
async def unreadable_contacts(request: pytest.FixtureRequest):
    """Contacts whose table cannot be read: no database listens, or the fake is down."""
    if request.param == "fake-down":
        fake = ContactsAudience(*PAIRS)
        fake.down = True
        yield fake
        return
    engine = create_engine(f"postgresql://presence@127.0.0.1:{free_port()}/presence")  # nothing listens there
    yield SqlContactsAudience(engine)
    await engine.dispose()


async def test_contacts_that_cannot_be_read_are_unavailable(unreadable_contacts) -> None:
    with pytest.raises(Unavailable):
        await unreadable_contacts.allowed("alice", ["bob"])
