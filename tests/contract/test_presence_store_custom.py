"""The PresenceStore contract for the custom status: user-wide, set or cleared in the same
call as a status, kept past the last session like a remembered choice, and cleared at its
expiry by whichever sweeper claims it (once)."""

from __future__ import annotations

import pytest

from presence_gateway.domain.ports import DueCustom, SessionMeta
from presence_gateway.domain.presence import Choice
from presence_gateway.domain.rich_presence import CustomStatus

pytestmark = pytest.mark.anyio

WEB = SessionMeta(device="web", connected_at=100.0, ip="127.0.0.1")
MOBILE = SessionMeta(device="mobile", connected_at=100.0, ip="127.0.0.1")
LUNCH_ENDS = 1_800_000_600.25
LUNCH = CustomStatus("out for lunch", "🍜", LUNCH_ENDS)
FOREVER = CustomStatus("on call", None, None)


async def test_a_custom_status_is_set_alone_and_keeps_the_choice_and_socket_state(presence_store) -> None:
    await presence_store.register("u1", "s1", WEB, expires_at=190.0)
    await presence_store.choose("u1", "s1", WEB, Choice("DND", True), expires_at=190.0)
    await presence_store.choose("u1", "s1", WEB, None, expires_at=190.0, socket_state="IDLE")

    changed = await presence_store.choose(
        "u1", "s1", WEB, None, expires_at=190.0, socket_state=None, custom=LUNCH, set_custom=True
    )

    assert (changed.before.custom, changed.after.custom) == (None, LUNCH)
    assert changed.after.choice == Choice("DND", True)
    assert changed.after.socket_states == (("web", "IDLE"),)
    assert changed.after.seq > changed.before.seq or changed.before.seq == 0


async def test_it_is_user_wide_and_read_by_every_operation(presence_store) -> None:
    await presence_store.register("u1", "s1", WEB, expires_at=190.0)
    await presence_store.choose("u1", "s1", WEB, Choice("DND", True), 190.0, custom=FOREVER, set_custom=True)

    other = await presence_store.register("u1", "s2", MOBILE, expires_at=190.0)
    (state,) = await presence_store.states(["u1"])
    ended = await presence_store.end("u1", "s2")

    assert other.before.custom == other.after.custom == FOREVER
    assert state.custom == FOREVER
    assert ended.after.custom == FOREVER
    # A status alone leaves it.
    chosen = await presence_store.choose("u1", "s1", WEB, Choice("ONLINE", False), expires_at=190.0)
    assert chosen.after.custom == FOREVER


async def test_it_outlives_the_last_session_like_a_remembered_choice(presence_store) -> None:
    await presence_store.register("u1", "s1", WEB, expires_at=190.0)
    await presence_store.choose("u1", "s1", WEB, None, 190.0, socket_state=None, custom=FOREVER, set_custom=True)
    await presence_store.end("u1", "s1")

    back = await presence_store.register("u1", "s2", WEB, expires_at=290.0)

    assert back.before.custom == back.after.custom == FOREVER


async def test_null_clears_it(presence_store) -> None:
    await presence_store.register("u1", "s1", WEB, expires_at=190.0)
    await presence_store.choose("u1", "s1", WEB, None, 190.0, socket_state=None, custom=LUNCH, set_custom=True)

    cleared = await presence_store.choose("u1", "s1", WEB, None, 190.0, socket_state=None, set_custom=True)

    assert (cleared.before.custom, cleared.after.custom) == (LUNCH, None)
    assert await presence_store.claim_due_customs(now=LUNCH_ENDS + 1, limit=10) == []


async def test_it_is_claimed_at_its_expiry_once_and_cleared(presence_store) -> None:
    await presence_store.register("u1", "s1", WEB, expires_at=190.0)
    await presence_store.choose("u1", "s1", WEB, None, 190.0, socket_state=None, custom=LUNCH, set_custom=True)

    assert await presence_store.claim_due_customs(now=LUNCH_ENDS - 0.5, limit=10) == []
    claimed = await presence_store.claim_due_customs(now=LUNCH_ENDS, limit=10)
    assert claimed == [DueCustom("u1", LUNCH_ENDS)]
    assert await presence_store.claim_due_customs(now=LUNCH_ENDS + 5, limit=10) == []

    cleared = await presence_store.clear_custom(claimed[0])
    assert cleared is not None
    assert (cleared.before.custom, cleared.after.custom) == (LUNCH, None)
    assert cleared.after.seq > cleared.before.seq or cleared.before.seq == 0
    (state,) = await presence_store.states(["u1"])
    assert state.custom is None


async def test_a_custom_status_set_again_is_not_cleared_by_the_old_expiry(presence_store) -> None:
    await presence_store.register("u1", "s1", WEB, expires_at=190.0)
    await presence_store.choose("u1", "s1", WEB, None, 190.0, socket_state=None, custom=LUNCH, set_custom=True)
    (due,) = await presence_store.claim_due_customs(now=LUNCH_ENDS, limit=10)
    await presence_store.choose("u1", "s1", WEB, None, 190.0, socket_state=None, custom=FOREVER, set_custom=True)

    assert await presence_store.clear_custom(due) is None
    (state,) = await presence_store.states(["u1"])
    assert state.custom == FOREVER


async def test_adopting_the_durable_record_brings_its_custom_status(presence_store) -> None:
    adopted = await presence_store.adopt_choice("u9", Choice("DND", True), None, LUNCH)

    assert adopted.custom == LUNCH
    assert [d.user_id for d in await presence_store.claim_due_customs(LUNCH_ENDS, 10)] == ["u9"]


async def _seeds(*items):
    for item in items:
        yield item


async def test_seeding_teaches_custom_statuses_with_their_expiry(presence_store) -> None:
    await presence_store.register("here", "s1", WEB, expires_at=190.0)
    await presence_store.choose("here", "s1", WEB, Choice("DND", True), 190.0)

    learnt = await presence_store.seed_choices(
        _seeds(("u1", None, None, LUNCH), ("u2", Choice("DND", True), None, FOREVER), ("here", None, None, FOREVER))
    )

    assert learnt == 2
    u1, u2, here = await presence_store.states(["u1", "u2", "here"])
    assert (u1.choice, u1.custom) == (None, LUNCH)
    assert (u2.choice, u2.custom) == (Choice("DND", True), FOREVER)
    assert here.custom is None  # the store knew this user: its own state wins
    assert [d.user_id for d in await presence_store.claim_due_customs(LUNCH_ENDS, 10)] == ["u1"]


@pytest.mark.parametrize("teach", ["seed", "adopt"])
async def test_a_custom_status_set_before_the_store_knew_the_user_stays(presence_store, teach: str) -> None:
    # A cold start: the user sets a custom status before their choice is learnt from the
    # durable record, whose custom status is older. Seeding and adopting keep the newer one
    # (and the older one's expiry clears nothing), as they learn the choice.
    await presence_store.register("u1", "s1", WEB, expires_at=190.0)
    await presence_store.choose("u1", "s1", WEB, None, 190.0, socket_state=None, custom=FOREVER, set_custom=True)

    if teach == "seed":
        assert await presence_store.seed_choices(_seeds(("u1", Choice("DND", True), None, LUNCH))) == 1
    else:
        await presence_store.adopt_choice("u1", Choice("DND", True), None, LUNCH)

    (state,) = await presence_store.states(["u1"])
    assert (state.choice, state.custom) == (Choice("DND", True), FOREVER)
    assert await presence_store.claim_due_customs(LUNCH_ENDS + 1, 10) == []
