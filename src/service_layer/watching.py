"""Watching other users: a snapshot first, then every change others can see.

A chat app shows its users their friends' dots, through a socket subscription or the HTTP
API; the rules both must keep live here:

- Who may watch whom is the ``AudiencePolicy``'s answer; a user may always watch themselves.
- A watcher sees what others see: an INVISIBLE user is OFFLINE, and their last seen is the
  one the durable record kept when they vanished (it does not move while they are away).
- No change slips between a snapshot and the subscription: the socket enters the rooms
  before the store is read, so a change is in the snapshot, or delivered after the read,
  or both — never neither.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import anyio

from ..domain.errors import Forbidden, InvalidPayload, LimitExceeded
from ..domain.ports import AudiencePolicy, DurableStatuses, PresenceReads, WatchRooms
from ..domain.presence import DurableStatus, UserState, own_status, seen_devices
from ..domain.rich_presence import CustomStatus, custom_status_seen
from ..domain.statuses import OFFLINE, StatusRegistry
from ..domain.user_ids import checked_user_id

log = logging.getLogger(__name__)

DEFAULT_MAX_TARGETS = 1000
DEFAULT_MAX_IDS = 1000
# A snapshot does not wait longer than this on the database for last-seen times.
LAST_SEEN_TIMEOUT = 1.0


@dataclass(frozen=True, slots=True)
class Seen:
    """One user as others see them. ``last_seen`` is None while they are seen online,
    and when it is not known (never seen, or the durable record is not readable now)."""

    user_id: str
    status: str
    last_seen: float | None
    # What others see of their devices and custom status, and the ``seq`` this is as new as
    # (a version, not part of what is seen: left out of equality).
    devices: Mapping[str, str] = field(default_factory=dict)
    custom_status: CustomStatus | None = None
    seq: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a viewer may see of the users they asked about, in the order asked, and the
    ids the policy refused."""

    seen: list[Seen]
    denied: list[str]


def user_ids_of(value: object, max_ids: int) -> list[str]:
    """The ids a client asked about, each once, in the order given. A number is read as
    its decimal string, as a token's numeric subject is."""
    if not isinstance(value, list):
        raise InvalidPayload("userIds must be a list of user ids")
    if len(value) > max_ids:
        raise LimitExceeded(f"at most {max_ids} user ids per call, got {len(value)}")
    ids: dict[str, None] = {}
    for item in value:
        ids[checked_user_id(item)] = None
    return list(ids)


def public_status(registry: StatusRegistry, state: UserState) -> str:
    """What other users see of a user in ``state``."""
    status = own_status(state, registry)
    if status != OFFLINE and not state.choice_known:
        # The store lost what they chose (it may be INVISIBLE) and their connect is still
        # reading it back: offline until it is known, and the change is announced then.
        return OFFLINE
    declared = registry.get(status)
    return declared.public_name if declared is not None else OFFLINE


class WatchService:
    def __init__(
        self,
        *,
        registry: StatusRegistry,
        store: PresenceReads,
        durable: DurableStatuses,
        policy: AudiencePolicy,
        max_targets: int = DEFAULT_MAX_TARGETS,
        max_ids: int = DEFAULT_MAX_IDS,
        last_seen_timeout: float = LAST_SEEN_TIMEOUT,
    ) -> None:
        self.registry = registry
        self._store = store
        self._durable = durable
        self._policy = policy
        self.max_targets = max_targets
        self.max_ids = max_ids
        self.last_seen_timeout = last_seen_timeout
        self._records_readable = True

    async def query(self, viewer: str, user_ids: object) -> Snapshot:
        """What ``viewer`` may see of these users now."""
        ids = user_ids_of(user_ids, self.max_ids)
        allowed = await self._allowed(viewer, ids)
        records = await self._records(allowed)
        states = await self._store.states(allowed) if allowed else []
        return self._snapshot(ids, allowed, states, records)

    async def one(self, viewer: str, user_id: str) -> Seen:
        snapshot = await self.query(viewer, [user_id])
        if snapshot.denied:
            raise Forbidden()
        return snapshot.seen[0]

    async def subscribe(self, viewer: str, user_ids: object, watching: set[str], rooms: WatchRooms) -> Snapshot:
        """Watch these users from now on (``watching`` is the socket's set, kept by the
        caller) and return what they are now. A watched id the policy now refuses is
        no longer watched; the ids not yet watched count against ``max_targets``."""
        ids = user_ids_of(user_ids, self.max_ids)
        allowed = await self._allowed(viewer, ids)
        allowed_set = set(allowed)
        revoked = [user_id for user_id in ids if user_id in watching and user_id not in allowed_set]
        if revoked:
            await rooms.leave(revoked)
            watching.difference_update(revoked)
        new = [user_id for user_id in allowed if user_id not in watching]
        if len(watching) + len(new) > self.max_targets:
            raise LimitExceeded(
                f"a socket watches at most {self.max_targets} users; this would make {len(watching) + len(new)}"
            )
        # The database first: from entering the rooms to the reply, the socket's updates
        # are held back (so none overtakes the snapshot), and that should be one store
        # read long, not a slow database's. Read a moment early, a record at worst lacks
        # the last moment's move, as a record written behind may anyway.
        records = await self._records(allowed)
        await rooms.enter(new)
        watching.update(new)
        try:
            states = await self._store.states(allowed) if allowed else []
        except Exception:
            await rooms.leave(new)
            watching.difference_update(new)
            raise
        return self._snapshot(ids, allowed, states, records)

    async def unsubscribe(self, user_ids: object, watching: set[str], rooms: WatchRooms) -> None:
        ids = user_ids_of(user_ids, self.max_ids)
        gone = [user_id for user_id in ids if user_id in watching]
        if gone:
            await rooms.leave(gone)
            watching.difference_update(gone)

    async def _allowed(self, viewer: str, ids: list[str]) -> list[str]:
        others = [user_id for user_id in ids if user_id != viewer]
        permitted = await self._policy.allowed(viewer, others) if others else set()
        return [user_id for user_id in ids if user_id == viewer or user_id in permitted]

    async def _records(self, user_ids: Sequence[str]) -> dict[str, DurableStatus]:
        """Durable records for last-seen times: one batched read. A database that is down
        or slow costs the snapshot its last-seen times, never the snapshot."""
        if not user_ids:
            return {}
        with anyio.move_on_after(self.last_seen_timeout):
            try:
                records = await self._durable.get_many(user_ids)
            except Exception as error:
                if self._records_readable:
                    log.warning("last-seen times not readable, snapshots are served without them: %r", error)
                self._records_readable = False
                return {}
            if not self._records_readable:
                log.warning("last-seen times readable again")
            self._records_readable = True
            return records
        if self._records_readable:
            log.warning("last-seen times not read within %gs, snapshots are served without them", self.last_seen_timeout)
        self._records_readable = False
        return {}

    def _snapshot(
        self, ids: list[str], allowed: list[str], states: list[UserState], records: dict[str, DurableStatus]
    ) -> Snapshot:
        seen = [self._seen(user_id, state, records.get(user_id)) for user_id, state in zip(allowed, states, strict=False)]
        allowed_set = set(allowed)
        return Snapshot(seen, [user_id for user_id in ids if user_id not in allowed_set])

    def _seen(self, user_id: str, state: UserState, record: DurableStatus | None) -> Seen:
        registry = self.registry
        status = public_status(registry, state)
        devices, seq = seen_devices(registry, state, status), state.seq
        custom = custom_status_seen(registry, status, state.custom)
        if registry[status].online or record is None:
            return Seen(user_id, status, None, devices, custom, seq)
        recorded = registry.get(record.status)
        if recorded is not None and recorded.online:
            # The record still shows them online: their leaving is being written (on
            # whichever instance saw it), so the stored time is of their arrival.
            return Seen(user_id, status, None, devices, custom, seq)
        return Seen(user_id, status, record.last_seen, devices, custom, seq)
