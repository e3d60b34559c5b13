"""The retry delays and the outage count every retrying loop shares."""

from __future__ import annotations

from presence_gateway.domain.outages import Backoff, Outage


def test_delays_double_up_to_the_bound_and_start_short_again() -> None:
    backoff = Backoff(0.5, 3.0)
    assert [backoff.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next() == 0.5


def test_an_outage_is_said_once_when_it_begins_and_once_when_it_ends() -> None:
    outage = Outage()
    assert outage.recovered() == 0  # nothing to say: it was never down
    assert [outage.failed(at) for at in (10.0, 11.0, 12.0)] == [True, False, False]
    assert outage.down and outage.since == 10.0
    assert outage.recovered() == 3
    assert not outage.down and outage.recovered() == 0
    assert outage.failed(20.0) and outage.since == 20.0  # the next outage is said again
