"""The presence state machine: a store's before/after snapshot in, at most one change out.

The store makes each operation atomic across instances and reports what a user's state
was and became; everything that follows from it — what the user's own sockets see, what
everybody else sees, what must be written durably — is decided here, without I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .rich_presence import CustomStatus, custom_status_seen, device_states, devices_seen, shown_status
from .statuses import OFFLINE, ONLINE, StatusRegistry


@dataclass(frozen=True, slots=True)
class Choice:
    """A status the user picked; ``remember`` keeps it after their last session ends."""

    status: str
    remember: bool


@dataclass(frozen=True, slots=True)
class Update:
    """A ``presence:update`` once checked, also what the server API sets for a user: the
    user-wide choice (None keeps it), the socket's own state (None keeps it; the server
    API has no socket) and the custom status, written only when ``set_custom``."""

    choice: Choice | None = None
    decays_at: float | None = None
    socket_state: str | None = None
    custom: CustomStatus | None = None
    set_custom: bool = False


@dataclass(frozen=True, slots=True)
class UserState:
    """What the store holds for one user: live sessions and the standing choice.

    ``choice_known`` is False when the store has never seen the user (or lost its data),
    so the durable record has to be asked what the user chose. ``lingering`` is True
    while a user whose last session closed is within the offline grace period: everyone
    still sees them as they were, so a page reload is no OFFLINE/ONLINE flap.
    """

    sessions: int
    choice: Choice | None = None
    choice_known: bool = True
    lingering: bool = False
    # Each session's (device kind, state: ONLINE or a socket-scoped status), and the user's
    # version. Left out of equality: a ping that renews a session changes neither what the
    # user is nor what anyone sees, though the store may have moved ``seq`` on.
    socket_states: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    seq: int = field(default=0, compare=False)
    # The user's custom status, user-wide like the choice.
    custom: CustomStatus | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    before: UserState
    after: UserState

    @property
    def first_session(self) -> bool:
        return self.before.sessions == 0 and self.after.sessions > 0


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """A change of what the user's own sockets see; ``public`` is what others see.

    ``devices`` and ``custom_status`` are what others see of them (nothing of a user seen
    as not online), ``previous_devices`` and ``previous_custom_status`` what they saw
    before; ``seq`` is the user's version, which only grows (``rich_presence.next_seq``).
    """

    user_id: str
    status: str
    public: str
    previous: str
    previous_public: str
    at: float
    seq: int = 0
    devices: Mapping[str, str] = field(default_factory=dict)
    custom_status: CustomStatus | None = None
    previous_devices: Mapping[str, str] = field(default_factory=dict)
    previous_custom_status: CustomStatus | None = None

    @property
    def public_changed(self) -> bool:
        """Whether watchers are told: what others see changed (status, devices, custom)."""
        return (
            self.public != self.previous_public
            or self.devices != self.previous_devices
            or self.custom_status != self.previous_custom_status
        )


@dataclass(frozen=True, slots=True)
class DurableStatus:
    """The durable record of a user: what others see, what they chose to keep, when.

    ``last_seen`` is None when this transition does not move it (the stored value stays);
    likewise ``chosen_known`` False keeps the stored choice (the store could not learn it).
    ``at`` orders writes: a record never overwrites one with a later ``at``. The custom
    status is written only when ``custom_known`` (this transition moved it); otherwise
    the stored one stays.
    """

    user_id: str
    status: str
    chosen: str | None
    last_seen: float | None
    at: float
    chosen_known: bool = True
    custom: CustomStatus | None = None
    custom_known: bool = field(default=False, compare=False)  # how to write it, not what it is


@dataclass(frozen=True, slots=True)
class Outcome:
    change: PresenceChanged | None
    durable: DurableStatus | None


NO_OUTCOME = Outcome(None, None)


def own_status(state: UserState, registry: StatusRegistry | None = None) -> str:
    """The status the user's own sockets see; with the registry, socket states count
    (``rich_presence.shown_status``)."""
    if state.sessions == 0 and not state.lingering:
        return OFFLINE
    choice = state.choice
    if registry is None:
        return choice.status if choice is not None else ONLINE
    chosen = choice.status if choice is not None else None
    return shown_status(registry, chosen, device_states(registry, state.socket_states))


def seen_devices(registry: StatusRegistry, state: UserState, public: str) -> dict[str, str]:
    """The devices others see of a user whose public status is ``public``."""
    return devices_seen(registry, public, device_states(registry, state.socket_states))


def remembered_choice(state: UserState) -> str | None:
    choice = state.choice
    return choice.status if choice is not None and choice.remember else None


def _lingers(state: UserState) -> bool:
    return state.sessions == 0 and state.lingering


def decide(registry: StatusRegistry, user_id: str, transition: Transition, now: float) -> Outcome:
    before, after = transition.before, transition.after
    previous = own_status(before, registry)
    current = own_status(after, registry)
    previous_public = registry.public_name(previous)
    public = registry.public_name(current)
    previous_devices = seen_devices(registry, before, previous_public)
    devices = seen_devices(registry, after, public)
    previous_custom = custom_status_seen(registry, previous_public, before.custom)
    custom = custom_status_seen(registry, public, after.custom)

    # A lingering user has no socket left to tell their devices by, yet is seen as they
    # were: their devices are not news until the grace settles (OFFLINE) or they return.
    devices_moved = devices != previous_devices and not (_lingers(before) or _lingers(after))
    change = None
    if current != previous or devices_moved or custom != previous_custom:
        change = PresenceChanged(
            user_id, current, public, previous, previous_public, now, after.seq, devices, custom,
            previous_devices=previous_devices, previous_custom_status=previous_custom,
        )

    durable = None
    chosen_after = remembered_choice(after)
    custom_moved = after.custom != before.custom
    if public != previous_public or chosen_after != remembered_choice(before) or custom_moved:
        was_online = registry[previous_public].online
        is_online = registry[public].online
        last_seen = now if (was_online or is_online) and public != previous_public else None
        durable = DurableStatus(
            user_id, public, chosen_after, last_seen, now, after.choice_known, after.custom, custom_moved
        )
    if change is None and durable is None:
        return NO_OUTCOME
    return Outcome(change, durable)
