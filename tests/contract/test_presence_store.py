"""The PresenceStore contract: atomic operations that report before and after."""

from __future__ import annotations

import pytest

from presence_gateway.domain.ports import Renewal, SessionMeta
from presence_gateway.domain.presence import Choice, UserState

pytestmark = pytest.mark.anyio

META = SessionMeta(device="web", connected_at=100.0, ip="127.0.0.1")
DND = Choice("DND", remember=True)
APPEAR_OFFLINE = Choice("OFFLINE", remember=False)


async def test_a_user_never_seen_is_unknown_with_no_sessions(presence_store) -> None:
    assert (await presence_store.states(["u1"]))[0] == UserState(0, None, False)


async def test_register_counts_sessions(presence_store) -> None:
    first = await presence_store.register("u1", "s1", META, expires_at=190.0)
    second = await presence_store.register("u1", "s2", META, expires_at=190.0)

    assert (first.before.sessions, first.after.sessions) == (0, 1)
    assert (second.before.sessions, second.after.sessions) == (1, 2)
    assert first.first_session and not second.first_session


async def test_registering_the_same_session_twice_counts_it_once(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)
    again = await presence_store.register("u1", "s1", META, expires_at=200.0)

    assert (again.before.sessions, again.after.sessions) == (1, 1)


async def test_users_are_independent(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)
    other = await presence_store.register("u2", "s1", META, expires_at=190.0)

    assert other.first_session


async def test_end_removes_one_session(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)
    await presence_store.register("u1", "s2", META, expires_at=190.0)

    ended = await presence_store.end("u1", "s1")
    last = await presence_store.end("u1", "s2")

    assert (ended.before.sessions, ended.after.sessions) == (2, 1)
    assert (last.before.sessions, last.after.sessions) == (1, 0)


async def test_ending_an_unknown_session_changes_nothing(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)

    ended = await presence_store.end("u1", "other")
    nobody = await presence_store.end("u2", "s1")

    assert ended.before == ended.after and ended.after.sessions == 1
    assert nobody.before == nobody.after and nobody.after.sessions == 0


async def test_a_remembered_choice_outlives_the_last_session(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)
    chosen = await presence_store.choose("u1", "s1", META, DND, expires_at=190.0)
    ended = await presence_store.end("u1", "s1")
    back = await presence_store.register("u1", "s2", META, expires_at=290.0)

    assert (chosen.before.choice, chosen.after.choice) == (None, DND)
    assert ended.after == UserState(0, DND, True)
    assert back.before.choice == DND and back.after.choice_known


async def test_a_choice_not_remembered_ends_with_the_last_session(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)
    await presence_store.register("u1", "s2", META, expires_at=190.0)
    await presence_store.choose("u1", "s1", META, APPEAR_OFFLINE, expires_at=190.0)

    one_left = await presence_store.end("u1", "s1")
    none_left = await presence_store.end("u1", "s2")

    assert one_left.after.choice == APPEAR_OFFLINE
    assert none_left.after.choice is None


async def test_choose_revives_a_session_that_had_gone(presence_store) -> None:
    revived = await presence_store.choose("u1", "s1", META, DND, expires_at=190.0)

    assert (revived.before.sessions, revived.after.sessions) == (0, 1)
    assert revived.after.choice == DND


async def test_adopt_sets_the_choice_only_while_unknown(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)
    adopted = await presence_store.adopt_choice("u1", DND)
    ignored = await presence_store.adopt_choice("u1", None)

    assert adopted == UserState(1, DND, True)
    assert ignored == UserState(1, DND, True)


async def test_adopt_does_not_override_a_fresh_choice(presence_store) -> None:
    await presence_store.choose("u1", "s1", META, APPEAR_OFFLINE, expires_at=190.0)

    assert (await presence_store.adopt_choice("u1", DND)).choice == APPEAR_OFFLINE


async def test_sessions_expire_when_due_and_not_before(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)
    await presence_store.register("u1", "s2", META, expires_at=250.0)

    assert await presence_store.expire_due(189.9, limit=100) == []
    first = await presence_store.expire_due(190.0, limit=100)
    second = await presence_store.expire_due(300.0, limit=100)

    assert [(e.user_id, e.session_id) for e in first] == [("u1", "s1")]
    assert (first[0].transition.before.sessions, first[0].transition.after.sessions) == (2, 1)
    assert [(e.session_id, e.transition.after.sessions) for e in second] == [("s2", 0)]
    assert await presence_store.expire_due(400.0, limit=100) == []


async def test_touch_pushes_expiry_back(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)
    touched = await presence_store.touch("u1", "s1", META, expires_at=280.0)

    assert touched.before == touched.after
    assert await presence_store.expire_due(270.0, limit=100) == []
    assert len(await presence_store.expire_due(280.0, limit=100)) == 1


async def test_touch_brings_back_an_expired_session(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)
    await presence_store.expire_due(200.0, limit=100)

    touched = await presence_store.touch("u1", "s1", META, expires_at=290.0)

    assert (touched.before.sessions, touched.after.sessions) == (0, 1)


async def test_an_ended_session_does_not_expire_later(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)
    await presence_store.end("u1", "s1")

    assert await presence_store.expire_due(1000.0, limit=100) == []


async def test_expire_due_respects_its_limit(presence_store) -> None:
    for n in range(7):
        await presence_store.register(f"u{n}", "s", META, expires_at=190.0 + n)

    batches = [len(await presence_store.expire_due(500.0, limit=3)) for _ in range(4)]

    assert batches == [3, 3, 1, 0]


IDLE = Choice("IDLE", remember=True)
AWAY = Choice("AWAY", remember=True)


async def test_a_decay_is_claimed_when_due_and_only_once(presence_store) -> None:
    await presence_store.choose("u1", "s1", META, IDLE, expires_at=190.0, decays_at=700.0)

    assert await presence_store.claim_due_decays(699.9, limit=10) == []
    claimed = await presence_store.claim_due_decays(700.0, limit=10)
    assert [(d.user_id, d.status, d.due) for d in claimed] == [("u1", "IDLE", 700.0)]
    assert await presence_store.claim_due_decays(800.0, limit=10) == []


async def test_a_claimed_decay_replaces_the_choice(presence_store) -> None:
    await presence_store.choose("u1", "s1", META, IDLE, expires_at=190.0, decays_at=700.0)
    [due] = await presence_store.claim_due_decays(700.0, limit=10)

    decayed = await presence_store.decay(due, AWAY, decays_at=None)

    assert (decayed.before.choice, decayed.after.choice) == (IDLE, AWAY)
    assert decayed.before.sessions == decayed.after.sessions == 1
    assert ((await presence_store.states(["u1"]))[0]).choice == AWAY
    assert await presence_store.claim_due_decays(10_000.0, limit=10) == []


async def test_a_decay_schedules_the_next_one(presence_store) -> None:
    await presence_store.choose("u1", "s1", META, IDLE, expires_at=190.0, decays_at=700.0)
    [due] = await presence_store.claim_due_decays(700.0, limit=10)
    await presence_store.decay(due, AWAY, decays_at=900.0)

    [after] = await presence_store.claim_due_decays(900.0, limit=10)
    assert (after.status, after.due) == ("AWAY", 900.0)


async def test_a_decay_made_stale_by_a_new_choice_does_nothing(presence_store) -> None:
    await presence_store.choose("u1", "s1", META, IDLE, expires_at=190.0, decays_at=700.0)
    [due] = await presence_store.claim_due_decays(700.0, limit=10)
    await presence_store.choose("u1", "s1", META, IDLE, expires_at=190.0, decays_at=1300.0)

    assert await presence_store.decay(due, AWAY, decays_at=None) is None
    assert ((await presence_store.states(["u1"]))[0]).choice == IDLE


async def test_a_choice_without_decay_cancels_the_pending_one(presence_store) -> None:
    await presence_store.choose("u1", "s1", META, IDLE, expires_at=190.0, decays_at=700.0)
    await presence_store.choose("u1", "s1", META, DND, expires_at=190.0)

    assert await presence_store.claim_due_decays(10_000.0, limit=10) == []


async def test_a_user_without_sessions_decays_too(presence_store) -> None:
    await presence_store.choose("u1", "s1", META, IDLE, expires_at=190.0, decays_at=700.0)
    await presence_store.end("u1", "s1")
    [due] = await presence_store.claim_due_decays(700.0, limit=10)

    decayed = await presence_store.decay(due, AWAY, decays_at=None)

    assert decayed.after == UserState(0, AWAY, True)


async def _choices(*items):
    for item in items:
        yield (*item, None)


async def test_seeding_teaches_remembered_choices_and_settles_everyone_else(presence_store) -> None:
    assert await presence_store.needs_seeding()
    await presence_store.choose("chosen-here", "s1", META, IDLE, expires_at=190.0)

    learnt = await presence_store.seed_choices(
        _choices(("u1", DND, None), ("chosen-here", DND, None), ("u2", IDLE, 700.0))
    )

    assert learnt == 2
    assert not await presence_store.needs_seeding()
    assert ((await presence_store.states(["u1"]))[0]).choice == DND
    assert ((await presence_store.states(["chosen-here"]))[0]).choice == IDLE  # the store's own choice wins
    stranger = await presence_store.register("stranger", "s1", META, expires_at=190.0)
    assert stranger.after.choice_known and stranger.after.choice is None
    [due] = await presence_store.claim_due_decays(700.0, limit=10)
    assert (due.user_id, due.status) == ("u2", "IDLE")


async def test_a_seeded_user_comes_back_with_their_choice(presence_store) -> None:
    await presence_store.seed_choices(_choices(("u1", DND, None)))

    back = await presence_store.register("u1", "s1", META, expires_at=190.0)

    assert back.first_session and back.before.choice == DND and back.after.choice_known


async def test_the_last_session_ending_with_grace_leaves_the_user_lingering(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)
    await presence_store.choose("u1", "s1", META, APPEAR_OFFLINE, expires_at=190.0)

    ended = await presence_store.end("u1", "s1", grace_until=105.0)

    assert ended.after == UserState(0, APPEAR_OFFLINE, True, lingering=True)
    assert ((await presence_store.states(["u1"]))[0]).lingering


async def test_a_session_within_the_grace_cancels_going_offline(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)
    await presence_store.end("u1", "s1", grace_until=105.0)

    back = await presence_store.register("u1", "s2", META, expires_at=200.0)

    assert back.before.lingering and not back.after.lingering
    assert await presence_store.settle_due_graces(1000.0, limit=10) == []


async def test_a_grace_that_runs_out_settles_once(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)
    await presence_store.choose("u1", "s1", META, APPEAR_OFFLINE, expires_at=190.0)
    await presence_store.end("u1", "s1", grace_until=105.0)

    assert await presence_store.settle_due_graces(104.9, limit=10) == []
    [settled] = await presence_store.settle_due_graces(105.0, limit=10)

    assert settled.user_id == "u1"
    assert settled.transition.before.lingering and not settled.transition.after.lingering
    assert settled.transition.after.choice is None  # a choice not remembered ends now
    assert await presence_store.settle_due_graces(1000.0, limit=10) == []


async def test_one_of_two_sessions_ending_with_grace_is_just_an_end(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)
    await presence_store.register("u1", "s2", META, expires_at=190.0)

    ended = await presence_store.end("u1", "s1", grace_until=105.0)

    assert ended.after == UserState(1, None, ended.after.choice_known, lingering=False)
    assert await presence_store.settle_due_graces(1000.0, limit=10) == []


async def test_ending_this_instances_sessions_ends_them_all_without_grace(presence_store) -> None:
    for n in range(7):
        await presence_store.register(f"u{n % 3}", f"s{n}", META, expires_at=190.0)

    first = await presence_store.end_instance_sessions(None, limit=5)
    rest = await presence_store.end_instance_sessions(None, limit=5)

    assert len(first) == 5 and len(rest) == 2
    states = [(await presence_store.states([f"u{n}"]))[0] for n in range(3)]
    assert {s.sessions for s in states} == {0}
    assert not any(s.lingering for s in states)
    assert await presence_store.expire_due(10_000.0, limit=100) == []


async def test_states_reads_many_users_in_the_order_asked(presence_store) -> None:
    await presence_store.seed_choices(_choices(("away", DND, None)))
    await presence_store.register("on", "s1", META, expires_at=190.0)
    await presence_store.register("on", "s2", META, expires_at=190.0)
    await presence_store.choose("busy", "s1", META, DND, expires_at=190.0)
    await presence_store.register("reloading", "s1", META, expires_at=190.0)
    await presence_store.end("reloading", "s1", grace_until=105.0)
    users = ["busy", "nobody", "on", "away", "reloading"]

    states = await presence_store.states(users)

    assert states == [
        UserState(1, DND, True),
        UserState(0, None, True),
        UserState(2, None, True),
        UserState(0, DND, True),
        UserState(0, None, True, lingering=True),
    ]
    assert states == [(await presence_store.states([u]))[0] for u in users]
    assert await presence_store.states([]) == []


async def test_states_before_seeding_say_the_choice_is_unknown(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)

    assert await presence_store.states(["u1", "u2"]) == [UserState(1, None, False), UserState(0, None, False)]


async def test_states_of_a_thousand_users(presence_store) -> None:
    for n in range(0, 1000, 10):
        await presence_store.register(f"u{n}", "s1", META, expires_at=190.0)

    states = await presence_store.states([f"u{n}" for n in range(1000)])

    assert [n for n, state in enumerate(states) if state.sessions] == list(range(0, 1000, 10))


async def test_renew_many_pushes_live_sessions_back_and_never_earlier(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)
    await presence_store.register("u2", "s1", META, expires_at=300.0)

    live = await presence_store.renew_many([Renewal("u1", "s1", 280.0), Renewal("u2", "s1", 250.0)])

    assert live == [True, True]
    assert await presence_store.expire_due(279.0, limit=100) == []
    assert [e.user_id for e in await presence_store.expire_due(280.0, limit=100)] == ["u1"]
    assert [e.user_id for e in await presence_store.expire_due(300.0, limit=100)] == ["u2"]


async def test_renew_many_brings_no_ended_session_back(presence_store) -> None:
    await presence_store.register("u1", "s1", META, expires_at=190.0)
    await presence_store.end("u1", "s1")

    assert await presence_store.renew_many([Renewal("u1", "s1", 280.0), Renewal("u9", "s9", 280.0)]) == [False, False]
    assert (await presence_store.states(["u1"]))[0].sessions == 0
    assert await presence_store.expire_due(1000.0, limit=100) == []
