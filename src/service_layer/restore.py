"""Puts this instance's sessions back when the shared store lost them — Redis restarted
without persistence, flushed, or failed over to an empty replica — so that presence is
whole again without any client reconnecting.

Nothing is announced. Restoring re-creates what everybody was last told; deciding on the
store's empty-to-restored transition (``presence.decide``) would announce every user
ONLINE again — a flap for watchers and a durable write moving last-seen — for a change
that never happened. A session whose socket closed while the store could not record it
is ended again afterwards, with the OFFLINE nobody got; one within its offline grace comes
back due when the grace ends, for the sweeper.

The choices: each user's as this instance last saw it (``held_sessions.py``) — which
covers what lived only in Redis, such as appearing OFFLINE for this visit — and then, for
users nobody held a choice for, the remembered ones from the durable record (seeding). A
choice whose decay time was never seen here starts its decay clock again.
"""

from __future__ import annotations

import logging

import anyio

from ..domain.outages import Backoff, Outage
from ..domain.ports import Clock, SessionRecovery
from .held_sessions import RecordingStore
from .use_cases import PresenceService

log = logging.getLogger(__name__)

LEAVE_TIMEOUT = 1.0


class RestoreRequests:
    """Calls for a check that the store still holds this instance's sessions: the store
    came back after an outage or restarted (the Redis prober), or a reply showed it lost
    its seeding epoch (``RecordingStore``). Requests made while one is pending are one."""

    def __init__(self) -> None:
        self._pending = False
        self._wake: anyio.Event | None = None

    def request(self) -> None:
        self._pending = True
        if self._wake is not None:
            self._wake.set()

    async def wait(self, timeout: float | None = None) -> None:
        """Return once a check was requested, or after ``timeout``."""
        if not self._pending:
            self._wake = anyio.Event()
            try:
                with anyio.move_on_after(timeout):
                    await self._wake.wait()
            finally:
                self._wake = None
        self._pending = False


class SessionRestorer:
    def __init__(
        self, *, recording: RecordingStore, recovery: SessionRecovery, service: PresenceService, clock: Clock
    ) -> None:
        self._recording = recording  # what this instance holds, and the gate a restore closes
        self._recovery = recovery
        self._service = service
        self._clock = clock
        self.restores = 0  # read by the metrics, with the seconds they took in all
        self.restore_seconds = 0.0

    async def mark(self) -> None:
        """At start: nothing held yet; note that the store holds this instance."""
        await self._recovery.restore_sessions([])

    async def restore_if_lost(self) -> int | None:
        """Restore if the store lost this instance's sessions (None if it had not), then
        end the sessions whose sockets closed while the store could not record it."""
        restored = None
        if await self._recovery.needs_restore():
            restored = await self.restore()
        else:
            self._recording.held.forget_absent()
        for user_id, session_id in self._recording.held.owed_ends():
            await self._service.disconnect(user_id, session_id)
        return restored

    async def restore(self) -> int:
        started = self._clock.now()
        registry = self._service.registry
        async with self._recording.alone():
            now = self._clock.now()
            sessions = self._recording.held.snapshot(lambda status: registry.decays_at(status, now))
            restored = await self._recovery.restore_sessions(sessions)
        took = self._clock.now() - started
        self.restores += 1
        self.restore_seconds += took
        if sessions:
            log.warning(
                "the presence store had lost this instance's sessions: put back %d sessions of %d users in %.3fs",
                restored, len({held.user_id for held in sessions}), took,
            )
        return restored

    async def seed(self) -> int:
        return await self._service.seed_remembered_choices()

    async def leave(self) -> None:
        await self._recovery.release_restore()


async def keep_sessions_restored(
    restorer: SessionRestorer,
    requests: RestoreRequests,
    *,
    min_interval: float = 1.0,
    check_every: float = 200.0,
    retry_initial: float = 0.25,
    retry_max: float = 30.0,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Check on every request (at most once per ``min_interval``), and every ``check_every``
    (a loss nothing announced; the check keeps the store's note of this instance alive).
    After a restore, copy the remembered choices in again, retrying with backoff while the
    database is down."""
    try:
        await restorer.mark()
    except Exception as error:  # the store is down at start: its return is a request
        log.warning("could not note this instance in the presence store yet: %r", error)
    task_status.started()
    try:
        await _restore_when_asked(restorer, requests, min_interval, check_every, retry_initial, retry_max)
    finally:  # shutting down: the instance's sessions were ended, it leaves no note behind
        with anyio.CancelScope(shield=True), anyio.move_on_after(LEAVE_TIMEOUT):
            try:
                await restorer.leave()
            except Exception as error:
                log.warning("could not remove this instance's restore note (it expires by itself): %r", error)


async def _restore_when_asked(
    restorer: SessionRestorer,
    requests: RestoreRequests,
    min_interval: float,
    check_every: float,
    retry_initial: float,
    retry_max: float,
) -> None:
    seeding = False
    backoff, outage = Backoff(retry_initial, retry_max), Outage()
    while True:
        await requests.wait(backoff.next() if outage.down else check_every)
        try:
            if await restorer.restore_if_lost() is not None:
                seeding = True
            if seeding:
                learnt = await restorer.seed()
                seeding = False
                log.info("copied %d remembered statuses into the presence store again", learnt)
        except Exception as error:  # Redis or the database still down: try again
            if outage.failed():
                cause = f" ({error.__cause__!r})" if error.__cause__ is not None else ""
                log.warning("restoring presence after the store's loss is not done: %r%s; retrying", error, cause)
            continue
        if outage.recovered():
            log.warning("restoring presence after the store's loss is done")
            backoff.reset()
        await anyio.sleep(min_interval)
