"""The ChangeStream and DeliveryLog contract, over a Redis Stream and the embedded
database: every change others can see kept in order with its seq, read after an id, and
a consumer group that resumes where it stopped, with no gap and nothing acknowledged twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from presence_gateway.adapters.redis.change_stream import RedisChangeStream, RedisDeliveryLog
from presence_gateway.adapters.redis.client import create_redis
from presence_gateway.adapters.redis.pipelined import PipelinedRedis
from presence_gateway.adapters.sql import migrate
from presence_gateway.adapters.sql.change_stream import SqlChangeStream, SqlDeliveryLog
from presence_gateway.adapters.sql.engine import create_engine, sqlite_url
from presence_gateway.domain.presence import PresenceChanged
from presence_gateway.domain.rich_presence import CustomStatus
from tests.fakes import FakeClock

pytestmark = pytest.mark.anyio
KEY = "presence:changes"


@dataclass
class World:
    """A stream, a way to open its consumer group again (a gateway restarted), and a wait
    until what was appended is in the store (on Redis the XADDs are not awaited)."""

    stream: Any
    open_log: Any
    written: Any = None


def change(user: str, seq: int, status: str = "ONLINE", previous: str = "OFFLINE", **more: Any) -> PresenceChanged:
    return PresenceChanged(
        user, status, status, previous, previous, 1_800_000_000.0 + seq, seq, devices={"web": status}, **more
    )


@pytest.fixture
async def redis_world(redis_url: str) -> AsyncIterator[World]:
    client = create_redis(redis_url)
    events = PipelinedRedis(redis_url)
    try:
        yield World(
            RedisChangeStream(client, key=KEY, maxlen=1000, instance="a", events=events),
            lambda: RedisDeliveryLog(client, key=KEY),
            lambda: events.execute("PING"),  # answered after every command sent before it
        )
    finally:
        await events.aclose()
        await client.aclose()


@pytest.fixture
async def sqlite_world(tmp_path: Path) -> AsyncIterator[World]:
    engine = create_engine(sqlite_url(tmp_path / "presence.sqlite3"))
    await migrate.upgrade(engine)
    stream = SqlChangeStream(engine, FakeClock(), maxlen=1000, instance="a")
    try:
        yield World(stream, lambda: SqlDeliveryLog(engine, stream))
    finally:
        await engine.dispose()


@pytest.fixture(params=["redis_world", "sqlite_world"])
def world(request: pytest.FixtureRequest) -> World:
    return request.getfixturevalue(request.param)


async def published(world: World, *changes: PresenceChanged) -> None:
    for one in changes:
        await world.stream.publish(one)
    if world.written is not None:
        await world.written()


async def test_changes_are_read_oldest_first_after_an_id(world: World) -> None:
    lunch = CustomStatus("lunch", "🍜", None)
    await published(
        world,
        change("u1", 1),
        change("u2", 5, "DND", "ONLINE", custom_status=lunch),
        change("u1", 2, "OFFLINE", "ONLINE"),
    )

    everything = await world.stream.read("0", 100)
    after_first = await world.stream.read(everything[0].id, 100)
    page = await world.stream.read("0", 2)

    assert [(e.body["userId"], e.body["seq"]) for e in everything] == [("u1", 1), ("u2", 5), ("u1", 2)]
    assert everything[1].body["customStatus"] == {"text": "lunch", "emoji": "🍜", "expiresAt": None}
    assert (everything[1].body["status"], everything[1].body["previous"]) == ("DND", "ONLINE")
    assert everything[1].body["devices"] == {"web": "DND"}
    assert [e.id for e in after_first] == [e.id for e in everything[1:]]
    assert [e.id for e in page] == [e.id for e in everything[:2]]
    assert await world.stream.read(everything[-1].id, 100) == []
    assert await world.stream.length() == 3


async def test_a_change_others_do_not_see_is_not_kept(world: World) -> None:
    # INVISIBLE to OFFLINE: the user's own sockets saw it, nobody else did.
    unseen = PresenceChanged("u1", "OFFLINE", "OFFLINE", "INVISIBLE", "OFFLINE", 1_800_000_000.0, 3)

    await published(world, unseen, change("u1", 4))

    assert [e.body["seq"] for e in await world.stream.read("0", 10)] == [4]


async def test_ids_are_checked_before_they_reach_the_store(world: World) -> None:
    assert world.stream.valid_id("0")
    for bad in ("", "-", "abc", "1-2-3", "9" * 40, "(5", "+"):
        assert not world.stream.valid_id(bad), bad


async def test_a_consumer_group_resumes_where_it_stopped_with_no_gap(world: World) -> None:
    before = change("u0", 1)
    await published(world, before)
    log = world.open_log()
    assert await log.lead("a", 1_800_000_000.0, 10.0)
    await published(world, *(change("u1", seq) for seq in range(1, 6)))

    first = await log.owed(3)
    for entry in first[:2]:
        await log.ack(entry.id)
    # Stopped here (the third read, never acknowledged); more changes while it is away.
    await published(world, *(change("u1", seq) for seq in range(6, 9)))
    again = world.open_log()
    assert await again.lead("a", 1_800_000_001.0, 10.0)
    seen: list[int] = []
    with anyio.fail_after(5):  # an acknowledgement that does not hold would read for ever
        while entries := await again.owed(2):
            for entry in entries:
                seen.append(entry.body["seq"])
                await again.ack(entry.id)

    assert [e.body["seq"] for e in first] == [1, 2, 3]  # what came before the group is not owed
    assert seen == [3, 4, 5, 6, 7, 8]
    assert await again.pending() == 0


async def test_a_group_followed_at_start_owes_what_came_before_the_first_lead(world: World) -> None:
    await published(world, change("u0", 1))  # before the gateway started: not owed
    log = world.open_log()
    await log.follow()
    await log.follow()  # a second start (another instance) moves nothing
    await published(world, change("u1", 1), change("u1", 2))  # before any instance leads

    assert await world.open_log().lead("a", 1_800_000_000.0, 10.0)
    owed = await log.owed(10)
    assert [(e.body["userId"], e.body["seq"]) for e in owed] == [("u1", 1), ("u1", 2)]


async def test_one_holder_leads_at_a_time(world: World) -> None:
    log = world.open_log()

    assert await log.lead("a", 1_800_000_000.0, 0.3)
    assert not await log.lead("b", 1_800_000_000.1, 0.3)
    assert await log.lead("a", 1_800_000_000.1, 0.3)  # renewed by its holder
    with anyio.fail_after(5):
        while not await log.lead("b", 1_800_000_001.0, 0.3):  # once it lapsed
            await anyio.sleep(0.05)


async def test_a_dead_letter_is_kept_and_replayed_as_a_new_entry_with_its_seq(world: World) -> None:
    log = world.open_log()
    assert await log.lead("a", 1_800_000_000.0, 10.0)
    await published(world, change("u1", 7), change("u1", 8))
    (dead, live) = await log.owed(10)

    await log.dead_letter(dead, "HTTP 500")
    await log.ack(live.id)

    assert [e.body["seq"] for e in await log.dead_letters(10)] == [7]
    assert await log.owed(10) == []
    assert await log.replay_dead_letters(10) == 1
    (replayed,) = await log.owed(10)
    assert replayed.body["seq"] == 7 and replayed.id != dead.id
    assert await log.dead_letters(10) == []


async def test_the_stream_is_capped_near_its_maxlen(world: World) -> None:
    world.stream.maxlen = 100
    await published(world, *(change("u1", seq) for seq in range(1, 1001)))

    newest = await world.stream.read("0", 1000)

    assert 100 <= await world.stream.length() <= 300
    assert newest[-1].body["seq"] == 1000


async def test_changes_trimmed_before_delivery_are_passed_over_not_owed_for_ever(world: World) -> None:
    log = world.open_log()
    assert await log.lead("a", 1_800_000_000.0, 10.0)
    await published(world, *(change("u1", seq) for seq in range(1, 6)))
    assert len(await log.owed(5)) == 5  # read, never acknowledged (the deliverer died)
    world.stream.maxlen = 10
    await published(world, *(change("u1", seq) for seq in range(6, 506)))

    again = world.open_log()
    assert await again.lead("a", 1_800_000_001.0, 10.0)
    seen: list[int] = []
    with anyio.fail_after(5):
        while entries := await again.owed(100):
            for entry in entries:
                seen.append(entry.body["seq"])
                await again.ack(entry.id)
        # The trimmed ones were passed over: nothing is owed any more.
        assert await again.owed(100) == []

    assert seen == sorted(seen) and seen[-1] == 505 and 1 not in seen
    assert await again.pending() == 0


async def test_what_is_owed_counts_the_unread_and_the_unacknowledged(world: World) -> None:
    log = world.open_log()
    assert await log.lead("a", 1_800_000_000.0, 10.0)
    await published(world, *(change("u1", seq) for seq in range(1, 5)))
    assert await log.pending() == 4

    (first, *_) = await log.owed(2)
    await log.ack(first.id)

    assert await log.pending() == 3
