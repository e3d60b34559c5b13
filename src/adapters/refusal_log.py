"""Refusals of hostile input, counted by reason and logged at most once per interval.

A client can send refused input as fast as it likes; a log line per refusal would let it
fill the disk and drown everything else. One line per ``interval`` carries the latest
refusal (its subject escaped with ``%r``) and how many came since the previous line.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("presence_gateway.refusals")


class RefusalLog:
    """Refusals, counted by reason; logged at most once per ``interval``."""

    def __init__(self, what: str, interval: float = 10.0) -> None:
        self.what = what
        self.interval = interval
        self.counts: dict[str, int] = {}
        self._unlogged = 0
        self._next_log = 0.0

    def note(self, reason: str, who: object) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        self._unlogged += 1
        now = time.monotonic()
        if now >= self._next_log:
            self._next_log = now + self.interval
            log.warning(
                "%s %r refused: %s (%d refusals since the last such line)",
                self.what,
                who,
                reason,
                self._unlogged,
            )
            self._unlogged = 0
