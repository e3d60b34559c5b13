"""The presence store of a single instance: plain dicts and an expiry heap.

Each operation runs without awaiting anything, so it is atomic under any event loop.
Expiry uses a heap with lazy deletion: a renewed session leaves its old heap entry
behind, which is skipped when it surfaces.
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterable, Callable, Sequence
from typing import Any, TypeVar

from ...domain.ports import (
    Clock,
    DueCustom,
    DueDecay,
    Expired,
    HeldSession,
    InstanceCount,
    Renewal,
    Seed,
    SessionDetail,
    SessionMeta,
    UserSessions,
    UserTransition,
)
from ...domain.presence import Choice, Transition, Update, UserState
from ...domain.rich_presence import CustomStatus, ShownDecays, next_seq
from ...domain.statuses import ONLINE
from ..clock import SystemClock

Due = TypeVar("Due")


def _claim_due(
    heap: list[Any], now: float, limit: int, due_of: Callable[..., Due], still_due: Callable[[Due], object]
) -> list[Due]:
    """Up to ``limit`` entries of a lazily deleted heap of ``(at, ...)`` that are due by
    ``now``, popped; an entry whose item is no longer due is dropped, not claimed."""
    claimed: list[Due] = []
    while heap and heap[0][0] <= now and len(claimed) < limit:
        due = due_of(*heapq.heappop(heap))
        if still_due(due) is not None:
            claimed.append(due)
    return claimed


class _User:
    """One user's sessions and choice; ``known`` is False until the choice is settled
    (chosen here, or adopted from the durable record after a cold start)."""

    __slots__ = (
        "sessions", "choice", "known", "decays_at", "leaving_at", "seq", "custom", "shown_decay", "from_devices",
    )

    def __init__(self, known: bool) -> None:
        # session id → (expires at, meta, state: ONLINE or a socket-scoped status)
        self.sessions: dict[str, tuple[float, SessionMeta, str]] = {}
        self.seq = 0
        self.choice: Choice | None = None
        self.known = known
        self.decays_at: float | None = None
        self.leaving_at: float | None = None  # within the offline grace until then
        self.custom: CustomStatus | None = None
        # The socket-scoped status whose decay is due at ``decays_at`` (the devices show
        # it), and whether the choice is what such a decay made (ShownDecays).
        self.shown_decay: str | None = None
        self.from_devices = False

    def state(self) -> UserState:
        sockets = tuple((meta.device, state) for _, meta, state in self.sessions.values())
        return UserState(
            len(self.sessions), self.choice, self.known, self.leaving_at is not None, sockets, self.seq, self.custom
        )


class InMemoryPresenceStore:
    """Every role of the presence store but the instance leases: one process is the only
    instance. It never loses its sessions either; ``SessionRecovery`` is implemented as
    the Redis store implements it, for the contract suite and the restore rules' tests."""

    def __init__(
        self,
        clock: Clock | None = None,
        shown_decays: ShownDecays | None = None,
        *,
        instance: str = "local",
        session_ttl: float = 90.0,
    ) -> None:
        # seq never falls below the clock in ms, so a restarted process still goes forward;
        # a decay of the shown status is due from the clock's now.
        self._clock = clock or SystemClock()
        self._shown_decays = shown_decays or ShownDecays()
        self.instance = instance
        self._session_ttl = session_ttl
        self._started_at = self._clock.now()
        self._users: dict[str, _User] = {}
        self._expiries: list[tuple[float, str, str]] = []
        self._decays: list[tuple[float, str, str]] = []
        self._graces: list[tuple[float, str]] = []
        self._customs: list[tuple[float, str]] = []  # (expires at, user): lazily deleted
        # Once seeded from the durable record, a user it never heard of chose nothing.
        self._seeded = False
        # restore_sessions: whether it ran, and each user's restored choice (as of, status).
        self._restored = False
        self._restored_choices: dict[str, tuple[float, str]] = {}

    def _user(self, user_id: str) -> _User:
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User(self._seeded)
        return user

    def _renew(
        self, user: _User, user_id: str, session_id: str, meta: SessionMeta, expires_at: float, state: str | None = None
    ) -> None:
        """``state`` None keeps a live session's state (a new one is active)."""
        user.leaving_at = None  # a new session cancels going offline
        known = user.sessions.get(session_id)
        if state is None:
            state = known[2] if known is not None else ONLINE
        user.sessions[session_id] = (expires_at, meta, state)
        heapq.heappush(self._expiries, (expires_at, user_id, session_id))

    def _set_custom(self, user: _User, user_id: str, custom: CustomStatus | None) -> None:
        user.custom = custom
        if custom is not None and custom.expires_at is not None:
            heapq.heappush(self._customs, (custom.expires_at, user_id))

    def _learn_custom(self, user: _User, user_id: str, custom: CustomStatus | None) -> None:
        """The durable record's custom status, unless one was set since the store lost the
        user (it is newer)."""
        if user.custom is None:
            self._set_custom(user, user_id, custom)

    def _follow_devices(self, user: _User, user_id: str) -> None:
        """Decay follows the shown status (``ShownDecays``), after the sockets changed."""
        states = [state for _, _, state in user.sessions.values()]
        plan = self._shown_decays
        if not states or plan.active(states):
            if user.shown_decay is not None:
                user.shown_decay = user.decays_at = None
            if states and user.from_devices:  # active again: the decay's choice ends
                user.choice = user.decays_at = None
                user.from_devices = False
            return
        if user.shown_decay is not None or user.from_devices:
            return  # due from when the devices first showed it, or already decayed
        due = plan.due(user.choice.status if user.choice is not None else None, states, self._clock.now())
        if due is not None:
            user.shown_decay, user.decays_at = due
            heapq.heappush(self._decays, (due[1], user_id, due[0]))

    def _changed(self, user_id: str, user: _User, before: UserState) -> Transition:
        self._follow_devices(user, user_id)
        user.seq = next_seq(user.seq, self._clock.now())
        return Transition(before, user.state())

    async def register(self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float) -> Transition:
        user = self._user(user_id)
        before = user.state()
        renewal = session_id in user.sessions and user.leaving_at is None
        self._renew(user, user_id, session_id, meta, expires_at)
        if renewal:  # a ping: nobody sees a difference, so seq stays
            return Transition(before, user.state())
        return self._changed(user_id, user, before)

    async def touch(self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float) -> Transition:
        return await self.register(user_id, session_id, meta, expires_at)

    async def renew_many(self, renewals: Sequence[Renewal]) -> list[bool]:
        live = []
        for renewal in renewals:
            user = self._users.get(renewal.user_id)
            known = user.sessions.get(renewal.session_id) if user is not None else None
            alive = user is not None and known is not None and user.leaving_at is None
            if user is not None and known is not None and alive and renewal.expires_at > known[0]:
                self._renew(user, renewal.user_id, renewal.session_id, known[1], renewal.expires_at)
            live.append(alive)
        return live

    def _set_choice(self, user: _User, user_id: str, choice: Choice | None, decays_at: float | None) -> None:
        user.choice = choice
        user.known = True
        user.shown_decay, user.from_devices = None, False  # a choice replaces the devices' decay
        user.decays_at = decays_at if choice is not None else None
        if user.decays_at is not None and choice is not None:
            heapq.heappush(self._decays, (user.decays_at, user_id, choice.status))

    async def choose(
        self,
        user_id: str,
        session_id: str,
        meta: SessionMeta,
        choice: Choice | None,
        expires_at: float,
        decays_at: float | None = None,
        socket_state: str | None = ONLINE,
        custom: CustomStatus | None = None,
        set_custom: bool = False,
    ) -> Transition:
        user = self._user(user_id)
        before = user.state()
        self._renew(user, user_id, session_id, meta, expires_at, socket_state)
        if choice is not None:
            self._set_choice(user, user_id, choice, decays_at)
        if set_custom:
            self._set_custom(user, user_id, custom)
        return self._changed(user_id, user, before)

    async def adopt_choice(
        self, user_id: str, choice: Choice | None, decays_at: float | None = None, custom: CustomStatus | None = None
    ) -> UserState:
        user = self._user(user_id)
        if not user.known:
            self._set_choice(user, user_id, choice, decays_at)
            self._learn_custom(user, user_id, custom)
            user.seq = next_seq(user.seq, self._clock.now())
        return user.state()

    def _decay_still_due(self, due: DueDecay) -> _User | None:
        user = self._users.get(due.user_id)
        if user is None or user.decays_at != due.due:
            return None
        status = user.shown_decay or (user.choice.status if user.choice is not None else None)
        return user if status == due.status else None

    async def claim_due_decays(self, now: float, limit: int) -> list[DueDecay]:
        # One no longer due was chosen again since it was pushed.
        return _claim_due(
            self._decays, now, limit, lambda at, user_id, status: DueDecay(user_id, status, at), self._decay_still_due
        )

    async def decay(self, due: DueDecay, to: Choice, decays_at: float | None) -> Transition | None:
        user = self._decay_still_due(due)
        if user is None:
            return None
        before = user.state()
        derived = user.shown_decay is not None or user.from_devices
        # What a decay of the devices' status makes lasts while they stay idle: not kept.
        self._set_choice(user, due.user_id, Choice(to.status, False) if derived else to, decays_at)
        user.from_devices = derived
        return self._changed(due.user_id, user, before)

    def _custom_still_due(self, due: DueCustom) -> _User | None:
        user = self._users.get(due.user_id)
        if user is None or user.custom is None or user.custom.expires_at != due.due:
            return None
        return user

    async def claim_due_customs(self, now: float, limit: int) -> list[DueCustom]:
        # One no longer due was set again or cleared since.
        return _claim_due(self._customs, now, limit, lambda at, user_id: DueCustom(user_id, at), self._custom_still_due)

    async def clear_custom(self, due: DueCustom) -> Transition | None:
        user = self._custom_still_due(due)
        if user is None:
            return None
        before = user.state()
        user.custom = None
        return self._changed(due.user_id, user, before)

    async def end(self, user_id: str, session_id: str, grace_until: float | None = None) -> Transition:
        user = self._users.get(user_id)
        if user is None:
            nobody = UserState(0, None, self._seeded)
            return Transition(nobody, nobody)
        before = user.state()
        self._drop(user, user_id, session_id, grace_until)
        return self._changed(user_id, user, before)

    def _drop(self, user: _User, user_id: str, session_id: str, grace_until: float | None = None) -> None:
        if user.sessions.pop(session_id, None) is None or user.sessions:
            return
        if grace_until is not None:
            user.leaving_at = grace_until
            heapq.heappush(self._graces, (grace_until, user_id))
        else:
            self._gone(user)

    @staticmethod
    def _gone(user: _User) -> None:
        if user.choice is not None and not user.choice.remember:
            user.choice = None
            user.decays_at = None
            user.from_devices = False

    async def settle_due_graces(self, now: float, limit: int) -> list[UserTransition]:
        settled: list[UserTransition] = []
        while self._graces and self._graces[0][0] <= now and len(settled) < limit:
            due, user_id = heapq.heappop(self._graces)
            user = self._users.get(user_id)
            if user is None or user.leaving_at != due:
                continue  # came back, or left again later
            before = user.state()
            user.leaving_at = None
            self._gone(user)
            settled.append(UserTransition(user_id, self._changed(user_id, user, before)))
        return settled

    async def end_instance_sessions(self, instance: str | None, limit: int) -> list[Expired]:
        """One process is the only instance: its sessions are all the sessions."""
        ended: list[Expired] = []
        for user_id, user in list(self._users.items()):
            for session_id in list(user.sessions):
                if len(ended) == limit:
                    return ended
                before = user.state()
                self._drop(user, user_id, session_id)
                ended.append(Expired(user_id, session_id, self._changed(user_id, user, before)))
        return ended

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
            self._drop(user, user_id, session_id)
            expired.append(Expired(user_id, session_id, self._changed(user_id, user, before)))
        return expired

    async def needs_seeding(self) -> bool:
        return not self._seeded

    async def seed_choices(self, choices: AsyncIterable[Seed]) -> int:
        learnt = 0
        async for user_id, choice, decays_at, custom in choices:
            user = self._user(user_id)
            if not user.known:
                self._set_choice(user, user_id, choice, decays_at)
                self._learn_custom(user, user_id, custom)
                learnt += 1
        self._seeded = True
        return learnt

    async def states(self, user_ids: Sequence[str]) -> list[UserState]:
        # Nothing here awaits, so all of them are read at one moment.
        users, nobody = self._users, UserState(0, None, self._seeded)
        return [user.state() if (user := users.get(user_id)) is not None else nobody for user_id in user_ids]

    # ---------------------------------------------------------------- the server API's reads

    async def sessions_of(self, user_id: str) -> UserSessions:
        user = self._users.get(user_id)
        if user is None:
            return UserSessions([], None)
        details = [
            SessionDetail(sid, meta.device, self.instance, meta.connected_at, expires_at - self._session_ttl, state)
            for sid, (expires_at, meta, state) in user.sessions.items()
        ]
        return UserSessions(details, user.leaving_at)

    async def instances(self) -> list[InstanceCount]:
        sockets = sum(len(user.sessions) for user in self._users.values())
        return [InstanceCount(self.instance, sockets, self._started_at)]

    async def online_users(self, limit: int) -> list[str]:
        online = (user_id for user_id, user in self._users.items() if user.sessions)
        return [user_id for user_id, _ in zip(online, range(limit), strict=False)]

    async def end_grace(self, user_id: str) -> Transition | None:
        user = self._users.get(user_id)
        if user is None or user.leaving_at is None or user.sessions:
            return None
        before = user.state()
        user.leaving_at = None
        self._gone(user)
        return self._changed(user_id, user, before)

    async def impose(self, user_id: str, update: Update) -> Transition:
        user = self._user(user_id)
        before = user.state()
        if update.choice is not None:
            self._set_choice(user, user_id, update.choice, update.decays_at)
            if not user.sessions and user.leaving_at is None:
                self._gone(user)  # nobody is connected: a choice that is not remembered ends now
        if update.set_custom:
            self._set_custom(user, user_id, update.custom)
        return self._changed(user_id, user, before)

    async def needs_restore(self) -> bool:
        return not self._restored

    async def restore_sessions(self, sessions: Sequence[HeldSession]) -> int:
        for held in sessions:
            user = self._user(held.user_id)
            known = user.sessions.get(held.session_id)
            meta, state = (known[1], known[2]) if known is not None else (held.meta, ONLINE)
            user.sessions[held.session_id] = (held.expires_at, meta, state)
            heapq.heappush(self._expiries, (held.expires_at, held.user_id, held.session_id))
            if held.choice_known:
                chosen = held.choice.status if held.choice is not None else ""
                current = user.choice.status if user.choice is not None else ""
                note = self._restored_choices.get(held.user_id)
                if not user.known or (note is not None and note[1] == current and note[0] < held.choice_as_of):
                    self._set_choice(user, held.user_id, held.choice, held.decays_at)
                    self._restored_choices[held.user_id] = (held.choice_as_of, chosen)
        self._restored = True
        return len(sessions)

    async def release_restore(self) -> None:
        self._restored = False
