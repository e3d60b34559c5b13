"""How long the event loop was held: a timer asked to fire every millisecond, and how late
it fired. Every socket waits as long as the loop is held, so this is the figure behind a
latency outlier (a durable write, a large subscribe, a slow callback).

Off by default (``PRESENCE_LOOP_MONITOR=1`` turns it on): a thousand wake-ups a second
cost about a percent of a core. Read at ``GET /debug/loop`` (``?reset=1`` starts a new
window), which exists only while it is on.
"""

from __future__ import annotations

import time

import anyio
from quart import Blueprint, request

PERIOD = 0.001


class LoopLag:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._lags: list[float] = []
        self._since = time.monotonic()

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        clock = time.perf_counter
        while True:
            started = clock()
            await anyio.sleep(PERIOD)
            self._lags.append(clock() - started - PERIOD)
            if len(self._lags) >= 1_000_000:  # about a quarter of an hour: keep the window bounded
                self.reset()

    def figures(self) -> dict[str, float | int]:
        lags = sorted(self._lags)
        if not lags:
            return {"samples": 0, "seconds": round(time.monotonic() - self._since, 3)}

        def ms(p: float) -> float:
            return round(lags[min(len(lags) - 1, int(p * len(lags)))] * 1000, 3)

        return {
            "samples": len(lags),
            "seconds": round(time.monotonic() - self._since, 3),
            "p50_ms": ms(0.5),
            "p99_ms": ms(0.99),
            "max_ms": round(lags[-1] * 1000, 3),
        }


def loop_lag_blueprint(monitor: LoopLag) -> Blueprint:
    bp = Blueprint("loop_lag", __name__)

    @bp.get("/debug/loop")
    async def loop() -> dict[str, float | int]:
        figures = monitor.figures()
        if request.args.get("reset"):
            monitor.reset()
        return figures

    return bp
