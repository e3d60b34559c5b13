"""A hypercorn worker stops as a single instance does.

Hypercorn's parent stops its workers by setting a shared event, which a worker's server
notices, closes its listener, waits ``graceful_timeout`` for connections, and only then
runs the app's ``after_serving``; once the first worker has exited, the parent sends
SIGTERM to the others; and a SIGTERM to the whole process group (systemd, a terminal)
reaches every worker at once. A worker has no handler of its own, so SIGTERM killed it
mid-way, leaving its session index and lease in Redis for a survivor or the next start
to clean up ("stopped holding its lease").

So a worker follows both itself: on the parent's event or on SIGTERM it does at once
what ``presence-gateway serve`` does on a signal (end its sessions in one batch, release
its lease, tell every client to disconnect), and keeps a SIGTERM handler until it exits,
so a late SIGTERM from the parent no longer cuts ``after_serving`` short. A SIGTERM sent
to this worker alone (the parent is not stopping) ends it cleanly, with exit code 0, and
hypercorn starts a replacement.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable

import anyio

from ...compat.hypercorn_worker import HypercornWorker

log = logging.getLogger(__name__)

# How often the parent's event is looked at: hypercorn's own period.
PARENT_CHECK_INTERVAL = 0.1
# After a SIGTERM, how long to wait for the parent's event before deciding that only this
# worker was asked to stop (a SIGTERM to the process group reaches the parent as well).
ALONE_AFTER = 1.0


class ParentFollower:
    """``drain`` ends this instance's sessions and disconnects its clients; ``stop`` is
    what ``after_serving`` runs (``stopping()`` once it has begun), for the exit of a
    worker stopped alone. Runs as a task of its own beside the background work, so it
    also outlives that work's failure (whose SIGTERM then restarts the worker cleanly).

    The SIGTERM handler stays until ``after_serving`` has run (``finished``): a SIGTERM
    the parent sends once another worker has exited no longer cuts it short."""

    def __init__(
        self,
        worker: HypercornWorker,
        drain: Callable[[], Awaitable[None]],
        stop: Callable[[], Awaitable[None]],
        stopping: Callable[[], bool],
    ) -> None:
        self._worker = worker
        self._drain = drain
        self._stop = stop
        self._stopping = stopping
        # Once set, the server's shutdown waits for this task instead of cancelling it:
        # a drain cut short would leave sessions behind.
        self.draining = False

    def _asked(self) -> bool:
        return self._worker.parent_stopping or self._stopping()

    async def run(self) -> None:
        told = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, told.set)
        while not told.is_set() and not self._worker.parent_stopping:
            with anyio.move_on_after(PARENT_CHECK_INTERVAL):
                await told.wait()
        self.draining = True
        try:
            await self._drain()
        except Exception:  # what it could not end, survivors or the next start will
            log.exception("ending this worker's sessions failed")
        with anyio.move_on_after(ALONE_AFTER):
            while not self._asked():
                await anyio.sleep(PARENT_CHECK_INTERVAL)
        if not self._asked():
            log.info("this worker alone was asked to stop: exiting (hypercorn starts another)")
            await self._stop()
            os._exit(0)  # hypercorn offers an app no way to end one worker's server

    @staticmethod
    def finished() -> None:
        """``after_serving`` has run: no work is left that a SIGTERM could cut short, so a
        late one ends the process at once, with 0. The loop's handler goes first: asyncio
        closes its wakeup pipe before it removes its handlers, and a SIGTERM in between
        printed "Exception ignored when trying to write to the signal wakeup fd" and a
        traceback in the worker's log at every few shutdowns."""
        asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
        signal.set_wakeup_fd(-1)  # a handler hypercorn or a library left must not write to it either
        signal.signal(signal.SIGTERM, _exit_now)


def _exit_now(*_: object) -> None:
    os._exit(0)
