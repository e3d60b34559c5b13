"""Wall-clock time for the Clock port, which promises it never goes backwards.

``time.time()`` can: an NTP step or an operator setting the date moves it, and a session's
expiry, a decay or a last-seen written just before would then lie in the future. The wall
clock is read once, at start; from then on time advances by the monotonic clock, which
steps never move and NTP slews together with the wall clock. The price: a step of the wall
clock after start is not followed (the process keeps the time it had until it restarts).
A reading costs what ``time.time()`` did: one clock read and one addition.
"""

from __future__ import annotations

import time

_monotonic = time.monotonic


class SystemClock:
    __slots__ = ("_offset",)

    def __init__(self) -> None:
        self._offset = time.time() - _monotonic()

    def now(self) -> float:
        return self._offset + _monotonic()
