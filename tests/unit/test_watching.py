"""Watching other users: who may, what they see, how many, and a snapshot no change slips
past — through the use cases, on in-process adapters and fakes (both anyio backends)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import anyio
import pytest

from presence_gateway.adapters.open_policy import OpenAudience
from presence_gateway.domain.errors import Forbidden, InvalidPayload, LimitExceeded, Unavailable
from presence_gateway.domain.ports import DurableStatuses
from presence_gateway.domain.presence import DurableStatus
from presence_gateway.domain.rich_presence import CustomStatus
from presence_gateway.service_layer.durable_writer import DurableWriter
from presence_gateway.service_layer.watching import LAST_SEEN_TIMEOUT, Seen, WatchService
from tests.fakes import ContactsAudience
from tests.memory_status_repository import InMemoryStatusRepository
from tests.support.gateway_container import NO_GRACE
from tests.unit.conftest import META, World, build_world

pytestmark = pytest.mark.anyio


def watching(world: World, policy=None, last_seen_timeout: float = LAST_SEEN_TIMEOUT, **limits: int) -> WatchService:
    return WatchService(
        registry=world.service.registry,
        store=world.store,
        durable=world.writer,
        policy=policy or OpenAudience(),
        last_seen_timeout=last_seen_timeout,
        **limits,
    )


async def subscribe(watch: WatchService, world: World, socket: str, user_ids, viewer: str = "viewer", held=None):
    held = set() if held is None else held
    rooms = world.broadcaster.rooms(socket)
    return await watch.subscribe(viewer, user_ids, held, rooms), held


async def choose(world: World, user_id: str, status: str, session: str = "s1") -> None:
    await world.service.choose(user_id, session, META, status)


# ---------------------------------------------------------------- what watchers see


async def test_a_snapshot_shows_what_others_see(world: World) -> None:
    await world.service.connect("on", "s1", META)
    await world.service.connect("busy", "s1", META)
    await choose(world, "busy", "DND")
    await world.service.connect("hidden", "s1", META)
    await choose(world, "hidden", "INVISIBLE")
    went_invisible = world.clock.now()
    world.clock.advance(60)
    await world.service.connect("gone", "s1", META)
    world.clock.advance(5)
    await world.service.disconnect("gone", "s1")
    left = world.clock.now()

    snapshot = await watching(world).query("viewer", ["on", "busy", "hidden", "gone", "never"])

    assert snapshot.seen == [
        Seen("on", "ONLINE", None, {"web": "ONLINE"}),
        Seen("busy", "DND", None, {"web": "ONLINE"}),
        Seen("hidden", "OFFLINE", went_invisible),
        Seen("gone", "OFFLINE", left),
        Seen("never", "OFFLINE", None),
    ]
    assert snapshot.denied == []


async def test_an_invisible_users_last_seen_does_not_move(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await choose(world, "u1", "INVISIBLE")
    vanished = world.clock.now()
    for _ in range(3):
        world.clock.advance(600)
        await world.service.disconnect("u1", "s1")
        world.clock.advance(600)
        await world.service.connect("u1", "s1", META)
        await world.service.heartbeat("u1", "s1", META)
    await world.writer.flush()

    assert await watching(world).one("viewer", "u1") == Seen("u1", "OFFLINE", vanished)


async def test_a_watcher_hears_only_what_others_see_and_only_when_it_changes(world: World) -> None:
    watch = watching(world)
    await subscribe(watch, world, "w", ["b"])

    await world.service.connect("b", "s1", META)
    await world.service.connect("b", "s2", META)
    await choose(world, "b", "DND")
    await choose(world, "b", "INVISIBLE")
    await choose(world, "b", "OFFLINE")  # appear offline, from invisible: others see no change
    await world.service.disconnect("b", "s1")
    await world.service.disconnect("b", "s2")

    assert world.broadcaster.inboxes["w"] == [("b", "ONLINE"), ("b", "DND"), ("b", "OFFLINE")]
    assert world.broadcaster.seen_by_self("b") == ["ONLINE", "DND", "INVISIBLE", "OFFLINE"]


async def test_a_user_who_just_left_has_the_last_seen_of_their_leaving_before_it_is_written() -> None:
    world = build_world(env=NO_GRACE)  # the leaving is the disconnect itself
    await world.service.connect("u1", "s1", META)
    await world.writer.flush()
    world.clock.advance(30)
    await world.service.disconnect("u1", "s1")  # queued behind, not yet written

    assert world.writer.pending == 1
    assert await watching(world).one("viewer", "u1") == Seen("u1", "OFFLINE", world.clock.now())


async def test_a_record_that_still_shows_the_user_online_gives_no_last_seen() -> None:
    repository = InMemoryStatusRepository()
    await repository.save_many([DurableStatus("u1", "ONLINE", None, 100.0, 100.0)])
    world = build_world(repository)  # another instance saw them leave; its write is on its way

    assert await watching(world).one("viewer", "u1") == Seen("u1", "OFFLINE", None)


async def test_a_user_whose_choice_the_store_lost_is_offline_until_it_is_read_back(world: World) -> None:
    # Registered, but the remembered choice (INVISIBLE, maybe) is not known yet.
    await world.store.register("u1", "s1", META, expires_at=world.clock.now() + 90)

    assert (await watching(world).one("viewer", "u1")).status == "OFFLINE"


class UnreadableRepository(InMemoryStatusRepository):
    async def get_many(self, user_ids):
        raise ConnectionError("database unavailable")


class StalledRepository(InMemoryStatusRepository):
    async def get_many(self, user_ids):
        await anyio.sleep_forever()


@pytest.mark.parametrize("repository", [UnreadableRepository, StalledRepository])
async def test_a_database_down_or_stalled_costs_last_seen_not_the_snapshot(repository, caplog) -> None:
    world = build_world(repository())
    await world.service.connect("on", "s1", META)
    watch = watching(world, last_seen_timeout=0.05)

    with anyio.fail_after(5):
        snapshot, held = await subscribe(watch, world, "w", ["on", "off"])

    assert snapshot.seen == [Seen("on", "ONLINE", None, {"web": "ONLINE"}), Seen("off", "OFFLINE", None)]
    assert held == {"on", "off"}
    assert "last-seen times not" in caplog.text


# ---------------------------------------------------------------- who may watch whom


async def test_the_contacts_policy_names_the_denied_and_watches_only_the_allowed(world: World) -> None:
    await world.service.connect("friend", "s1", META)
    await world.service.connect("stranger", "s1", META)
    watch = watching(world, ContactsAudience(("viewer", "friend")))

    snapshot, held = await subscribe(watch, world, "w", ["friend", "stranger"])
    await choose(world, "stranger", "DND")
    await choose(world, "friend", "IDLE")

    assert snapshot.seen == [Seen("friend", "ONLINE", None, {"web": "ONLINE"})]
    assert snapshot.denied == ["stranger"]
    assert held == {"friend"}
    assert world.broadcaster.inboxes["w"] == [("friend", "IDLE")]


async def test_contacts_go_one_way(world: World) -> None:
    watch = watching(world, ContactsAudience(("a", "b")))

    assert (await watch.query("a", ["b"])).denied == []
    assert (await watch.query("b", ["a"])).denied == ["a"]
    with pytest.raises(Forbidden):
        await watch.one("b", "a")


async def test_a_user_may_always_watch_themselves(world: World) -> None:
    await world.service.connect("viewer", "s1", META)
    await choose(world, "viewer", "INVISIBLE")

    snapshot = await watching(world, ContactsAudience()).query("viewer", ["viewer"])

    assert snapshot.seen == [Seen("viewer", "OFFLINE", world.clock.now())]  # as others see them


async def test_a_contact_removed_is_no_longer_watched_once_the_socket_subscribes_again(world: World) -> None:
    contacts = ContactsAudience(("viewer", "b"), ("viewer", "c"))
    watch = watching(world, contacts)
    _, held = await subscribe(watch, world, "w", ["b", "c"])

    contacts.pairs.discard(("viewer", "b"))
    snapshot, held = await subscribe(watch, world, "w", ["b", "c"], held=held)
    await world.service.connect("b", "s1", META)

    assert snapshot.denied == ["b"]
    assert held == {"c"} and world.broadcaster.rooms("w").watching() == {"c"}
    assert "w" not in world.broadcaster.inboxes


async def test_a_policy_that_cannot_be_read_refuses_the_subscription(world: World) -> None:
    contacts = ContactsAudience(("viewer", "b"))
    contacts.down = True

    with pytest.raises(Unavailable):
        await subscribe(watching(world, contacts), world, "w", ["b"])
    assert world.broadcaster.rooms("w").watching() == set()


# ---------------------------------------------------------------- limits and payloads


async def test_too_many_ids_in_one_call_is_refused_and_nothing_is_watched(world: World) -> None:
    watch = watching(world, max_ids=5)

    with pytest.raises(LimitExceeded, match="at most 5"):
        await subscribe(watch, world, "w", [f"u{n}" for n in range(6)])
    with pytest.raises(LimitExceeded):
        await watch.query("viewer", [f"u{n}" for n in range(6)])
    assert world.broadcaster.rooms("w").watching() == set()


async def test_a_socket_watches_at_most_its_limit(world: World) -> None:
    watch = watching(world, max_targets=3)
    _, held = await subscribe(watch, world, "w", ["a", "b"])

    again, held = await subscribe(watch, world, "w", ["a", "b", "c"], held=held)  # only c is new
    with pytest.raises(LimitExceeded, match="at most 3"):
        await subscribe(watch, world, "w", ["d"], held=held)
    await watch.unsubscribe(["a"], held, world.broadcaster.rooms("w"))
    await subscribe(watch, world, "w", ["d"], held=held)

    assert [seen.user_id for seen in again.seen] == ["a", "b", "c"]
    assert held == {"b", "c", "d"} == world.broadcaster.rooms("w").watching()


async def test_unsubscribe_stops_the_updates(world: World) -> None:
    watch = watching(world)
    _, held = await subscribe(watch, world, "w", ["a", "b"])

    await watch.unsubscribe(["a", "nobody"], held, world.broadcaster.rooms("w"))
    await world.service.connect("a", "s1", META)
    await world.service.connect("b", "s1", META)

    assert held == {"b"}
    assert world.broadcaster.inboxes["w"] == [("b", "ONLINE")]


@pytest.mark.parametrize(
    "user_ids",
    [None, "u1", {"u1": 1}, [None], [""], ["x" * 256], [True], [1.5], [["u1"]],
     ["u1", "a\nb"], ["\ud800"], ["sockets"], ["a:b"], ["{u1}"]],
    ids=["none", "string", "object", "null-id", "empty-id", "long-id", "bool-id", "float-id", "nested",
         "newline-id", "lone-surrogate-id", "key-word-id", "colon-id", "brace-id"],
)
async def test_a_bad_list_of_ids_is_an_invalid_payload(world: World, user_ids) -> None:
    with pytest.raises(InvalidPayload):
        await subscribe(watching(world), world, "w", user_ids)


async def test_ids_are_taken_once_each_and_numbers_as_their_decimal_string(world: World) -> None:
    await world.service.connect("42", "s1", META)

    snapshot = await watching(world).query("viewer", [42, "42", "7", "7"])

    assert [(seen.user_id, seen.status) for seen in snapshot.seen] == [("42", "ONLINE"), ("7", "OFFLINE")]


# ---------------------------------------------------------------- the snapshot race


class InterleavedStore:
    """The world's store, with a change made by another user at one chosen moment of a
    subscription: just before or just after the snapshot's read."""

    def __init__(self, inner, moment: str, change) -> None:
        self._inner = inner
        self._moment = moment
        self._change = change

    async def states(self, user_ids):
        if self._moment == "before the read":
            await self._change()
        states = await self._inner.states(user_ids)
        if self._moment == "after the read":
            await self._change()
        return states


class InterleavedRecords:
    """The durable writer, with a change landing while last-seen times are read."""

    def __init__(self, writer: DurableWriter, change: Callable[[], Awaitable[None]]) -> None:
        self._writer = writer
        self._change = change

    def submit(self, record: DurableStatus) -> None:
        self._writer.submit(record)

    async def get(self, user_id: str) -> DurableStatus | None:
        return await self._writer.get(user_id)

    async def get_many(self, user_ids: Sequence[str]) -> dict[str, DurableStatus]:
        records = await self._writer.get_many(user_ids)
        await self._change()
        return records

    def remembered_choices(self) -> AsyncIterator[tuple[str, str | None, CustomStatus | None]]:
        return self._writer.remembered_choices()


MOMENTS = ["while last seen is read", "as the socket enters the rooms", "before the read", "after the read"]


@pytest.mark.parametrize("moment", MOMENTS)
async def test_no_change_slips_between_the_snapshot_and_the_subscription(world: World, moment: str) -> None:
    """Whenever a change lands, the watcher ends up knowing it: from the snapshot, or from
    an update delivered after the subscription began (applied after the snapshot)."""
    await world.service.connect("b", "s1", META)

    async def change() -> None:
        await choose(world, "b", "DND")

    rooms = world.broadcaster.rooms("w")
    if moment == "as the socket enters the rooms":
        rooms.on_enter = change
    store = InterleavedStore(world.store, moment, change)
    durable: DurableStatuses = InterleavedRecords(world.writer, change) if moment == "while last seen is read" else world.writer
    watch = WatchService(registry=world.service.registry, store=store, durable=durable, policy=OpenAudience())

    snapshot = await watch.subscribe("viewer", ["b"], set(), rooms)

    seen = {s.user_id: s.status for s in snapshot.seen}
    for user_id, status in world.broadcaster.inboxes.get("w", []):
        seen[user_id] = status
    assert seen == {"b": "DND"}


async def test_a_failed_read_leaves_the_socket_watching_what_it_watched_before(world: World) -> None:
    class BrokenStore:
        async def states(self, user_ids):
            raise Unavailable("presence store unavailable")

    watch = watching(world)
    _, held = await subscribe(watch, world, "w", ["a"])
    broken = WatchService(registry=world.service.registry, store=BrokenStore(), durable=world.writer, policy=OpenAudience())

    with pytest.raises(Unavailable):
        await broken.subscribe("viewer", ["a", "b"], held, world.broadcaster.rooms("w"))

    assert held == {"a"} == world.broadcaster.rooms("w").watching()
