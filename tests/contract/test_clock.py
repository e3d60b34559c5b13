"""The Clock contract: seconds since the Unix epoch that move as time passes and never go
backwards — for the system clock, even when the machine's wall clock is stepped back; for
the fake the unit tests move, which refuses to be moved backwards (so no unit test can
build a past the port rules out)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from presence_gateway.adapters.clock import SystemClock
from tests.fakes import FakeClock

HOUR = 3600.0


class SystemDriver:
    """The real clock; time passes for real (a few milliseconds), and the wall clock is
    stepped by replacing ``time.time`` under it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.clock = SystemClock()
        self._monkeypatch = monkeypatch

    def pass_time(self, seconds: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            pass
        return time.monotonic() - start

    def step_wall_clock_back(self, seconds: float) -> None:
        wall = time.time
        self._monkeypatch.setattr(time, "time", lambda: wall() - seconds)


class FakeDriver:
    """The unit tests' clock: time passes when the test says so."""

    def __init__(self) -> None:
        self.clock = FakeClock()

    def pass_time(self, seconds: float) -> float:
        self.clock.advance(seconds)
        return seconds

    def step_wall_clock_back(self, seconds: float) -> None:
        with pytest.raises(ValueError):
            self.clock.advance(-seconds)


@pytest.fixture(params=["system", "fake"])
def driver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    return SystemDriver(monkeypatch) if request.param == "system" else FakeDriver()


def test_now_is_seconds_since_the_unix_epoch(driver) -> None:
    reading = driver.clock.now()

    assert isinstance(reading, float)
    assert 2020 <= datetime.fromtimestamp(reading, UTC).year < 2100


def test_the_system_clock_starts_at_the_wall_clock() -> None:
    assert abs(SystemClock().now() - time.time()) < 0.01


def test_now_moves_by_the_time_that_passed(driver) -> None:
    before = driver.clock.now()
    passed = driver.pass_time(0.01)
    after = driver.clock.now()

    assert passed - 1e-6 <= after - before < passed + 0.25  # the slack: a busy machine may pause the test


def test_now_never_goes_backwards(driver) -> None:
    readings = []
    for _ in range(200):
        readings.append(driver.clock.now())
        driver.pass_time(0.0001)

    assert readings == sorted(readings)
    assert readings[-1] > readings[0]


def test_now_does_not_go_backwards_when_the_wall_clock_is_stepped_back(driver) -> None:
    before = driver.clock.now()
    driver.step_wall_clock_back(HOUR)
    passed = driver.pass_time(0.001)
    after = driver.clock.now()

    assert passed - 1e-6 <= after - before < passed + 0.25
