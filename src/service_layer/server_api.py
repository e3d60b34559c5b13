"""The server API's use cases: what the chat backend asks and does with a service key.

The backend is no watcher: it sees a user's true state (INVISIBLE as INVISIBLE), every
socket and why a user is still online, and acts on users as the users themselves would
(a status) or as a moderator does (disconnect, keep out for a while). What it sets goes
through the same state machine, durable record and broadcast as a socket's event.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..domain.errors import InvalidPayload
from ..domain.ports import (
    Clock,
    DurableStatuses,
    InstanceCount,
    PresenceReads,
    ServerReads,
    SocketControl,
    UserBlocks,
    UserSessions,
)
from ..domain.presence import DurableStatus, UserState, own_status
from ..domain.rich_presence import CustomStatus, device_states
from ..domain.statuses import StatusRegistry
from ..domain.user_ids import checked_user_id
from .use_cases import PresenceService
from .watching import public_status, user_ids_of

log = logging.getLogger(__name__)

MAX_REASON = 200
MAX_BLOCK_SECONDS = 30 * 86_400
DISCONNECTED_EVENT = "presence:disconnected"
# /stats is computed at most once a second however many poll it.
STATS_FOR = 1.0
# Past this many online users /stats counts statuses from a sample of them (docs say so).
STATS_MAX_USERS = 100_000


@dataclass(frozen=True, slots=True)
class UserReport:
    """One user's true state, for the backend."""

    user_id: str
    status: str
    visible_status: str
    devices: Mapping[str, str]
    custom_status: CustomStatus | None
    last_seen: float | None
    seq: int
    sockets: int


@dataclass(frozen=True, slots=True)
class Stats:
    online: int
    by_status: dict[str, int]
    sockets: int
    instances: list[InstanceCount] = field(default_factory=list)


def _object(payload: Any, shape: str, allowed: set[str]) -> dict[str, Any]:
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise InvalidPayload(f"the body must be an object: {shape}")
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise InvalidPayload(f"unknown field {unknown[0][:40]!r}: the body is {shape}")
    return payload


def disconnect_terms(payload: Any) -> tuple[str, float | None]:
    """``{reason?, block?}``: a reason of at most 200 characters, a block in seconds."""
    body = _object(payload, "{reason?, block?}", {"reason", "block"})
    reason = body.get("reason", "disconnected by the server")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise InvalidPayload(f"reason must be a string of at most {MAX_REASON} characters")
    block = body.get("block")
    if block is not None:
        if isinstance(block, bool) or not isinstance(block, (int, float)) or not math.isfinite(block):
            raise InvalidPayload("block must be a number of seconds")
        if not 0 < block <= MAX_BLOCK_SECONDS:
            raise InvalidPayload(f"block must be more than 0 and at most {MAX_BLOCK_SECONDS} seconds")
    return reason, block


class ServerPresence:
    def __init__(
        self,
        *,
        registry: StatusRegistry,
        service: PresenceService,
        store: PresenceReads,
        reads: ServerReads,
        durable: DurableStatuses,
        blocks: UserBlocks,
        sockets: SocketControl,
        clock: Clock,
        max_ids: int,
    ) -> None:
        self.registry = registry
        self._service = service
        self._store = store
        self._reads = reads
        self._durable = durable
        self._blocks = blocks
        self._sockets = sockets
        self._clock = clock
        self.max_ids = max_ids
        self._stats: tuple[float, Stats] | None = None

    async def query(self, user_ids: object) -> list[UserReport]:
        ids = user_ids_of(user_ids, self.max_ids)
        if not ids:
            return []
        states = await self._store.states(ids)
        records = await self._records(ids)
        return [self._report(user_id, state, records.get(user_id)) for user_id, state in zip(ids, states, strict=True)]

    async def explain(self, user_id: object) -> tuple[UserReport, UserSessions]:
        checked = checked_user_id(user_id)
        (report,) = await self.query([checked])
        return report, await self._reads.sessions_of(checked)

    async def disconnect(self, user_id: object, payload: Any) -> int:
        """Every socket of the user, on every instance, is told why and closed; the user is
        OFFLINE at once (no grace). A block keeps their reconnects out until it ends."""
        checked = checked_user_id(user_id)
        reason, block = disconnect_terms(payload)
        if block is not None:
            await self._blocks.block(checked, self._clock.now() + block)
        sessions = await self._reads.sessions_of(checked)
        ids = [session.session_id for session in sessions.sessions]
        # The store first: watchers see OFFLINE now, and the closes that follow find
        # nothing left to end (no grace starts from them).
        await self._service.end_sessions(checked, ids)
        if not ids and sessions.grace_until is not None:
            # No socket left, but still shown as before: the grace ends now too.
            transition = await self._reads.end_grace(checked)
            if transition is not None:
                await self._service.record(checked, transition)
        if ids:
            await self._sockets.disconnect(ids, DISCONNECTED_EVENT, {"reason": reason})
        log.info("user %r disconnected by the server API: %d sockets", checked, len(ids))
        return len(ids)

    async def set_status(self, user_id: object, payload: Any) -> UserReport:
        """``{status?, customStatus?}``, as if the user sent it in ``presence:update`` (the
        same checks and errors), connected or not."""
        checked = checked_user_id(user_id)
        body = _object(payload, "{status?, customStatus?}", {"status", "customStatus"})
        update = self._service.update_terms(body, self._clock.now(), socket=False)
        transition = await self._reads.impose(checked, update)
        await self._service.record(checked, transition)
        (report,) = await self.query([checked])
        return report

    async def blocked(self, user_id: str) -> bool:
        return await self._blocks.blocked(user_id, self._clock.now())

    async def stats(self) -> Stats:
        now = self._clock.now()
        if self._stats is not None and now - self._stats[0] < STATS_FOR:
            return self._stats[1]
        instances = await self._reads.instances()
        users = await self._reads.online_users(STATS_MAX_USERS)
        by_status: dict[str, int] = {}
        online = 0
        for start in range(0, len(users), 1000):
            for state in await self._store.states(users[start : start + 1000]):
                status = own_status(state, self.registry)
                if state.sessions == 0:
                    continue
                online += 1
                by_status[status] = by_status.get(status, 0) + 1
        stats = Stats(online, by_status, sum(i.sockets for i in instances), instances)
        self._stats = (now, stats)
        return stats

    async def _records(self, user_ids: list[str]) -> dict[str, DurableStatus]:
        try:
            return await self._durable.get_many(user_ids)
        except Exception as error:  # last-seen times are lost, not the answer
            log.warning("last-seen times not readable for the server API: %r", error)
            return {}

    def _report(self, user_id: str, state: UserState, record: DurableStatus | None) -> UserReport:
        registry = self.registry
        status = own_status(state, registry)
        visible = public_status(registry, state)
        last_seen = None
        if not registry[visible].online and record is not None and record.last_seen is not None:
            recorded = registry.get(record.status)
            if recorded is None or not recorded.online:
                last_seen = record.last_seen
        devices = device_states(registry, state.socket_states) if state.sessions else {}
        return UserReport(user_id, status, visible, devices, state.custom, last_seen, state.seq, state.sessions)
