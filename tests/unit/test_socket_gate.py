"""The per-event gate (token expiry, the socket's and the user's budgets, costs), the
connection attempts and the per-user socket cap, through the Clock port."""

from __future__ import annotations

from presence_gateway.domain.budget import Budget
from presence_gateway.domain.ports import SessionMeta
from presence_gateway.domain.sockets_per_user import SocketsPerUser
from presence_gateway.entrypoints.sockets.budgets import BucketTable
from presence_gateway.entrypoints.sockets.events import SocketSession
from presence_gateway.entrypoints.sockets.gate import OVER_BUDGET, SocketGate
from tests.fakes import FakeClock

META = SessionMeta(device="web", connected_at=0.0, ip="127.0.0.1")


def gate_and_session(clock: FakeClock, per_minute: int = 120, expires_in: float = 3600.0):
    gate = SocketGate(clock, Budget(per_minute), SocketsPerUser(3))
    session = SocketSession("u1", META, clock.now() + expires_in)
    assert gate.admit(session, clock.now())
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


def test_a_users_sockets_share_one_budget_and_an_event_costs_what_it_names() -> None:
    clock = FakeClock()
    gate = SocketGate(clock, Budget(120), SocketsPerUser(5), user_budget=Budget(200))
    sockets = [SocketSession("u1", META, float("inf")) for _ in range(3)]
    for session in sockets:
        assert gate.admit(session, clock.now())
    # 3 sockets × 120 would be 360 alone; together they get the user's 200.
    passed = [gate.refusal(sockets[i % 3]) is None for i in range(300)].count(True)
    assert passed == 200
    other = SocketSession("u2", META, float("inf"))
    assert gate.admit(other, clock.now())
    assert [gate.refusal(other, 11.0) is None for _ in range(11)].count(True) == 10  # 110 of 120


def test_a_socket_refused_ten_times_in_a_row_is_told_it_is_closed() -> None:
    clock = FakeClock()
    gate, session = gate_and_session(clock, per_minute=5)
    assert codes(gate, session, 5) == [None] * 5
    refusals = [gate.refusal(session) for _ in range(10)]
    assert [r.code for r in refusals] == ["rate_limited"] * 10
    assert refusals[-1] is OVER_BUDGET and all(r is not OVER_BUDGET for r in refusals[:-1])


def test_connection_attempts_are_counted_per_claimed_user_and_per_address_before_any_token_check() -> None:
    clock = FakeClock()
    gate = SocketGate(
        clock, Budget(), SocketsPerUser(), connects_per_user=Budget(3), connects_per_address=Budget(5)
    )
    now = clock.now()
    assert [gate.attempt("10.0.0.1", "storm", now) for _ in range(4)] == [True, True, True, False]
    assert gate.attempt("10.0.0.1", "bystander", now)  # the same address, another user
    assert not gate.attempt("10.0.0.1", "someone", now)  # the address's 5 are spent
    assert gate.attempt("10.0.0.2", "someone", now)
    clock.advance(20.0)  # 3 per minute: one more every 20 s
    assert gate.attempt("10.0.0.2", "storm", clock.now())


def test_a_flood_of_distinct_keys_never_grows_a_table_past_its_bound() -> None:
    table = BucketTable(Budget(3), max_rows=100)
    for i in range(10_000):
        table.spend(f"user-{i}", 0.0)
        assert len(table) <= 100
    assert [table.spend("held", 0.0) for _ in range(4)] == [True, True, True, False]
