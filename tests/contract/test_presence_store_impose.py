"""The server API's status (``impose``): the choice and the custom status set for a user
whether connected or not, in one store call, each only when asked."""

from __future__ import annotations

import pytest

from presence_gateway.domain.ports import SessionMeta
from presence_gateway.domain.presence import Choice, Update
from presence_gateway.domain.rich_presence import CustomStatus

pytestmark = pytest.mark.anyio

WEB = SessionMeta(device="web", connected_at=100.0, ip="127.0.0.1")
CALL = CustomStatus("on call", "📟", None)


async def test_a_connected_user_gets_the_choice_and_custom_status_and_keeps_their_sockets(presence_store) -> None:
    await presence_store.register("u1", "s1", WEB, expires_at=190.0)

    changed = await presence_store.impose("u1", Update(Choice("DND", True), custom=CALL, set_custom=True))

    assert changed.after.choice == Choice("DND", True) and changed.after.custom == CALL
    assert changed.after.sessions == changed.before.sessions == 1
    assert changed.after.seq > changed.before.seq
    (state,) = await presence_store.states(["u1"])
    assert (state.choice, state.custom, state.socket_states) == (Choice("DND", True), CALL, (("web", "ONLINE"),))


async def test_what_is_not_asked_stays(presence_store) -> None:
    await presence_store.register("u1", "s1", WEB, expires_at=190.0)
    await presence_store.impose("u1", Update(Choice("DND", True), custom=CALL, set_custom=True))

    status_only = await presence_store.impose("u1", Update(Choice("ONLINE", False)))
    cleared = await presence_store.impose("u1", Update(set_custom=True))

    assert status_only.after.custom == CALL
    assert cleared.after.choice == Choice("ONLINE", False) and cleared.after.custom is None


async def test_a_user_with_no_socket_keeps_a_remembered_choice_and_a_custom_status_only(presence_store) -> None:
    kept = await presence_store.impose("away", Update(Choice("DND", True), custom=CALL, set_custom=True))
    dropped = await presence_store.impose("gone", Update(Choice("ONLINE", False)))

    assert (kept.after.sessions, kept.after.choice, kept.after.custom) == (0, Choice("DND", True), CALL)
    assert dropped.after.choice is None
    back = await presence_store.register("away", "s1", WEB, expires_at=190.0)
    assert (back.after.choice, back.after.custom) == (Choice("DND", True), CALL)


async def test_an_offline_grace_is_ended_at_once_when_asked(presence_store) -> None:
    await presence_store.register("u1", "s1", WEB, expires_at=190.0)
    await presence_store.choose("u1", "s1", WEB, Choice("DND", False), expires_at=190.0)
    await presence_store.end("u1", "s1", grace_until=1_800_000_030.0)

    ended = await presence_store.end_grace("u1")

    assert ended is not None
    assert (ended.before.lingering, ended.after.lingering) == (True, False)
    assert ended.after.choice is None  # not remembered: gone with the user
    assert await presence_store.end_grace("u1") is None  # none left
    assert await presence_store.settle_due_graces(1_800_000_031.0, 10) == []


async def test_a_user_connected_or_back_has_no_grace_to_end(presence_store) -> None:
    await presence_store.register("u1", "s1", WEB, expires_at=190.0)
    assert await presence_store.end_grace("u1") is None
    await presence_store.end("u1", "s1", grace_until=1_800_000_030.0)
    await presence_store.register("u1", "s2", WEB, expires_at=290.0)
    assert await presence_store.end_grace("u1") is None
    assert await presence_store.end_grace("nobody") is None
