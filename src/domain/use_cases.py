"""The presence use cases: what a socket event means, from token to delivered change.

Each event is one store operation; the decision is pure (``presence.decide``); the
durable write is queued, never awaited; only the broadcast is awaited, since that is the
event's purpose.
"""

from __future__ import annotations

import logging

from .durable_writer import DurableWriter
from .errors import InvalidPayload
from .ports import Broadcaster, Clock, PresenceStore, SessionMeta, TokenVerifier
from .presence import Choice, Transition, UserState, decide, own_status
from .statuses import MAX_STATUS_NAME, StatusRegistry

log = logging.getLogger(__name__)

DEFAULT_SESSION_TTL = 90.0


class PresenceService:
    def __init__(
        self,
        *,
        registry: StatusRegistry,
        store: PresenceStore,
        durable: DurableWriter,
        broadcaster: Broadcaster,
        clock: Clock,
        verifier: TokenVerifier,
        session_ttl: float = DEFAULT_SESSION_TTL,
    ) -> None:
        self.registry = registry
        self._store = store
        self._durable = durable
        self._broadcaster = broadcaster
        self._clock = clock
        self._verifier = verifier
        self.session_ttl = session_ttl

    async def authenticate(self, token: object) -> str:
        return await self._verifier.verify(token)

    async def connect(self, user_id: str, session_id: str, meta: SessionMeta) -> str:
        """Register the session; returns the status the user's own sockets now see."""
        now = self._clock.now()
        transition = await self._store.register(user_id, session_id, meta, now + self.session_ttl)
        transition = await self._apply(user_id, transition, now)
        return own_status(transition.after)

    async def heartbeat(self, user_id: str, session_id: str, meta: SessionMeta) -> None:
        """A ping renews the session; one that had expired comes back (and says so)."""
        now = self._clock.now()
        transition = await self._store.touch(user_id, session_id, meta, now + self.session_ttl)
        if transition.before != transition.after:
            await self._apply(user_id, transition, now)

    async def choose(self, user_id: str, session_id: str, meta: SessionMeta, status_name: object) -> None:
        if not isinstance(status_name, str) or not status_name:
            raise InvalidPayload("status must be a non-empty string")
        if len(status_name) > MAX_STATUS_NAME:
            raise InvalidPayload(f"status is longer than {MAX_STATUS_NAME} characters")
        status = self.registry.choosable(status_name)
        now = self._clock.now()
        transition = await self._store.choose(
            user_id, session_id, meta, Choice(status.name, status.remembered), now + self.session_ttl
        )
        await self._apply(user_id, transition, now)

    async def disconnect(self, user_id: str, session_id: str) -> None:
        now = self._clock.now()
        transition = await self._store.end(user_id, session_id)
        await self._apply(user_id, transition, now)

    async def sweep(self, limit: int = 1000) -> int:
        """Expire sessions whose TTL passed without a ping, as if they disconnected."""
        now = self._clock.now()
        expired = await self._store.expire_due(now, limit)
        for item in expired:
            await self._apply(item.user_id, item.transition, now)
        return len(expired)

    async def _apply(self, user_id: str, transition: Transition, now: float) -> Transition:
        if transition.first_session and not transition.after.choice_known:
            transition = await self._recall_choice(user_id, transition)
        outcome = decide(self.registry, user_id, transition, now)
        if outcome.durable is not None:
            self._durable.submit(outcome.durable)
        if outcome.change is not None:
            await self._broadcaster.publish(outcome.change)
        return transition

    async def _recall_choice(self, user_id: str, transition: Transition) -> Transition:
        """The store lost (or never had) the user's choice: the durable record has it."""
        record = await self._durable.get(user_id)
        chosen = record.chosen if record is not None else None
        choice = None
        if chosen is not None and chosen in self.registry:
            choice = Choice(chosen, self.registry[chosen].remembered)
        after = await self._store.adopt_choice(user_id, choice)
        before = UserState(transition.before.sessions, after.choice)
        return Transition(before, after)
