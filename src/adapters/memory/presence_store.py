"""The presence store of a single instance: plain dicts and an expiry heap.

Each operation runs without awaiting anything, so it is atomic under any event loop.
Expiry uses a heap with lazy deletion: a renewed session leaves its old heap entry
behind, which is skipped when it surfaces.
"""

from __future__ import annotations

import heapq
from typing import AsyncIterable

from ...domain.ports import DueDecay, Expired, SessionMeta
from ...domain.presence import Choice, Transition, UserState


class _User:
    """One user's sessions and choice; ``known`` is False until the choice is settled
    (chosen here, or adopted from the durable record after a cold start)."""

    __slots__ = ("sessions", "choice", "known", "decays_at")

    def __init__(self, known: bool) -> None:
        self.sessions: dict[str, tuple[float, SessionMeta]] = {}
        self.choice: Choice | None = None
        self.known = known
        self.decays_at: float | None = None

    def state(self) -> UserState:
        return UserState(len(self.sessions), self.choice, self.known)




class InMemoryPresenceStore:
    def __init__(self) -> None:
        self._users: dict[str, _User] = {}
        self._expiries: list[tuple[float, str, str]] = []
        self._decays: list[tuple[float, str, str]] = []
        # Once seeded from the durable record, a user it never heard of chose nothing.
        self._seeded = False

    def _user(self, user_id: str) -> _User:
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User(self._seeded)
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

    def _set_choice(self, user: _User, user_id: str, choice: Choice | None, decays_at: float | None) -> None:
        user.choice = choice
        user.known = True
        user.decays_at = decays_at if choice is not None else None
        if user.decays_at is not None:
            heapq.heappush(self._decays, (user.decays_at, user_id, choice.status))

    async def choose(
        self,
        user_id: str,
        session_id: str,
        meta: SessionMeta,
        choice: Choice,
        expires_at: float,
        decays_at: float | None = None,
    ) -> Transition:
        user = self._user(user_id)
        before = user.state()
        self._renew(user, user_id, session_id, meta, expires_at)
        self._set_choice(user, user_id, choice, decays_at)
        return Transition(before, user.state())

    async def adopt_choice(self, user_id: str, choice: Choice | None, decays_at: float | None = None) -> UserState:
        user = self._user(user_id)
        if not user.known:
            self._set_choice(user, user_id, choice, decays_at)
        return user.state()

    def _decay_still_due(self, due: DueDecay) -> _User | None:
        user = self._users.get(due.user_id)
        if user is None or user.choice is None or user.choice.status != due.status or user.decays_at != due.due:
            return None
        return user

    async def claim_due_decays(self, now: float, limit: int) -> list[DueDecay]:
        decays = self._decays
        claimed: list[DueDecay] = []
        while decays and decays[0][0] <= now and len(claimed) < limit:
            at, user_id, status = heapq.heappop(decays)
            due = DueDecay(user_id, status, at)
            if self._decay_still_due(due) is not None:  # else chosen again since it was pushed
                claimed.append(due)
        return claimed

    async def decay(self, due: DueDecay, to: Choice, decays_at: float | None) -> Transition | None:
        user = self._decay_still_due(due)
        if user is None:
            return None
        before = user.state()
        self._set_choice(user, due.user_id, to, decays_at)
        return Transition(before, user.state())

    async def end(self, user_id: str, session_id: str) -> Transition:
        user = self._users.get(user_id)
        if user is None:
            nobody = UserState(0, None, self._seeded)
            return Transition(nobody, nobody)
        before = user.state()
        self._drop(user, session_id)
        return Transition(before, user.state())

    def _drop(self, user: _User, session_id: str) -> None:
        if user.sessions.pop(session_id, None) is not None and not user.sessions:
            if user.choice is not None and not user.choice.remember:
                user.choice = None
                user.decays_at = None

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

    async def needs_seeding(self) -> bool:
        return not self._seeded

    async def seed_choices(self, choices: AsyncIterable[tuple[str, Choice, float | None]]) -> int:
        learnt = 0
        async for user_id, choice, decays_at in choices:
            user = self._user(user_id)
            if not user.known:
                self._set_choice(user, user_id, choice, decays_at)
                learnt += 1
        self._seeded = True
        return learnt

    async def state(self, user_id: str) -> UserState:
        user = self._users.get(user_id)
        return user.state() if user is not None else UserState(0, None, self._seeded)
