"""Start and stop of one gateway instance, in an explicit order (the container's async
resource start-up is unordered, and these steps depend on each other)."""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial

import anyio
from redis.exceptions import RedisError

from ..domain.statuses import OFFLINE
from ..service_layer.instance_lease import keep_lease, watch_dead_instances
from ..service_layer.restore import keep_sessions_restored
from ..service_layer.sweeper import run_sweeper
from ..service_layer.warm_up import warm_up
from .background import Supervisor
from .containers import Container
from .database import prepare_database
from .runtime import freeze_start_up_objects
from .hypercorn_worker import HypercornWorker
from .settings import Settings
from .start_line import describe_instance
from .single_instance import SingleInstanceLock, claim_single_instance
from .worker_shutdown import ParentFollower

log = logging.getLogger(__name__)

FLUSH_TIMEOUT = 5.0
# How long shutdown waits for clients to close their connections once told to.
DISCONNECT_TIMEOUT = 1.0
END_SESSIONS_TIMEOUT = 5.0


class Gateway:
    def __init__(
        self,
        container: Container,
        settings: Settings,
        worker: HypercornWorker | None = None,
        *,
        lock: SingleInstanceLock | None = None,
    ) -> None:
        self.container = container
        self.settings = settings
        self.worker = worker
        self._supervisor: Supervisor | None = None
        self._follower: ParentFollower | None = None
        self._following: asyncio.Task[None] | None = None
        self._stopping = False
        self._lock = lock

    async def start(self) -> None:
        c = self.container
        await prepare_database(c.engine(), self.settings)  # upgrade, or check in production
        repository = c.status_repository()
        if c.kind() == "redis":
            await self._start_shared_presence()
        else:
            if self._lock is None:  # served by a plain hypercorn: nobody claimed it yet
                self._lock = claim_single_instance(self.settings.data_dir)
            # The in-process store starts empty: any user the durable table still shows
            # online was left there by a previous run that did not shut down cleanly.
            stale = await repository.mark_all_offline(OFFLINE, c.clock().now())
            if stale:
                log.warning("marked %d users OFFLINE that a previous run left online", stale)
        service = c.presence_service()
        jobs = [
            c.durable_writer().run,
            partial(run_sweeper, service, self.settings.sweep_interval),
            partial(warm_up, service),
            c.socket_sweeper().run,  # handshake deadline and token expiry, for every socket
        ]
        if c.kind() == "redis":
            jobs += [
                partial(keep_lease, service, self.settings.lease_ttl),
                partial(watch_dead_instances, service, self.settings.lease_check_interval),
                # Redis outages: the prober (circuit, /readyz), python-socketio's listener,
                # and the restore of this instance's sessions after Redis lost them.
                c.redis_health().run,
                c.client_manager().run,
                partial(keep_sessions_restored, c.session_restorer(), c.restore_requests()),
            ]
        if self.settings.loop_monitor:
            jobs.append(c.loop_lag().run)
        self._supervisor = Supervisor(jobs)
        await self._supervisor.start()
        freeze_start_up_objects()
        if self.worker is not None:  # run by hypercorn's parent: stop when it says so
            self._follower = ParentFollower(self.worker, self.disconnect_all, self.stop, lambda: self._stopping)
            self._following = asyncio.get_running_loop().create_task(self._follower.run(), name="presence-follow-parent")
        message, fields = describe_instance(self.settings)
        log.info("%s", message, extra=fields)

    async def _start_shared_presence(self) -> None:
        c = self.container
        try:
            await c.presence_store().load_scripts()
        except RedisError as error:  # serve degraded: events answer "unavailable" until it is back
            log.error("Redis is not answering at start (%r); presence events will fail until it does", error)
        # python-socketio initialises its manager at the first connection; do it now. Its
        # Redis listener is one of the supervisor's jobs, ready once it has subscribed.
        sio = c.socket_server()
        if not sio.manager_initialized:
            sio.manager_initialized = True
            sio.manager.initialize()

    async def disconnect_all(self) -> None:
        """Shutdown, before the server waits on connections: end this instance's sessions
        in one batch (users connected elsewhere stay as they are, the rest go OFFLINE with
        one event each), give up the lease, then close every socket — python-engineio
        under hypercorn would otherwise wait for clients to leave."""
        await self._end_own_sessions()
        sio = self.container.socket_server()
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
        service = self.container.presence_service()
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
        fleet = self.container.fleet()
        if fleet is not None and await fleet.others_serving(self.container.clock().now()):
            return 0
        return await self.container.presence_service().settle_graces()

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
        writer = self.container.durable_writer()
        try:
            with anyio.fail_after(FLUSH_TIMEOUT):
                await writer.flush()
        except Exception:
            log.exception("%d durable status writes could not be flushed at shutdown", writer.pending)
        await self.container.engine().dispose()
        if self.container.kind() == "redis":
            await self.container.redis().aclose()
            await self.container.redis_events().aclose()
        if self._lock is not None:
            self._lock.release()
