"""The durable repository, with each batch write timed for the latency histogram.

Timed here, around the one call the write-behind makes per batch (``save_many``), so
socket events pay nothing: a batch carries up to hundreds of records and is written off
the event path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any


class TimedWrites:
    def __init__(self, inner: Any, observe: Callable[[float], None]) -> None:
        self._inner = inner
        self._observe = observe

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def save_many(self, records: Sequence[Any]) -> None:
        started = time.perf_counter()
        try:
            await self._inner.save_many(records)
        finally:
            self._observe(time.perf_counter() - started)
