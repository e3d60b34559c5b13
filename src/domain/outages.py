"""A dependency that is down (Redis, the database): how long to wait before trying again,
and when to say so.

Every loop that retries waits longer after each failure, up to a bound, and starts short
again once the dependency answers (``Backoff``). An outage is said when it begins and when
it ends, not on every failed attempt: a retry every half second would otherwise write a
line every half second for as long as the outage lasts (``Outage``). Both only count; the
caller sleeps, logs and reads the time.
"""

from __future__ import annotations


class Backoff:
    """Delays from ``initial``, doubling up to ``maximum``."""

    __slots__ = ("initial", "maximum", "_next")

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self._next = initial

    def next(self) -> float:
        """The delay before the next attempt; the one after it is twice as long."""
        delay = self._next
        self._next = min(delay * 2, self.maximum)
        return delay

    def reset(self) -> None:
        """The dependency answered: the next outage starts with a short delay again."""
        self._next = self.initial


class Outage:
    """Failed attempts in a row; ``since`` is what the caller gave the first one of the
    latest outage (a time of its choosing)."""

    __slots__ = ("failures", "since")

    def __init__(self) -> None:
        self.failures = 0
        self.since = 0.0

    @property
    def down(self) -> bool:
        return self.failures > 0

    def failed(self, at: float = 0.0) -> bool:
        """Count a failure; True for the first of an outage, the one to say."""
        self.failures += 1
        if self.failures == 1:
            self.since = at
            return True
        return False

    def recovered(self) -> int:
        """Count a success; the failures it ends, to say (0 when there were none)."""
        failures, self.failures = self.failures, 0
        return failures
