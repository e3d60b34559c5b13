"""What the core needs from the world. Adapters implement these; contract suites in
tests/contract hold every implementation of a port to the same behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterable, AsyncIterator, Iterable, Protocol

from .presence import Choice, DurableStatus, PresenceChanged, Transition, UserState


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch (UTC); never goes backwards."""


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
class DueDecay:
    """A user whose chosen ``status`` was due to decay at ``due`` (claimed by a sweeper)."""

    user_id: str
    status: str
    due: float


class PresenceStore(Protocol):
    """Sessions per user. Every operation is atomic (across instances, for a shared store)
    and reports the user's state before and after it, so the decision stays pure."""

    async def register(
        self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float
    ) -> Transition:
        """Add (or renew) a session."""

    async def touch(
        self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float
    ) -> Transition:
        """Renew a session's expiry; a session that already expired is registered again."""

    async def choose(
        self,
        user_id: str,
        session_id: str,
        meta: SessionMeta,
        choice: Choice,
        expires_at: float,
        decays_at: float | None = None,
    ) -> Transition:
        """Record the user's choice (due to decay at ``decays_at``, if given) and renew
        (or revive) the session that made it."""

    async def adopt_choice(self, user_id: str, choice: Choice | None, decays_at: float | None = None) -> UserState:
        """Set the choice only while the store does not know one (after a cold start)."""

    async def claim_due_decays(self, now: float, limit: int) -> list[DueDecay]:
        """Take up to ``limit`` choices due to decay by ``now``; each is handed to one
        caller only, even with several instances sweeping."""

    async def decay(self, due: DueDecay, to: Choice, decays_at: float | None) -> Transition | None:
        """Replace the choice that was due, unless the user chose again since (None)."""

    async def end(self, user_id: str, session_id: str) -> Transition:
        """Remove a session; a choice that is not remembered ends with the last one."""

    async def expire_due(self, now: float, limit: int) -> list[Expired]:
        """End up to ``limit`` sessions whose expiry is at or before ``now``."""

    async def state(self, user_id: str) -> UserState: ...

    async def needs_seeding(self) -> bool:
        """True while the store cannot tell "chose nothing" from "never heard of them"."""

    async def seed_choices(self, choices: AsyncIterable[tuple[str, Choice, float | None]]) -> int:
        """Learn remembered choices (user, choice, decays at) from the durable record,
        never overriding one the store knows, then treat every user it has not heard of
        as having chosen nothing. Returns how many it learnt."""


class StatusRepository(Protocol):
    """Durable status per user. Writes are ordered by ``DurableStatus.at``: a record
    never replaces a stored one that is newer."""

    async def get(self, user_id: str) -> DurableStatus | None: ...

    async def save_many(self, records: Iterable[DurableStatus]) -> None: ...

    def remembered_choices(self) -> AsyncIterator[tuple[str, str]]:
        """Every (user id, chosen status) with a remembered choice, streamed."""

    async def mark_all_offline(self, offline: str, at: float) -> int:
        """Turn every user not stored as ``offline`` to it; returns how many moved."""


class Broadcaster(Protocol):
    async def publish(self, change: PresenceChanged) -> None:
        """Deliver a change to every socket of the user, on every instance."""


class TokenVerifier(Protocol):
    async def verify(self, token: object) -> str:
        """The user id the token names, or a ``Refused`` saying why not."""
