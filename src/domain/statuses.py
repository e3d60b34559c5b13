"""Statuses are data, not branches: the state machine asks the registry, so a team adds a
status by declaring it here (or in a file, later) without touching the rules."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from .errors import InvalidStatuses, StatusNotChoosable, UnknownStatus

ONLINE = "ONLINE"
OFFLINE = "OFFLINE"
IDLE = "IDLE"
DND = "DND"
INVISIBLE = "INVISIBLE"

MAX_STATUS_NAME = 64

# Where a status lives: "user" is one choice for all of a user's sockets (DND, INVISIBLE);
# "socket" is a socket's own state (IDLE): the user is shown in it only while every one of
# their sockets is in it, so one idle tab does not make an active phone user look away.
USER_SCOPE = "user"
SOCKET_SCOPE = "socket"
SCOPES = (USER_SCOPE, SOCKET_SCOPE)


@dataclass(frozen=True, slots=True)
class Decay:
    """After ``after`` seconds in a status, the user's status becomes ``to`` (IDLE for
    ten minutes becomes AWAY). Driven by the sweeper through the Clock port."""

    after: float
    to: str


@dataclass(frozen=True, slots=True)
class Status:
    """One status a user can be in.

    ``seen_as`` names the status other users see instead (INVISIBLE is seen as OFFLINE);
    ``remembered`` keeps a chosen status across reconnects, while a status that is not
    remembered lasts only as long as the user stays connected. ``scope`` is
    ``"socket"`` for a socket's own state (see ``SOCKET_SCOPE``), ``"user"`` otherwise.
    """

    name: str
    choosable: bool = True
    seen_as: str | None = None
    online: bool = True
    remembered: bool = True
    decay: Decay | None = None
    scope: str = USER_SCOPE

    @property
    def public_name(self) -> str:
        return self.seen_as or self.name


BUILTIN_STATUSES: tuple[Status, ...] = (
    Status(ONLINE, choosable=True, online=True, remembered=False),
    # OFFLINE may be chosen while connected ("appear offline" for this visit only); it is
    # what a user with no connection is, whatever they chose.
    Status(OFFLINE, choosable=True, online=False, remembered=False),
    Status(IDLE, choosable=True, online=True, remembered=True, scope=SOCKET_SCOPE),
    Status(DND, choosable=True, online=True, remembered=True),
    Status(INVISIBLE, choosable=True, seen_as=OFFLINE, online=False, remembered=True),
)
BUILTIN_NAMES = frozenset(s.name for s in BUILTIN_STATUSES)


def _validate(by_name: Mapping[str, Status]) -> None:
    """Every rule the state machine relies on, checked once, with a message naming the
    status at fault (a gateway refuses to start on a bad declaration)."""
    for required in (ONLINE, OFFLINE):
        if required not in by_name:
            raise InvalidStatuses(f"the registry needs the built-in status {required}")
    offline = by_name[OFFLINE]
    if offline.online or offline.public_name != OFFLINE or offline.decay is not None:
        raise InvalidStatuses("OFFLINE must be offline, seen as itself, and never decay")
    for status in by_name.values():
        if not status.name or len(status.name) > MAX_STATUS_NAME or not status.name.isprintable():
            raise InvalidStatuses(f"status name {status.name!r} must be 1 to {MAX_STATUS_NAME} printable characters")
        target = by_name.get(status.public_name)
        if target is None:
            raise InvalidStatuses(f"status {status.name} is seen as {status.seen_as}, which is not declared")
        if target.public_name != target.name:
            raise InvalidStatuses(
                f"status {status.name} is seen as {target.name}, which is itself seen as {target.public_name}; "
                "name the final status"
            )
        if target.online != status.online and status.seen_as is not None:
            raise InvalidStatuses(
                f"status {status.name} is seen as {target.name} but does not agree on counting as online"
            )
        if status.scope not in SCOPES:
            raise InvalidStatuses(f"status {status.name} has scope {status.scope!r}; one of {', '.join(SCOPES)}")
        if status.scope == SOCKET_SCOPE and (
            status.name in (ONLINE, OFFLINE) or not status.online or status.seen_as is not None or not status.choosable
        ):
            raise InvalidStatuses(
                f"status {status.name} has scope socket: a socket's own state must be choosable, "
                "count as online and be seen as itself"
            )
        if status.decay is not None:
            if status.decay.to not in by_name:
                raise InvalidStatuses(f"status {status.name} decays to {status.decay.to}, which is not declared")
            if status.decay.after <= 0:
                raise InvalidStatuses(f"status {status.name} decays after {status.decay.after}s; it must be positive")
    for status in by_name.values():
        seen = [status.name]
        step = status
        while step.decay is not None:
            step = by_name[step.decay.to]
            if step.name in seen:
                raise InvalidStatuses(
                    f"status {status.name} cannot reach OFFLINE: its decay cycles ({' -> '.join([*seen, step.name])})"
                )
            seen.append(step.name)


class StatusRegistry(Mapping[str, Status]):
    """The one place that knows which statuses exist and how each is seen."""

    __slots__ = ("_by_name",)

    def __init__(self, statuses: Iterable[Status]) -> None:
        by_name: dict[str, Status] = {}
        for status in statuses:
            if status.name in by_name:
                raise InvalidStatuses(f"status {status.name} is declared twice")
            by_name[status.name] = status
        _validate(by_name)
        self._by_name = by_name

    def __getitem__(self, name: str) -> Status:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def choosable(self, name: str) -> Status:
        """The status a user asked for, or the typed refusal that reaches the client."""
        status = self._by_name.get(name)
        if status is None:
            raise UnknownStatus(f"unknown status {name[:MAX_STATUS_NAME]!r}; one of {', '.join(self.choosable_names())}")
        if not status.choosable:
            raise StatusNotChoosable(f"status {name!r} cannot be chosen")
        return status

    def choosable_names(self) -> list[str]:
        return [s.name for s in self._by_name.values() if s.choosable]

    def public_name(self, name: str) -> str:
        return self._by_name[name].public_name

    def seen_offline(self) -> list[str]:
        """Statuses other users see as not online (INVISIBLE, OFFLINE): a store that flags
        users online for other services must not flag these."""
        return [name for name, s in self._by_name.items() if not self._by_name[s.public_name].online]

    def socket_scoped(self, name: str) -> bool:
        """A socket's own state rather than a choice for all of the user's sockets."""
        status = self._by_name.get(name)
        return status is not None and status.scope == SOCKET_SCOPE

    def socket_states(self) -> list[str]:
        """The socket-scoped statuses, most present first (declaration order): a device
        whose sockets are in several of them is shown in the first."""
        return [name for name, s in self._by_name.items() if s.scope == SOCKET_SCOPE]

    def decays_at(self, name: str, since: float) -> float | None:
        """When a status entered at ``since`` decays, or None if it never does."""
        decay = self._by_name[name].decay
        return None if decay is None else since + decay.after


def default_registry() -> StatusRegistry:
    return StatusRegistry(BUILTIN_STATUSES)
