"""The presence store of a single instance: plain dicts and an expiry heap.

Each operation runs without awaiting anything, so it is atomic under any event loop.
Expiry uses a heap with lazy deletion: a renewed session leaves its old heap entry
behind, which is skipped when it surfaces.
"""

from __future__ import annotations

import heapq

from ...domain.ports import Expired, SessionMeta
from ...domain.presence import Choice, Transition, UserState


class _User:
    """One user's sessions and choice; ``known`` is False until the choice is settled
    (chosen here, or adopted from the durable record after a cold start)."""

    __slots__ = ("sessions", "choice", "known")

    def __init__(self) -> None:
        self.sessions: dict[str, tuple[float, SessionMeta]] = {}
        self.choice: Choice | None = None
        self.known = False

    def state(self) -> UserState:
        return UserState(len(self.sessions), self.choice, self.known)


_NOBODY = UserState(0, None, False)


class InMemoryPresenceStore:
    def __init__(self) -> None:
        self._users: dict[str, _User] = {}
        self._expiries: list[tuple[float, str, str]] = []

    def _user(self, user_id: str) -> _User:
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User()
        return user

    def _renew(self, user: _User, user_id: str, session_id: str, meta: SessionMeta, expires_at: float) -> None:
        user.sessions[session_id] = (expires_at, meta)
        heapq.heappush(self._expiries, (expires_at, user_id, session_id))

    async def register(self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float) -> Transition:
        user = self._user(user_id)
        before = user.state()
        self._renew(user, user_id, session_id, meta, expires_at)
        return Transition(before, user.state())

    async def touch(self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float) -> Transition:
        return await self.register(user_id, session_id, meta, expires_at)

    async def choose(
        self, user_id: str, session_id: str, meta: SessionMeta, choice: Choice, expires_at: float
    ) -> Transition:
        user = self._user(user_id)
        before = user.state()
        self._renew(user, user_id, session_id, meta, expires_at)
        user.choice = choice
        user.known = True
        return Transition(before, user.state())

    async def adopt_choice(self, user_id: str, choice: Choice | None) -> UserState:
        user = self._user(user_id)
        if not user.known:
            user.choice = choice
            user.known = True
        return user.state()

    async def end(self, user_id: str, session_id: str) -> Transition:
        user = self._users.get(user_id)
        if user is None:
            return Transition(_NOBODY, _NOBODY)
        before = user.state()
        self._drop(user, session_id)
        return Transition(before, user.state())

    def _drop(self, user: _User, session_id: str) -> None:
        if user.sessions.pop(session_id, None) is not None and not user.sessions:
            if user.choice is not None and not user.choice.remember:
                user.choice = None

    async def expire_due(self, now: float, limit: int) -> list[Expired]:
        expiries = self._expiries
        expired: list[Expired] = []
        while expiries and expiries[0][0] <= now and len(expired) < limit:
            expires_at, user_id, session_id = heapq.heappop(expiries)
            user = self._users.get(user_id)
            if user is None:
                continue
            session = user.sessions.get(session_id)
            if session is None or session[0] != expires_at:
                continue  # ended or renewed since this entry was pushed
            before = user.state()
            self._drop(user, session_id)
            expired.append(Expired(user_id, session_id, Transition(before, user.state())))
        return expired

    async def state(self, user_id: str) -> UserState:
        user = self._users.get(user_id)
        return user.state() if user is not None else _NOBODY
