"""Start and stop of one gateway instance, in an explicit order: resources, start steps and
background jobs are the container's (``containers.py``); this module only sequences them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import anyio

from ...adapters.socketio.server import PresenceSocketServer
from ...compat.hypercorn_worker import HypercornWorker
from ...domain.ports import Clock
from ...service_layer.durable_writer import DurableWriter
from ...service_layer.use_cases import PresenceService
from .background import Job, Supervisor
from .runtime import freeze_start_up_objects
from .worker_shutdown import ParentFollower

log = logging.getLogger(__name__)

FLUSH_TIMEOUT = 5.0
# How long shutdown waits for clients to close their connections once told to.
DISCONNECT_TIMEOUT = 1.0
END_SESSIONS_TIMEOUT = 5.0

Step = Callable[[], Awaitable[None]]


class Gateway:
    """``open_resources``/``close_resources``: the container's ``init_resources`` and
    ``shutdown_resources`` (the engine, the Redis clients, the data directory's lock);
    ``fleet``: whether other instances still serve, None when this process is the whole
    fleet; ``start_line``: the log line (and its fields) that says the instance is ready."""

    def __init__(
        self,
        *,
        open_resources: Callable[[], Awaitable[Any] | None],
        close_resources: Callable[[], Awaitable[Any] | None],
        start_steps: Sequence[Step],
        jobs: Sequence[Job],
        service: PresenceService,
        writer: DurableWriter,
        sio: PresenceSocketServer,
        fleet: Any,
        clock: Clock,
        start_line: tuple[str, dict[str, object]],
        worker: HypercornWorker | None = None,
    ) -> None:
        self._open_resources = open_resources
        self._close_resources = close_resources
        self._start_steps = list(start_steps)
        self._jobs = list(jobs)
        self._service = service
        self._writer = writer
        self._sio = sio
        self._fleet = fleet
        self._clock = clock
        self._start_line = start_line
        self.worker = worker
        self._supervisor: Supervisor | None = None
        self._follower: ParentFollower | None = None
        self._following: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        await awaited(self._open_resources())
        for step in self._start_steps:  # the schema first, then what the shape needs
            await step()
        self._supervisor = Supervisor(self._jobs)
        await self._supervisor.start()
        freeze_start_up_objects()
        if self.worker is not None:  # run by hypercorn's parent: stop when it says so
            self._follower = ParentFollower(self.worker, self.disconnect_all, self.stop, lambda: self._stopping)
            self._following = asyncio.get_running_loop().create_task(self._follower.run(), name="presence-follow-parent")
        message, fields = self._start_line
        log.info("%s", message, extra=fields)

    async def disconnect_all(self) -> None:
        """Shutdown, before the server waits on connections: end this instance's sessions
        in one batch (users connected elsewhere stay as they are, the rest go OFFLINE with
        one event each), give up the lease, then close every socket — python-engineio
        under hypercorn would otherwise wait for clients to leave."""
        await self._end_own_sessions()
        sio = self._sio
        # A Socket.IO DISCONNECT makes each client close its own connection (engine.io's
        # CLOSE alone leaves Node clients' websockets open until hypercorn cancels them).
        async with anyio.create_task_group() as tg:
            for sid, _ in list(sio.manager.get_participants("/", None)):
                tg.start_soon(sio.disconnect, sid)
        with anyio.move_on_after(DISCONNECT_TIMEOUT):
            while sio.eio.sockets:
                await anyio.sleep(0.02)  # the clients are closing; bounded by the timeout
        # Stragglers (a client gone quiet, a polling session never upgraded): close without
        # waiting for their send queues, which a vanished client never drains.
        with anyio.move_on_after(DISCONNECT_TIMEOUT):
            async with anyio.create_task_group() as tg:
                for socket in list(sio.eio.sockets.values()):
                    tg.start_soon(partial(socket.close, wait=False, reason=sio.eio.reason.SERVER_DISCONNECT))
        await sio.shutdown()

    async def _end_own_sessions(self) -> None:
        service = self._service
        if service.draining:
            return
        started = time.monotonic()
        try:
            with anyio.fail_after(END_SESSIONS_TIMEOUT):
                ended = await service.end_instance()
                await service.release_lease()
                settled = await self._settle_graces_if_last()
        except Exception as error:  # survivors (or the next start) will clean up after us
            service.draining = True
            log.error("could not end this instance's sessions at shutdown: %r", error)
            return
        log.info("ended %d sessions and %d offline graces in %.2fs", ended, settled, time.monotonic() - started)

    async def _settle_graces_if_last(self) -> int:
        """Users in their offline grace go OFFLINE now when no instance is left to settle
        them when due; the in-process store dies with this process, so it always is."""
        fleet = self._fleet
        if fleet is not None and await fleet.others_serving(self._clock.now()):
            return 0
        return await self._service.settle_graces()

    async def _stop_following(self) -> None:
        task, self._following = self._following, None
        if task is None or task is asyncio.current_task():
            return
        if not (self._follower and self._follower.draining):
            task.cancel()  # still waiting to be asked
        try:
            await task  # a drain under way ends first
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("following hypercorn's parent failed")

    async def stop(self) -> None:
        self._stopping = True
        await self._stop_following()  # waits for a drain under way
        await self._end_own_sessions()  # served by a plain hypercorn: no shutdown trigger ran
        if self._supervisor is not None:
            await self._supervisor.stop()
        writer = self._writer
        try:
            with anyio.fail_after(FLUSH_TIMEOUT):
                await writer.flush()
        except Exception:
            log.exception("%d durable status writes could not be flushed at shutdown", writer.pending)
        await awaited(self._close_resources())
        if self._follower is not None:
            self._follower.finished()


async def awaited(result: Awaitable[Any] | None) -> None:
    """dependency-injector returns an awaitable only when some resource is asynchronous."""
    if result is not None:
        await result
