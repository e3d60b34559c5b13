"""What this instance holds in the shared presence store, kept in process so that it can
be written back when the store loses it.

Redis restarted without persistence forgets every session while the sockets stay
connected: no client reconnects, so nothing would ever register them again. Each instance
therefore keeps, for the sessions it registered, what it needs to write them again — the
session's metadata and expiry, and its user's choice as the store last reported it, and
when — by reading the replies of the store the use cases are given (``RecordingStore``).
``restore.py`` writes them back.

It holds what the store told it: a choice made on another instance reaches this one with
its next call for that user (a ping at the latest), so every instance's hint carries its
age and the store keeps the newest. A session whose end could not be recorded (the store
was down, or had already lost it) is kept as due, so that once restored the sweeper ends
it with the event nobody got yet — at once, by ending it again once the store answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import anyio

from ..domain.ports import (
    Clock,
    DueCustom,
    DueDecay,
    Expired,
    HeldSession,
    Renewal,
    SessionMeta,
    SessionStore,
    SessionSweeps,
    UserTransition,
)
from ..domain.presence import Choice, Transition, UserState
from ..domain.rich_presence import CustomStatus

# Why a held session's end is still owed: the store was down, or no longer had it; or the
# user's last session ended with an offline grace that the store has yet to settle.
END_FAILED = "failed"
END_ABSENT = "absent"
END_GRACE = "grace"


@dataclass(slots=True)
class _Session:
    meta: SessionMeta
    expires_at: float
    owed_end: str = ""


@dataclass(slots=True)
class _Choice:
    choice: Choice | None
    as_of: float
    decays_at: float | None


class HeldSessions:
    def __init__(self) -> None:
        self._users: dict[str, dict[str, _Session]] = {}
        self._choices: dict[str, _Choice] = {}
        self._owed: set[tuple[str, str]] = set()  # the few sessions whose end is owed

    def holds(self, user_id: str, session_id: str) -> bool:
        return session_id in self._users.get(user_id, {})

    def hold(self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float) -> None:
        sessions = self._users.setdefault(user_id, {})
        known = sessions.get(session_id)
        sessions[session_id] = _Session(known.meta if known else meta, expires_at)
        self._owed.discard((user_id, session_id))

    def renew(self, user_id: str, session_id: str, expires_at: float) -> None:
        """The client showed it is alive, whether or not the store heard it."""
        session = self._users.get(user_id, {}).get(session_id)
        if session is not None and not session.owed_end:
            session.expires_at = expires_at

    def learn(self, user_id: str, state: UserState, now: float, decays_at: float | None = None) -> None:
        if user_id not in self._users or not state.choice_known:
            return
        known = self._choices.get(user_id)
        if decays_at is None and known is not None and known.choice == state.choice:
            decays_at = known.decays_at
        self._choices[user_id] = _Choice(state.choice, now, decays_at)

    def release(self, user_id: str, session_id: str) -> None:
        self._owed.discard((user_id, session_id))
        sessions = self._users.get(user_id)
        if sessions is None or sessions.pop(session_id, None) is None or sessions:
            return
        del self._users[user_id]
        self._choices.pop(user_id, None)

    def owe_end(self, user_id: str, session_id: str, why: str, due: float) -> None:
        session = self._users.get(user_id, {}).get(session_id)
        if session is not None:
            session.expires_at = min(session.expires_at, due)
            session.owed_end = session.owed_end or why
            self._owed.add((user_id, session_id))

    def _owed_sessions(self) -> list[tuple[str, str, _Session]]:
        return [(user_id, session_id, self._users[user_id][session_id]) for user_id, session_id in self._owed]

    def owed_ends(self) -> list[tuple[str, str]]:
        """Sessions whose socket closed but whose end the store never recorded."""
        return [(user, session_id) for user, session_id, s in self._owed_sessions() if s.owed_end != END_GRACE]

    def forget_absent(self) -> None:
        """The store was not lost after all (a survivor ended those sessions): nothing owed."""
        self._forget(lambda session: session.owed_end == END_ABSENT)

    def forget_graces(self, now: float) -> None:
        """Graces due by ``now`` were settled in the store: nothing owed."""
        self._forget(lambda session: session.owed_end == END_GRACE and session.expires_at <= now)

    def _forget(self, owed: Callable[[_Session], bool]) -> None:
        for user_id, session_id, session in self._owed_sessions():
            if owed(session):
                self.release(user_id, session_id)

    def snapshot(self, decays_at: Callable[[str], float | None]) -> list[HeldSession]:
        """Every held session with its user's choice; ``decays_at`` restarts the decay clock
        of a choice whose due time this instance never learnt."""
        held = []
        for user_id, sessions in self._users.items():
            known = self._choices.get(user_id)
            for session_id, session in sessions.items():
                if known is None:
                    held.append(HeldSession(user_id, session_id, session.meta, session.expires_at))
                    continue
                due = known.decays_at
                if due is None and known.choice is not None:
                    due = decays_at(known.choice.status)
                held.append(
                    HeldSession(
                        user_id, session_id, session.meta, session.expires_at,
                        known.choice, True, known.as_of, due,
                    )
                )
        return held


class _Gate:
    """Store calls run side by side; a restore runs alone, so that no call lands between
    the snapshot it takes and the writes it makes (an end there would be undone)."""

    def __init__(self) -> None:
        self._calls = 0
        self._restoring: anyio.Event | None = None
        self._drained: anyio.Event | None = None

    @asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        while self._restoring is not None:
            await self._restoring.wait()
        self._calls += 1
        try:
            yield
        finally:
            self._calls -= 1
            if self._calls == 0 and self._drained is not None:
                self._drained.set()

    @asynccontextmanager
    async def alone(self) -> AsyncIterator[None]:
        while self._restoring is not None:
            await self._restoring.wait()
        self._restoring = anyio.Event()
        try:
            while self._calls:
                self._drained = anyio.Event()
                await self._drained.wait()
            self._drained = None
            yield
        finally:
            done, self._restoring = self._restoring, None
            done.set()


class RecordableStore(SessionStore, SessionSweeps, Protocol):
    """The roles whose replies say which sessions this instance holds."""


class RecordingStore:
    """The sessions and sweeps the use cases are given (``SessionStore``,
    ``SessionSweeps``): every call goes to ``inner``, and its reply keeps ``held`` up to
    date. A reply that shows the store no longer knows whether a user chose anything (its
    seeding epoch is gone) calls ``on_loss``. The other roles (leases, reads, seeding,
    recovery) are given to their callers by the store itself, not through this."""

    def __init__(
        self, inner: RecordableStore, held: HeldSessions, clock: Clock, on_loss: Callable[[], None] = lambda: None
    ) -> None:
        self._inner = inner
        self.held = held
        self._clock = clock
        self._on_loss = on_loss
        self._gate = _Gate()

    def alone(self) -> AbstractAsyncContextManager[None]:
        """Hold every recorded call back while the caller (a restore) works."""
        return self._gate.alone()

    def _learn(self, user_id: str, state: UserState, decays_at: float | None = None) -> None:
        if not state.choice_known:
            self._on_loss()
        self.held.learn(user_id, state, self._clock.now(), decays_at)

    async def register(self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float) -> Transition:
        async with self._gate.call():
            transition = await self._inner.register(user_id, session_id, meta, expires_at)
            self.held.hold(user_id, session_id, meta, expires_at)
            self._learn(user_id, transition.after)
            return transition

    async def touch(self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float) -> Transition:
        async with self._gate.call():
            self.held.renew(user_id, session_id, expires_at)
            transition = await self._inner.touch(user_id, session_id, meta, expires_at)
            self.held.hold(user_id, session_id, meta, expires_at)
            self._learn(user_id, transition.after)
            return transition

    async def renew_many(self, renewals: Sequence[Renewal]) -> list[bool]:
        async with self._gate.call():
            for renewal in renewals:
                self.held.renew(renewal.user_id, renewal.session_id, renewal.expires_at)
            return await self._inner.renew_many(renewals)

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
        async with self._gate.call():
            self.held.renew(user_id, session_id, expires_at)
            transition = await self._inner.choose(
                user_id, session_id, meta, choice, expires_at, decays_at, socket_state, custom, set_custom
            )
            self.held.hold(user_id, session_id, meta, expires_at)
            self._learn(user_id, transition.after, decays_at)
            return transition

    async def adopt_choice(
        self, user_id: str, choice: Choice | None, decays_at: float | None = None, custom: CustomStatus | None = None
    ) -> UserState:
        async with self._gate.call():
            state = await self._inner.adopt_choice(user_id, choice, decays_at, custom)
            self._learn(user_id, state, decays_at)
            return state

    async def end(self, user_id: str, session_id: str, grace_until: float | None = None) -> Transition:
        async with self._gate.call():
            try:
                transition = await self._inner.end(user_id, session_id, grace_until)
            except Exception:
                self.held.owe_end(user_id, session_id, END_FAILED, self._clock.now())
                raise
            if transition.before.sessions == transition.after.sessions and self.held.holds(user_id, session_id):
                # The store did not have it: lost (or ended by a survivor that thought us dead).
                self.held.owe_end(user_id, session_id, END_ABSENT, self._clock.now())
                self._on_loss()
            elif transition.after.lingering and grace_until is not None:
                # The user's OFFLINE waits for the grace; should the store lose it meanwhile,
                # the restored session ends when the grace would have.
                self.held.owe_end(user_id, session_id, END_GRACE, grace_until)
            else:
                self.held.release(user_id, session_id)
            return transition

    def _ended(self, items: Sequence[Expired]) -> None:
        for item in items:
            self.held.release(item.user_id, item.session_id)
            self._learn(item.user_id, item.transition.after)

    async def expire_due(self, now: float, limit: int) -> list[Expired]:
        async with self._gate.call():
            expired = await self._inner.expire_due(now, limit)
            self._ended(expired)
            return expired

    async def end_instance_sessions(self, instance: str | None, limit: int) -> list[Expired]:
        async with self._gate.call():
            ended = await self._inner.end_instance_sessions(instance, limit)
            if instance is None:
                self._ended(ended)
            return ended

    async def settle_due_graces(self, now: float, limit: int) -> list[UserTransition]:
        async with self._gate.call():
            settled = await self._inner.settle_due_graces(now, limit)
            for item in settled:
                self._learn(item.user_id, item.transition.after)
            if len(settled) < limit:  # every grace due by now is settled, here or elsewhere
                self.held.forget_graces(now)
            return settled

    async def claim_due_decays(self, now: float, limit: int) -> list[DueDecay]:
        """Claiming holds no session: it is not held back by a restore."""
        return await self._inner.claim_due_decays(now, limit)

    async def decay(self, due: DueDecay, to: Choice, decays_at: float | None) -> Transition | None:
        async with self._gate.call():
            transition = await self._inner.decay(due, to, decays_at)
            if transition is not None:
                self._learn(due.user_id, transition.after, decays_at)
            return transition

    async def claim_due_customs(self, now: float, limit: int) -> list[DueCustom]:
        return await self._inner.claim_due_customs(now, limit)

    async def clear_custom(self, due: DueCustom) -> Transition | None:
        async with self._gate.call():
            transition = await self._inner.clear_custom(due)
            if transition is not None:
                self._learn(due.user_id, transition.after)
            return transition
