"""The PresenceStore contract for rich presence: each session's device kind and state
(active, or a socket-scoped status such as IDLE), and the user's seq, reported before and
after every operation, in the same atomic call."""

from __future__ import annotations

import pytest

from presence_gateway.domain.ports import SessionMeta

pytestmark = pytest.mark.anyio

WEB = SessionMeta(device="web", connected_at=100.0, ip="127.0.0.1")
MOBILE = SessionMeta(device="mobile", connected_at=100.0, ip="127.0.0.1")
DND_CHOICE = ("DND", True)


def _sorted(pairs) -> list[tuple[str, str]]:
    return sorted(pairs)


async def test_a_new_session_is_active_and_reported_with_its_device(presence_store) -> None:
    first = await presence_store.register("u1", "s1", WEB, expires_at=190.0)
    second = await presence_store.register("u1", "s2", MOBILE, expires_at=190.0)

    assert first.before.socket_states == ()
    assert first.after.socket_states == (("web", "ONLINE"),)
    assert _sorted(second.after.socket_states) == [("mobile", "ONLINE"), ("web", "ONLINE")]


async def test_a_socket_state_is_its_own_and_keeps_the_choice(presence_store) -> None:
    from presence_gateway.domain.presence import Choice

    await presence_store.register("u1", "s1", WEB, expires_at=190.0)
    await presence_store.register("u1", "s2", MOBILE, expires_at=190.0)
    await presence_store.choose("u1", "s1", WEB, Choice("DND", True), expires_at=190.0)
    idle = await presence_store.choose("u1", "s1", WEB, None, expires_at=190.0, socket_state="IDLE")

    assert _sorted(idle.before.socket_states) == [("mobile", "ONLINE"), ("web", "ONLINE")]
    assert _sorted(idle.after.socket_states) == [("mobile", "ONLINE"), ("web", "IDLE")]
    assert idle.after.choice == Choice("DND", True)
    # A ping keeps the socket's state; so does the read.
    touched = await presence_store.touch("u1", "s1", WEB, expires_at=200.0)
    assert _sorted(touched.after.socket_states) == [("mobile", "ONLINE"), ("web", "IDLE")]
    (state,) = await presence_store.states(["u1"])
    assert _sorted(state.socket_states) == [("mobile", "ONLINE"), ("web", "IDLE")]
    active = await presence_store.choose("u1", "s1", WEB, None, expires_at=200.0)
    assert _sorted(active.after.socket_states) == [("mobile", "ONLINE"), ("web", "ONLINE")]


async def test_an_ended_session_leaves_the_devices(presence_store) -> None:
    await presence_store.register("u1", "s1", WEB, expires_at=190.0)
    await presence_store.register("u1", "s2", MOBILE, expires_at=190.0)
    ended = await presence_store.end("u1", "s2")
    expired = await presence_store.expire_due(now=191.0, limit=10)

    assert ended.after.socket_states == (("web", "ONLINE"),)
    assert [e.transition.after.socket_states for e in expired] == [()]


async def test_seq_grows_with_every_operation_and_is_read_back(presence_store) -> None:
    seqs = [
        (await presence_store.register("u1", "s1", WEB, expires_at=190.0)).after.seq,
        (await presence_store.choose("u1", "s1", WEB, None, expires_at=190.0, socket_state="IDLE")).after.seq,
        (await presence_store.register("u1", "s2", MOBILE, expires_at=190.0)).after.seq,
        (await presence_store.end("u1", "s2")).after.seq,
    ]
    assert all(later > earlier for earlier, later in zip(seqs, seqs[1:], strict=False))
    assert seqs[0] > 1_700_000_000_000  # never below the clock in ms: a store that forgot it goes forward
    (state,) = await presence_store.states(["u1"])
    assert state.seq == seqs[-1]
    other = await presence_store.register("u2", "s1", WEB, expires_at=190.0)
    assert other.before.seq == 0 or other.before.seq < other.after.seq


async def test_a_ping_moves_no_seq(presence_store) -> None:
    registered = await presence_store.register("u1", "s1", WEB, expires_at=190.0)
    touched = await presence_store.touch("u1", "s1", WEB, expires_at=200.0)

    assert touched.after.seq == registered.after.seq
