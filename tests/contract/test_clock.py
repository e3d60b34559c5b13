"""The Clock contract, for the system clock and the fake the unit tests move."""

from __future__ import annotations

import time

import pytest

from presence_gateway.adapters.clock import SystemClock
from tests.fakes import FakeClock


@pytest.fixture(params=["system", "fake"])
def clock(request: pytest.FixtureRequest):
    return SystemClock() if request.param == "system" else FakeClock(time.time())


def test_now_is_unix_seconds(clock) -> None:
    assert abs(clock.now() - time.time()) < 5


def test_now_never_goes_backwards(clock) -> None:
    readings = [clock.now() for _ in range(1000)]
    assert readings == sorted(readings)


def test_the_fake_clock_moves_only_when_told() -> None:
    fake = FakeClock(100.0)
    assert fake.now() == 100.0
    fake.advance(2.5)
    assert fake.now() == 102.5
    with pytest.raises(ValueError):
        fake.advance(-1)
