"""The presence use cases: what a socket event means, from token to delivered change.

Each event is one store operation; the decision is pure (``presence.decide``); the
durable write is queued, never awaited; only the broadcast is awaited, since that is the
event's purpose.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import anyio

from ..domain.errors import InvalidPayload
from ..domain.ports import (
    Broadcaster,
    ChoiceSeeding,
    Clock,
    DueCustom,
    DueDecay,
    DurableStatuses,
    Identity,
    InstanceLeases,
    SessionMeta,
    SessionStore,
    SessionSweeps,
    TokenVerifier,
)
from ..domain.presence import Choice, Transition, Update, UserState, decide, own_status
from ..domain.rich_presence import parse_custom_status
from ..domain.statuses import MAX_STATUS_NAME, ONLINE, Status, StatusRegistry
from .held_pings import HeldPings

log = logging.getLogger(__name__)


class _OfUser(Protocol):
    @property
    def user_id(self) -> str: ...


T = TypeVar("T", bound=_OfUser)


async def _each(items: Iterable[T], step: Callable[[T], Awaitable[object]], failure: str) -> None:
    """Each item of a batch the store already claimed: one that fails is logged (``failure``
    names the user) and the others still go on."""
    for item in items:
        try:
            await step(item)
        except Exception:
            log.exception(failure + "; the rest of the batch goes on", item.user_id)


@dataclass(frozen=True, slots=True)
class Arrival:
    """What a new socket's user now is to their own sockets, and the ``seq`` of that: an
    update the socket is sent later for a seq not above it is old news."""

    status: str
    seq: int


class PresenceService:
    def __init__(
        self,
        *,
        registry: StatusRegistry,
        sessions: SessionStore,
        sweeps: SessionSweeps,
        seeding: ChoiceSeeding,
        durable: DurableStatuses,
        broadcaster: Broadcaster,
        clock: Clock,
        verifier: TokenVerifier,
        leases: InstanceLeases | None = None,
        session_ttl: float,
        offline_grace: float,
        held_pings: HeldPings | None = None,
    ) -> None:
        """``session_ttl`` and ``offline_grace`` have no default here: the settings hold them
        (the container passes them), so a service built elsewhere cannot quietly differ."""
        self.registry = registry
        self._sessions = sessions
        self._sweeps = sweeps
        self._seeding = seeding
        self._leases = leases  # None where this process is the only instance
        self._durable = durable
        self._broadcaster = broadcaster
        self._clock = clock
        self._verifier = verifier
        self.session_ttl = session_ttl
        self._held_pings = held_pings  # None: every ping is written at once
        # A user whose last tab closes stays as they were this long: a page reload (or a
        # reconnect to another instance) within it is no OFFLINE/ONLINE flap.
        self.offline_grace = offline_grace
        # Set once this instance's sessions were ended in one batch (shutdown): the
        # disconnects that follow have nothing left to record.
        self.draining = False
        # Read by the metrics collector at scrape time; plain counts cost nothing per event.
        self.changes: dict[str, int] = {}
        self.expired = self.lease_renewals = self.takeovers = 0
        # Leases: the TTL of the last renewal (None before the first), and until when this
        # instance judges no other's lease (after it found its own lapsed).
        self._lease_ttl: float | None = None
        self._judge_leases_from = 0.0

    async def authenticate(self, token: object) -> str:
        return await self._verifier.verify(token)

    async def identify(self, token: object) -> Identity:
        return await self._verifier.identify(token)

    async def connect(self, user_id: str, session_id: str, meta: SessionMeta) -> Arrival:
        """Register the session; returns what the user's own sockets now see."""
        now = self._clock.now()
        transition = await self._sessions.register(user_id, session_id, meta, now + self.session_ttl)
        self._wrote(user_id, session_id, now + self.session_ttl)
        transition = await self._apply(user_id, transition, now)
        return Arrival(own_status(transition.after, self.registry), transition.after.seq)

    async def heartbeat(self, user_id: str, session_id: str, meta: SessionMeta) -> None:
        """A ping renews the session; one that had expired comes back (and says so)."""
        now = self._clock.now()
        expires_at = now + self.session_ttl
        if self._held_pings is not None and self._held_pings.hold(user_id, session_id, now, expires_at):
            return
        transition = await self._sessions.touch(user_id, session_id, meta, expires_at)
        self._wrote(user_id, session_id, expires_at)
        if transition.before != transition.after:
            await self._apply(user_id, transition, now)

    async def choose(self, user_id: str, session_id: str, meta: SessionMeta, status_name: object) -> None:
        await self.update(user_id, session_id, meta, {"status": status_name})

    async def update(self, user_id: str, session_id: str, meta: SessionMeta, payload: dict[str, object]) -> None:
        """``presence:update``: a ``status``, a ``customStatus`` (an object, or None to clear
        it), or both, in one store call. Everything is checked before anything changes."""
        now = self._clock.now()
        terms = self.update_terms(payload, now)
        transition = await self._sessions.choose(
            user_id, session_id, meta, terms.choice, now + self.session_ttl, terms.decays_at, terms.socket_state,
            terms.custom, terms.set_custom,
        )
        self._wrote(user_id, session_id, now + self.session_ttl)
        await self._apply(user_id, transition, now)

    def update_terms(self, payload: dict[str, object], now: float, *, socket: bool = True) -> Update:
        """What an update asks, checked; the server API (``socket`` False) has no socket
        whose own state (IDLE) it could set, so such a status is refused there."""
        if "status" not in payload and "customStatus" not in payload:
            raise InvalidPayload("presence:update needs a status or a customStatus")
        set_custom = "customStatus" in payload
        custom = parse_custom_status(payload["customStatus"], now) if set_custom else None
        choice: Choice | None = None
        decays_at = None
        socket_state: str | None = None  # a custom status alone says nothing of activity
        if "status" in payload:
            status = self._status(payload["status"])
            if self.registry.socket_scoped(status.name):
                if not socket:
                    raise InvalidPayload(f"{status.name} is a socket's own state: only that socket sets it")
                socket_state = status.name  # a socket's own state (IDLE): the user-wide choice stands
            else:
                # A user-wide choice, made by someone at this socket: it is active.
                socket_state = ONLINE
                choice = Choice(status.name, status.remembered)
                decays_at = self.registry.decays_at(status.name, now)
        return Update(choice, decays_at, socket_state, custom, set_custom)

    def _status(self, status_name: object) -> Status:
        if not isinstance(status_name, str) or not status_name:
            raise InvalidPayload("status must be a non-empty string")
        if len(status_name) > MAX_STATUS_NAME:
            raise InvalidPayload(f"status is longer than {MAX_STATUS_NAME} characters")
        return self.registry.choosable(status_name)

    async def disconnect(self, user_id: str, session_id: str) -> None:
        if self.draining:
            return
        now = self._clock.now()
        grace_until = now + self.offline_grace if self.offline_grace > 0 else None
        if self._held_pings is not None:
            self._held_pings.forget(user_id, session_id)
        transition = await self._sessions.end(user_id, session_id, grace_until)
        await self._apply(user_id, transition, now)

    async def record(self, user_id: str, transition: Transition) -> None:
        """A transition made outside a socket event (the server API's status): decided,
        written and broadcast as any other."""
        await self._apply(user_id, transition, self._clock.now())

    async def end_sessions(self, user_id: str, session_ids: list[str]) -> int:
        """End these sessions of the user now, wherever they are, with no offline grace:
        the last one takes the user OFFLINE at once. Returns how many the store had."""
        ended = 0
        for session_id in session_ids:
            now = self._clock.now()
            transition = await self._sessions.end(user_id, session_id, None)
            ended += transition.before.sessions - transition.after.sessions
            await self._apply(user_id, transition, now)
        return ended

    async def sweep(self, limit: int = 1000) -> int:
        """Expire sessions whose TTL passed without a ping, as if they disconnected, settle
        offline graces, decay statuses that were held long enough (IDLE becomes AWAY) and
        clear custom statuses at their expiry. Returns the largest of those batches, so a
        full batch is followed by another."""
        await self._renew_held()
        now = self._clock.now()
        expired = await self._sweeps.expire_due(now, limit)
        self.expired += len(expired)
        await self._apply_each(expired, now)
        settled = await self._sweeps.settle_due_graces(now, limit)
        await self._apply_each(settled, now)
        decayed = await self._sweeps.claim_due_decays(now, limit)
        await _each(decayed, lambda due: self._decay(due, now), "decay of user %r failed")
        cleared = await self._sweeps.claim_due_customs(now, limit)
        await _each(cleared, lambda due: self._clear_custom(due, now), "custom status of user %r not cleared")
        return max(len(expired), len(settled), len(decayed), len(cleared))

    def _wrote(self, user_id: str, session_id: str, expires_at: float) -> None:
        if self._held_pings is not None:
            self._held_pings.wrote(user_id, session_id, expires_at)

    async def _renew_held(self) -> None:
        """The pings held since the last sweep, in one store call (``held_pings.py``)."""
        held = self._held_pings
        renewals = held.take(self._clock.now()) if held is not None else []
        if held is None or not renewals:
            return
        try:
            live = await self._sessions.renew_many(renewals)
        except Exception as error:  # the store is down: said by its circuit, not once more here
            held.lost(renewals)
            log.warning("%d held pings not renewed (%s): their next pings go to the store", len(renewals), error)
            return
        held.renewed(renewals, live)

    async def _apply_each(self, items, now: float) -> None:
        """A claimed batch is already gone from the store: one item that fails is logged
        and the others are still delivered."""
        await _each(
            items, lambda item: self._apply(item.user_id, item.transition, now), "presence change of user %r failed"
        )

    async def end_instance(self, instance: str | None = None, batch: int = 500) -> int:
        """End every session of an instance in batches, with no grace: this one at
        shutdown (None), or a dead one a survivor took over. Users with a session left
        elsewhere stay as they are; the others go OFFLINE, each with one event."""
        if instance is None:
            self.draining = True
        ended = 0
        while True:
            now = self._clock.now()
            items = await self._sweeps.end_instance_sessions(instance, batch)
            await self._apply_each(items, now)
            ended += len(items)
            if len(items) < batch:
                return ended

    async def settle_graces(self, within: float = 86_400.0, limit: int = 1000) -> int:
        """Settle now every offline grace due ``within`` seconds (shutdown, when no instance
        is left to settle them when due): those users go OFFLINE, each with one event."""
        settled = 0
        while True:
            now = self._clock.now()
            items = await self._sweeps.settle_due_graces(now + within, limit)
            for item in items:
                await self._apply(item.user_id, item.transition, now)
            settled += len(items)
            if len(items) < limit:
                return settled

    def _held_leases(self) -> InstanceLeases:
        if self._leases is None:
            raise RuntimeError("this deployment is a single instance: it holds no lease")
        return self._leases

    async def renew_lease(self, ttl: float) -> bool:
        """Whether the lease was still held. Found lapsed after a first renewal, it says the
        store forgot leases — a failover to a replica that missed the last renewals, a
        restart — rather than this instance dying: the others' leases are just as stale,
        so none is judged dead until each has had a whole TTL to renew."""
        self.lease_renewals += 1
        now = self._clock.now()
        held = await self._held_leases().renew_lease(now, ttl)
        if not held and self._lease_ttl is not None:
            self._judge_leases_from = now + ttl
            # Survivors may have ended this instance's sessions (they come back with their
            # next ping); after Redis lost its data, the restore brings them.
            log.warning("this instance's lease had lapsed and is held again; no other is judged dead for %gs", ttl)
        self._lease_ttl = ttl
        return held

    async def release_lease(self) -> None:
        """Give the lease up (shutdown); a single instance has none to give up."""
        if self._leases is not None:
            await self._leases.release_lease()

    async def take_over_dead_instances(self) -> dict[str, int]:
        """Sessions of instances whose lease lapsed (killed, partitioned) are ended by one
        survivor, so nobody stays "online" on a node that died without a word."""
        taken: dict[str, int] = {}
        if self.draining or self._clock.now() < self._judge_leases_from:
            return taken  # leaving (its lease released: renewing it would announce it again)
        # This instance's own lease first: lapsed too, the store forgot them all (above).
        if self._lease_ttl is not None and not await self.renew_lease(self._lease_ttl):
            return taken
        for instance in await self._held_leases().claim_dead_instances(self._clock.now()):
            taken[instance] = await self.end_instance(instance)
            self.takeovers += 1
        return taken

    async def _decay(self, due: DueDecay, now: float) -> None:
        status = self.registry.get(due.status)
        if status is None or status.decay is None:
            return  # the declaration changed since the decay was scheduled
        target = self.registry[status.decay.to]
        # A chain (IDLE → AWAY → …) keeps its rhythm from when each step was due.
        next_due = self.registry.decays_at(target.name, due.due)
        transition = await self._sweeps.decay(due, Choice(target.name, target.remembered), next_due)
        if transition is not None:
            await self._apply(due.user_id, transition, now)

    async def _clear_custom(self, due: DueCustom, now: float) -> None:
        transition = await self._sweeps.clear_custom(due)
        if transition is not None:
            await self._apply(due.user_id, transition, now)

    async def seed_remembered_choices(self) -> int:
        """Copy every remembered choice and custom status from the durable record into the
        store, so that a user's first connect needs no database read (one store call)."""
        if not await self._seeding.needs_seeding():
            return 0
        now = self._clock.now()

        async def choices():
            async for user_id, chosen, custom in self._durable.remembered_choices():
                status = self.registry.get(chosen) if chosen is not None else None
                if status is None or not status.remembered:
                    status = None
                if custom is not None and custom.expired(now):
                    custom = None
                if status is not None:
                    yield user_id, Choice(status.name, True), self.registry.decays_at(status.name, now), custom
                elif custom is not None:
                    yield user_id, None, None, custom

        return await self._seeding.seed_choices(choices())

    async def _apply(self, user_id: str, transition: Transition, now: float) -> Transition:
        if transition.first_session and not transition.after.choice_known:
            transition = await self._recall_choice(user_id, transition)
        outcome = decide(self.registry, user_id, transition, now)
        if outcome.durable is not None:
            self._durable.submit(outcome.durable)
        if outcome.change is not None:
            self.changes[outcome.change.status] = self.changes.get(outcome.change.status, 0) + 1
            await self._broadcaster.publish(outcome.change)
        return transition

    # How long a first connect waits for the database to say what the user chose.
    recall_timeout = 2.0

    async def _recall_choice(self, user_id: str, transition: Transition) -> Transition:
        """The store lost (or never had) the user's choice: the durable record has it.

        A database that is down or slow must not fail or stall the connect: past the
        timeout, or on an error, the user connects as if they had chosen nothing, and the
        choice stays unknown — nothing learnt is taught to the store, and the durable
        write this connect causes keeps the stored choice instead of erasing it.
        """
        read = False
        record = None
        with anyio.move_on_after(self.recall_timeout) as waited:
            try:
                record = await self._durable.get(user_id)
                read = True
            except Exception as error:
                log.warning("remembered status of user %s not read, the database is unavailable: %r", user_id, error)
        if waited.cancelled_caught:
            log.warning("remembered status of user %s not read within %gs", user_id, self.recall_timeout)
        if not read:
            return transition
        chosen = record.chosen if record is not None else None
        choice = None
        if chosen is not None and chosen in self.registry:
            choice = Choice(chosen, self.registry[chosen].remembered)
        now = self._clock.now()
        decays_at = self.registry.decays_at(choice.status, now) if choice is not None else None
        custom = record.custom if record is not None else None
        if custom is not None and custom.expired(now):
            custom = None  # it cleared itself while the store did not hold it
        after = await self._sessions.adopt_choice(user_id, choice, decays_at, custom)
        before = UserState(transition.before.sessions, after.choice)
        return Transition(before, after)
