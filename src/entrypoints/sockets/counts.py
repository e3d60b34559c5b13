"""What the socket handlers count, as plain integers the metrics collector reads at scrape
time (``metrics.py``): an increment costs about as much as a local assignment, where a
labelled prometheus_client counter would take a lock and a label lookup per event."""

from __future__ import annotations


class SocketCounts:
    __slots__ = ("connects", "disconnects", "pings", "updates", "subscribes", "unsubscribes", "errors", "refusals")

    def __init__(self) -> None:
        self.connects = 0  # sockets that reached `connected`
        self.disconnects = 0
        self.pings = 0
        self.updates = 0  # presence:update frames received
        self.subscribes = self.unsubscribes = 0
        self.errors: dict[str, int] = {}  # by event (connect too): answered with `error` (rare, off the hot path)
        self.refusals: dict[str, int] = {}  # by refusal code (missing / invalid / expired token …)

    def count_error(self, event: str) -> None:
        self.errors[event] = self.errors.get(event, 0) + 1

    def count_refusal(self, code: str) -> None:
        self.refusals[code] = self.refusals.get(code, 0) + 1
