"""Putting an instance's sessions back into a store that lost them (Redis restarted empty):
each store starts here as one that lost everything."""

from __future__ import annotations

import pytest
import redis.asyncio

from presence_gateway.domain.ports import HeldSession, SessionMeta
from presence_gateway.domain.presence import Choice, UserState

pytestmark = pytest.mark.anyio

META = SessionMeta(device="web", connected_at=100.0, ip="127.0.0.1")
DND = Choice("DND", remember=True)
IDLE = Choice("IDLE", remember=True)
APPEAR_OFFLINE = Choice("OFFLINE", remember=False)


def held(user: str, session: str, choice: Choice | None = None, *, as_of: float = 150.0, expires_at: float = 190.0):
    return HeldSession(user, session, META, expires_at, choice, True, as_of)


async def test_a_store_notes_that_it_holds_the_instance_once_restored(presence_store) -> None:
    assert await presence_store.needs_restore()

    await presence_store.restore_sessions([])

    assert not await presence_store.needs_restore()


async def test_sessions_come_back_with_their_users_choices(presence_store) -> None:
    written = await presence_store.restore_sessions(
        [held("u1", "s1", DND), held("u1", "s2", DND), held("u2", "s3", APPEAR_OFFLINE), held("u3", "s4")]
    )

    assert written == 4
    assert (await presence_store.states(["u1"]))[0] == UserState(2, DND, True)
    assert (await presence_store.states(["u2"]))[0] == UserState(1, APPEAR_OFFLINE, True)
    assert (await presence_store.states(["u3"]))[0] == UserState(1, None, True)


async def test_a_hint_of_unknown_choice_leaves_the_choice_to_seeding(presence_store) -> None:
    await presence_store.restore_sessions([HeldSession("u1", "s1", META, 190.0)])

    assert ((await presence_store.states(["u1"]))[0]).choice_known is False


async def test_a_restored_session_expires_when_it_was_due(presence_store) -> None:
    await presence_store.restore_sessions([held("u1", "s1", expires_at=120.0), held("u1", "s2", expires_at=190.0)])

    due = await presence_store.expire_due(150.0, limit=100)

    assert [(e.session_id, e.transition.before.sessions, e.transition.after.sessions) for e in due] == [("s1", 2, 1)]


async def test_a_choice_made_since_the_loss_is_newer_than_any_hint(presence_store) -> None:
    await presence_store.choose("u1", "s1", META, IDLE, expires_at=190.0)

    await presence_store.restore_sessions([held("u1", "s2", DND, as_of=10_000.0)])

    assert (await presence_store.states(["u1"]))[0] == UserState(2, IDLE, True)


async def test_the_newest_hint_wins_whichever_instance_restores_first(presence_store) -> None:
    await presence_store.restore_sessions([held("u1", "s1", DND, as_of=150.0)])  # instance A, stale
    await presence_store.restore_sessions([held("u1", "s2", APPEAR_OFFLINE, as_of=160.0)])  # B saw the change
    await presence_store.restore_sessions([held("u2", "s3", APPEAR_OFFLINE, as_of=160.0)])
    await presence_store.restore_sessions([held("u2", "s4", DND, as_of=150.0)])

    assert ((await presence_store.states(["u1"]))[0]).choice == APPEAR_OFFLINE
    assert ((await presence_store.states(["u2"]))[0]).choice == APPEAR_OFFLINE


async def test_restoring_twice_changes_nothing(presence_store) -> None:
    sessions = [held("u1", "s1", DND), held("u2", "s2")]
    await presence_store.restore_sessions(sessions)
    first = [(await presence_store.states([u]))[0] for u in ("u1", "u2")]

    await presence_store.restore_sessions(sessions)

    assert [(await presence_store.states([u]))[0] for u in ("u1", "u2")] == first


async def test_redis_reads_the_same_after_a_restore_as_before_the_loss(redis_store, redis_url: str) -> None:
    r = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)

    async def picture() -> dict[str, object]:
        return {
            "sockets": await r.smembers("presence:sockets:u1"),
            "online": [await r.get(f"presence:online:{u}") for u in ("u1", "u2")],
            "chosen": [await r.hget(f"presence:status:{u}", "c") for u in ("u1", "u2")],
            "session": await r.hgetall("presence:u1:s1"),
            "index": await r.zrange("presence:instance:contract:sessions", 0, -1, withscores=True),
        }

    await redis_store.register("u1", "s1", META, expires_at=190.0)
    await redis_store.choose("u1", "s2", META, DND, expires_at=200.0)
    await redis_store.choose("u2", "s3", META, APPEAR_OFFLINE, expires_at=190.0)
    before = await picture()
    await r.flushall()
    assert await redis_store.needs_restore()

    await redis_store.restore_sessions(
        [held("u1", "s1", DND), held("u1", "s2", DND, expires_at=200.0), held("u2", "s3", APPEAR_OFFLINE)]
    )

    assert await picture() == before
    assert before["online"] == ["true", None]  # appearing OFFLINE: no flag, restored or not
    assert not await redis_store.needs_restore()
    await r.aclose()
