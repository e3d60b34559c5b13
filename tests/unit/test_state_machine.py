"""The pure decision, table-driven: a before/after snapshot in, at most one change out."""

from __future__ import annotations

import pytest

from presence_gateway.domain.presence import Choice, Transition, UserState, decide
from presence_gateway.domain.statuses import default_registry
from tests.fakes import known

REGISTRY = default_registry()
NOW = 1000.0
IDLE = Choice("IDLE", True)
DND = Choice("DND", True)
INVISIBLE = Choice("INVISIBLE", True)
APPEAR_OFFLINE = Choice("OFFLINE", False)


def state(sessions: int, choice: Choice | None = None, idle: int = 0) -> UserState:
    """``sessions`` web sockets, the first ``idle`` of them idle."""
    sockets = tuple(("web", "IDLE" if n < idle else "ONLINE") for n in range(sessions))
    return UserState(sessions, choice, socket_states=sockets)


def lingering(choice: Choice | None = None) -> UserState:
    return UserState(0, choice, lingering=True)


# before, after, (own before → own after) or None, (public before → after) or None, durable (status, chosen) or None
CASES = [
    ("first socket", state(0), state(1), ("OFFLINE", "ONLINE"), ("OFFLINE", "ONLINE"), ("ONLINE", None)),
    ("second socket", state(1), state(2), None, None, None),
    ("one of two closes", state(2), state(1), None, None, None),
    ("last closes", state(1), state(0), ("ONLINE", "OFFLINE"), ("ONLINE", "OFFLINE"), ("OFFLINE", None)),
    ("ping", state(1, DND), state(1, DND), None, None, None),
    ("socket goes idle", state(1), state(1, idle=1), ("ONLINE", "IDLE"), ("ONLINE", "IDLE"), ("IDLE", None)),
    ("one of two idle", state(2), state(2, idle=1), None, None, None),
    ("idle to dnd", state(2, idle=2), state(2, DND, idle=2), ("IDLE", "DND"), ("IDLE", "DND"), ("DND", "DND")),
    ("remembered idle follows the sockets", state(0, IDLE), state(1, IDLE), ("OFFLINE", "ONLINE"), ("OFFLINE", "ONLINE"),
     ("ONLINE", "IDLE")),
    ("reconnect dnd", state(0, DND), state(1, DND), ("OFFLINE", "DND"), ("OFFLINE", "DND"), ("DND", "DND")),
    ("last closes dnd", state(1, DND), state(0, DND), ("DND", "OFFLINE"), ("DND", "OFFLINE"), ("OFFLINE", "DND")),
    ("go invisible", state(1), state(1, INVISIBLE), ("ONLINE", "INVISIBLE"), ("ONLINE", "OFFLINE"), ("OFFLINE", "INVISIBLE")),
    ("invisible leaves", state(1, INVISIBLE), state(0, INVISIBLE), ("INVISIBLE", "OFFLINE"), None, None),
    ("invisible returns", state(0, INVISIBLE), state(1, INVISIBLE), ("OFFLINE", "INVISIBLE"), None, None),
    ("invisible to offline", state(1, INVISIBLE), state(1, APPEAR_OFFLINE), ("INVISIBLE", "OFFLINE"), None, ("OFFLINE", None)),
    ("appear offline", state(1), state(1, APPEAR_OFFLINE), ("ONLINE", "OFFLINE"), ("ONLINE", "OFFLINE"), ("OFFLINE", None)),
    ("appear offline leaves", state(1, APPEAR_OFFLINE), state(0), None, None, None),
    ("invisible to dnd", state(1, INVISIBLE), state(1, DND), ("INVISIBLE", "DND"), ("OFFLINE", "DND"), ("DND", "DND")),
    ("last closes, grace begins", state(1, DND), lingering(DND), None, None, None),
    ("reload within grace", lingering(DND), state(1, DND), None, None, None),
    ("grace ends", lingering(DND), state(0, DND), ("DND", "OFFLINE"), ("DND", "OFFLINE"), ("OFFLINE", "DND")),
    ("grace ends, appear-offline forgotten", lingering(APPEAR_OFFLINE), state(0), None, None, None),
]


@pytest.mark.parametrize(("name", "before", "after", "own", "public", "durable"), CASES, ids=[c[0] for c in CASES])
def test_decision(name, before, after, own, public, durable) -> None:
    outcome = decide(REGISTRY, "u", Transition(before, after), NOW)

    if own is None:
        assert outcome.change is None
    else:
        change = known(outcome.change)
        assert (change.previous, change.status) == own
        assert change.public_changed == (public is not None)
        if public is not None:
            assert (change.previous_public, change.public) == public
    if durable is None:
        assert outcome.durable is None
    else:
        record = known(outcome.durable)
        assert (record.status, record.chosen, record.at) == (*durable, NOW)


@pytest.mark.parametrize(
    ("before", "after", "moves"),
    [
        (state(0), state(1), True),  # comes online
        (state(1), state(0), True),  # leaves
        (state(1), state(1, idle=1), True),  # active while online
        (state(1), state(1, INVISIBLE), True),  # last seen as they vanished
        (state(1, INVISIBLE), state(0, INVISIBLE), False),  # nothing moves while invisible
        (state(1, INVISIBLE), state(1, APPEAR_OFFLINE), False),
    ],
)
def test_last_seen_moves_only_when_others_could_see_the_user(before, after, moves) -> None:
    outcome = decide(REGISTRY, "u", Transition(before, after), NOW)
    last_seen = outcome.durable.last_seen if outcome.durable else None
    assert (last_seen == NOW) == moves
