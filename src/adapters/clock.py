"""Wall-clock time for the Clock port."""

from __future__ import annotations

import time


class SystemClock:
    __slots__ = ()

    def now(self) -> float:
        return time.time()
