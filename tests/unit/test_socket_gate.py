"""The per-event gate (token expiry, event budget) and the per-user socket cap, through
the Clock port."""

from __future__ import annotations

from presence_gateway.domain.event_budget import EventBudget
from presence_gateway.domain.ports import SessionMeta
from presence_gateway.domain.sockets_per_user import SocketsPerUser
from presence_gateway.entrypoints.sockets.events import SocketSession
from presence_gateway.entrypoints.sockets.gate import SocketGate
from tests.fakes import FakeClock

META = SessionMeta(device="web", connected_at=0.0, ip="127.0.0.1")


def gate_and_session(clock: FakeClock, per_minute: int = 120, expires_in: float = 3600.0):
    gate = SocketGate(clock, EventBudget(per_minute), SocketsPerUser(3))
    session = SocketSession("u1", META, clock.now() + expires_in)
    gate.budget.fill(session, clock.now())
    return gate, session


def codes(gate: SocketGate, session: SocketSession, n: int) -> list[str | None]:
    return [getattr(gate.refusal(session), "code", None) for _ in range(n)]


def test_a_burst_up_to_the_minutes_budget_passes_and_the_next_event_is_rate_limited() -> None:
    clock = FakeClock()
    gate, session = gate_and_session(clock)
    assert codes(gate, session, 120) == [None] * 120
    assert codes(gate, session, 3) == ["rate_limited"] * 3


def test_the_budget_refills_at_its_rate_and_never_beyond_a_minutes_worth() -> None:
    clock = FakeClock()
    gate, session = gate_and_session(clock)
    codes(gate, session, 121)
    clock.advance(0.5)  # 2 events per second
    assert codes(gate, session, 2) == [None, "rate_limited"]
    clock.advance(1800)
    assert codes(gate, session, 121).count(None) == 120


def test_a_client_under_the_rate_is_never_refused() -> None:
    clock = FakeClock()
    gate, session = gate_and_session(clock, per_minute=60)
    for _ in range(1000):
        clock.advance(1.0)
        assert gate.refusal(session) is None


def test_an_event_after_the_token_expired_is_refused_as_expired() -> None:
    clock = FakeClock()
    gate, session = gate_and_session(clock, expires_in=3.0)
    assert gate.refusal(session) is None
    clock.advance(3.0)
    assert gate.refusal(session).code == "token_expired"


def test_sockets_per_user_are_capped_and_released() -> None:
    sockets = SocketsPerUser(2)
    assert [sockets.admit("u1") for _ in range(3)] == [True, True, False]
    assert sockets.admit("u2")
    sockets.release("u1")
    assert sockets.admit("u1")
    for _ in range(5):
        sockets.release("u2")
    assert sockets.count("u2") == 0 and sockets.admit("u2")
