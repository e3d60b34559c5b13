"""What the core needs from the world. Adapters implement these; contract suites in
tests/contract hold every implementation of a port to the same behaviour."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .presence import Choice, DurableStatus, PresenceChanged, Transition, Update, UserState
from .rich_presence import CustomStatus


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch (UTC); never goes backwards."""


@dataclass(frozen=True, slots=True)
class Renewal:
    """A ping the store has yet to hear: the expiry it asked for."""

    user_id: str
    session_id: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class SessionMeta:
    """What the integration guide keeps per socket: ``presence:{userId}:{socketId}``."""

    device: str
    connected_at: float
    ip: str


@dataclass(frozen=True, slots=True)
class Expired:
    user_id: str
    session_id: str
    transition: Transition


@dataclass(frozen=True, slots=True)
class UserTransition:
    user_id: str
    transition: Transition


@dataclass(frozen=True, slots=True)
class HeldSession:
    """A session this instance holds, as it would put it back into a store that lost it:
    ``expires_at`` already passed for one whose end could not be recorded (the sweeper then
    ends it, with its event); ``choice`` is the user's as the store last reported it, at
    ``choice_as_of`` (unknown when ``choice_known`` is False)."""

    user_id: str
    session_id: str
    meta: SessionMeta
    expires_at: float
    choice: Choice | None = None
    choice_known: bool = False
    choice_as_of: float = 0.0
    decays_at: float | None = None


@dataclass(frozen=True, slots=True)
class DueDecay:
    """A user whose chosen ``status`` was due to decay at ``due`` (claimed by a sweeper)."""

    user_id: str
    status: str
    due: float


@dataclass(frozen=True, slots=True)
class DueCustom:
    """A user whose custom status was due to clear itself at ``due`` (claimed by a sweeper)."""

    user_id: str
    due: float


# The presence store, split by the roles its callers play. One adapter may play several
# (Redis plays them all; the in-process store every role but the instance leases, since it
# is the only instance); each caller is given only the roles it uses. Every operation is
# atomic (across instances, for a shared store) and reports the user's state before and
# after it, so the decision stays pure.


class SessionStore(Protocol):
    """What the socket events do to a user's sessions and choice."""

    async def register(
        self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float
    ) -> Transition:
        """Add (or renew) a session."""

    async def touch(
        self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float
    ) -> Transition:
        """Renew a session's expiry; a session that already expired is registered again."""

    async def renew_many(self, renewals: Sequence[Renewal]) -> list[bool]:
        """Push live sessions' expiry out, all in one round trip: never earlier than the
        store has it, and a session that ended stays ended (False for it)."""

    async def choose(
        self,
        user_id: str,
        session_id: str,
        meta: SessionMeta,
        choice: Choice | None,
        expires_at: float,
        decays_at: float | None = None,
        socket_state: str | None = "ONLINE",
        custom: CustomStatus | None = None,
        set_custom: bool = False,
    ) -> Transition:
        """Record the user's choice (due to decay at ``decays_at``, if given; None keeps
        the choice) and renew (or revive) the session that made it, in ``socket_state``
        (ONLINE: active, or a socket-scoped status such as IDLE; None keeps the socket's).
        With ``set_custom``, the custom status becomes ``custom`` (None clears it), due to
        clear itself at its ``expires_at``."""

    async def adopt_choice(
        self, user_id: str, choice: Choice | None, decays_at: float | None = None, custom: CustomStatus | None = None
    ) -> UserState:
        """Set the choice and custom status only while the store does not know a choice
        (after a cold start)."""

    async def end(self, user_id: str, session_id: str, grace_until: float | None = None) -> Transition:
        """Remove a session. When it was the last one and ``grace_until`` is given, the
        user lingers (seen as before) until then, and a new session cancels their going;
        otherwise a choice that is not remembered ends with the last session."""


class SessionSweeps(Protocol):
    """What ends without a socket event: silent sessions, graces and decays that fell due,
    and an instance's sessions all at once."""

    async def expire_due(self, now: float, limit: int) -> list[Expired]:
        """End up to ``limit`` sessions whose expiry is at or before ``now``."""

    async def settle_due_graces(self, now: float, limit: int) -> list[UserTransition]:
        """Users whose grace ran out with no new session: they go offline now."""

    async def claim_due_decays(self, now: float, limit: int) -> list[DueDecay]:
        """Take up to ``limit`` choices due to decay by ``now``; each is handed to one
        caller only, even with several instances sweeping."""

    async def decay(self, due: DueDecay, to: Choice, decays_at: float | None) -> Transition | None:
        """Replace the choice that was due, unless the user chose again since (None)."""

    async def claim_due_customs(self, now: float, limit: int) -> list[DueCustom]:
        """Take up to ``limit`` custom statuses due to clear by ``now``; each is handed to
        one caller only."""

    async def clear_custom(self, due: DueCustom) -> Transition | None:
        """Clear the custom status that was due, unless the user set another since (None)."""

    async def end_instance_sessions(self, instance: str | None, limit: int) -> list[Expired]:
        """End up to ``limit`` sessions of an instance (this one when None), without grace:
        a shutdown, or a survivor taking over a dead instance."""


class PresenceReads(Protocol):
    """What watchers read."""

    async def states(self, user_ids: Sequence[str]) -> list[UserState]:
        """The state of each user, in order, in one read (one round trip for a shared
        store); each user's state is consistent on its own."""


# What seeding teaches the store of one user: (user id, remembered choice or None, when it
# decays, custom status or None).
Seed = tuple[str, Choice | None, float | None, CustomStatus | None]


class ChoiceSeeding(Protocol):
    """Warm-up: the store learns the remembered choices, so a connect needs no database read."""

    async def needs_seeding(self) -> bool:
        """True while the store cannot tell "chose nothing" from "never heard of them"."""

    async def seed_choices(self, choices: AsyncIterable[Seed]) -> int:
        """Learn remembered choices and custom statuses (user, choice, decays at, custom
        status) from the durable record, never overriding a user the store knows, then
        treat every user it has not heard of as having chosen nothing. Returns how many it
        learnt."""


class InstanceLeases(Protocol):
    """Instances sharing a store: each holds a lease, and a survivor ends the sessions
    of one whose lease lapsed."""

    async def renew_lease(self, now: float, ttl: float) -> bool:
        """Hold this instance's lease; False if it had lapsed (survivors may have taken over)."""

    async def release_lease(self) -> None: ...

    async def claim_dead_instances(self, now: float) -> list[str]:
        """Instances whose lease lapsed; each is claimed by exactly one survivor."""


class SessionRecovery(Protocol):
    """A shared store that can lose what it holds (restarted empty, flushed) is given this
    instance's sessions back."""

    async def needs_restore(self) -> bool:
        """True when the store may have lost this instance's sessions (restarted empty,
        flushed) since it last put them back with ``restore_sessions``."""

    async def restore_sessions(self, sessions: Sequence[HeldSession]) -> int:
        """Put this instance's sessions back, atomically per session, and note that the
        store holds them. A session already there keeps its state; a user's choice is set
        from the hint unless the store has one that is newer (set since the loss, or
        restored from a fresher hint by another instance). Returns how many were written."""

    async def release_restore(self) -> None:
        """This instance is leaving: drop the note that the store holds its sessions."""


class StatusRepository(Protocol):
    """Durable status per user. Writes are ordered by ``DurableStatus.at``: a record
    never replaces a stored one that is newer."""

    async def get(self, user_id: str) -> DurableStatus | None: ...

    async def get_many(self, user_ids: Sequence[str]) -> dict[str, DurableStatus]:
        """The records of those users that have one: a batched read, not one per user."""

    async def save_many(self, records: Iterable[DurableStatus]) -> None: ...

    def remembered_choices(self) -> AsyncIterator[tuple[str, str | None, CustomStatus | None]]:
        """Every (user id, chosen status, custom status) with a remembered choice or a
        custom status, streamed."""

    async def mark_all_offline(self, offline: str, at: float) -> int:
        """Turn every user not stored as ``offline`` to it; returns how many moved."""


class DurableStatuses(Protocol):
    """The durable record as the use cases use it: a write is queued and never awaited
    (presence must not wait on the database), and a read sees the writes still queued."""

    def submit(self, record: DurableStatus) -> None:
        """Queue a record; a newer one for the same user replaces it before it is written."""

    async def get(self, user_id: str) -> DurableStatus | None: ...

    async def get_many(self, user_ids: Sequence[str]) -> dict[str, DurableStatus]: ...

    def remembered_choices(self) -> AsyncIterator[tuple[str, str | None, CustomStatus | None]]:
        """Every (user id, chosen status, custom status) with a remembered choice or a
        custom status, queued ones first in precedence."""


class Broadcaster(Protocol):
    async def publish(self, change: PresenceChanged) -> None:
        """Deliver a change to every socket of the user and, when what others see
        changed, that (``public``) to every socket watching the user, on every instance."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a token names, and until when (its ``exp``; infinity when it has none)."""

    user_id: str
    expires_at: float = float("inf")


class TokenVerifier(Protocol):
    async def verify(self, token: object) -> str:
        """The user id the token names, or a ``Refused`` saying why not."""

    async def identify(self, token: object) -> Identity:
        """``verify``, with the token's expiry: a socket lives no longer than its token."""


class AudiencePolicy(Protocol):
    """Who may watch whom. A user may always watch themselves; the policy is asked only
    about others."""

    async def allowed(self, viewer: str, targets: Sequence[str]) -> set[str]:
        """The targets ``viewer`` may watch (a subset of ``targets``); ``Unavailable`` when
        the policy cannot be read."""


class WatchRooms(Protocol):
    """How one socket hears the changes of the users it watches (on every instance)."""

    async def enter(self, user_ids: Sequence[str]) -> None: ...

    async def leave(self, user_ids: Sequence[str]) -> None: ...


# The server API (docs/server-api.md): what the backend asks beyond what watchers see.


@dataclass(frozen=True, slots=True)
class SessionDetail:
    """One socket of a user as the store holds it; ``renewed_at`` is its last ping (or
    connect), ``state`` ONLINE (active) or a socket-scoped status (IDLE)."""

    session_id: str
    device: str
    instance: str
    connected_at: float
    renewed_at: float
    state: str


@dataclass(frozen=True, slots=True)
class UserSessions:
    sessions: list[SessionDetail]
    grace_until: float | None  # within the offline grace until then (no socket left)


@dataclass(frozen=True, slots=True)
class InstanceCount:
    instance: str
    sockets: int
    started_at: float | None


class ServerReads(Protocol):
    """What the server API reads that no watcher may: each socket of a user, and counts."""

    async def sessions_of(self, user_id: str) -> UserSessions: ...

    async def instances(self) -> list[InstanceCount]:
        """Every live instance and its socket count (cheap: one call per instance)."""

    async def online_users(self, limit: int) -> list[str]:
        """Up to ``limit`` users with a live socket (each once)."""

    async def end_grace(self, user_id: str) -> Transition | None:
        """End the user's offline grace now (None: they are in none, or came back)."""

    async def impose(self, user_id: str, update: Update) -> Transition:
        """Set the user's choice and custom status whether they are connected or not (the
        server API's PUT); the socket state of ``update`` is not used."""


class UserBlocks(Protocol):
    """Users the backend disconnected and keeps out for a while."""

    async def block(self, user_id: str, until: float) -> None: ...

    async def blocked(self, user_id: str, now: float) -> bool: ...


class SocketControl(Protocol):
    """Sockets on every instance, by id."""

    async def disconnect(self, session_ids: Sequence[str], event: str, payload: dict[str, str]) -> None:
        """Send each ``event`` with ``payload``, then close it, wherever it is connected."""


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One change of the change stream: its id (opaque, ordered), its JSON body, and when it
    was appended (seconds since the epoch: where a delivery's retry window starts)."""

    id: str
    body: dict[str, object]
    at: float = 0.0


class ChangeStream(Protocol):
    """Every change others can see, kept in order for consumers that come and go."""

    async def read(self, after: str, limit: int) -> list[StreamEntry]:
        """Up to ``limit`` entries newer than ``after`` (``"0"``: from the start), oldest first."""

    async def length(self) -> int: ...

    def valid_id(self, entry_id: str) -> bool:
        """Whether ``entry_id`` is an id of this stream's form (the ``after`` a client sends)."""


class DeliveryLog(Protocol):
    """The webhooks' consumer group on the change stream: what was delivered, what is
    owed, what gave up; one deliverer at a time holds the lead."""

    async def follow(self) -> None:
        """Make the consumer group, at the stream's end, unless it exists: what comes from
        now on is owed, the stream's past (webhooks turned on late) is not. Done at start,
        so the changes of the first moments are owed even when the lead is taken later."""

    async def lead(self, holder: str, now: float, ttl: float) -> bool:
        """Hold (or renew) the lead; False while another instance holds it."""

    async def owed(self, limit: int) -> list[StreamEntry]:
        """The oldest entries not yet acknowledged, in stream order (a new leader starts
        with those its predecessor left unacknowledged)."""

    async def ack(self, entry_id: str) -> None: ...

    async def dead_letter(self, entry: StreamEntry, reason: str) -> None:
        """Keep an entry that gave up (acknowledged, so delivery goes on) for replay."""

    async def dead_letters(self, limit: int) -> list[StreamEntry]: ...

    async def replay_dead_letters(self, limit: int) -> int:
        """Give up to ``limit`` dead letters another round of delivery; how many."""

    async def pending(self) -> int:
        """How many entries are owed (the retry queue's depth)."""
