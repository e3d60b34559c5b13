"""Statuses are data, not branches: the state machine asks the registry, so a team adds a
status by declaring it here (or in a file, later) without touching the rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping

from .errors import StatusNotChoosable, UnknownStatus

ONLINE = "ONLINE"
OFFLINE = "OFFLINE"
IDLE = "IDLE"
DND = "DND"
INVISIBLE = "INVISIBLE"

MAX_STATUS_NAME = 64


@dataclass(frozen=True, slots=True)
class Status:
    """One status a user can be in.

    ``seen_as`` names the status other users see instead (INVISIBLE is seen as OFFLINE);
    ``remembered`` keeps a chosen status across reconnects, while a status that is not
    remembered lasts only as long as the user stays connected.
    """

    name: str
    choosable: bool = True
    seen_as: str | None = None
    online: bool = True
    remembered: bool = True

    @property
    def public_name(self) -> str:
        return self.seen_as or self.name


BUILTIN_STATUSES: tuple[Status, ...] = (
    Status(ONLINE, choosable=True, online=True, remembered=False),
    # OFFLINE may be chosen while connected ("appear offline" for this visit only); it is
    # what a user with no connection is, whatever they chose.
    Status(OFFLINE, choosable=True, online=False, remembered=False),
    Status(IDLE, choosable=True, online=True, remembered=True),
    Status(DND, choosable=True, online=True, remembered=True),
    Status(INVISIBLE, choosable=True, seen_as=OFFLINE, online=False, remembered=True),
)


class StatusRegistry(Mapping[str, Status]):
    """The one place that knows which statuses exist and how each is seen."""

    __slots__ = ("_by_name",)

    def __init__(self, statuses: Iterable[Status]) -> None:
        by_name: dict[str, Status] = {}
        for status in statuses:
            if status.name in by_name:
                raise ValueError(f"status {status.name!r} is declared twice")
            by_name[status.name] = status
        for required in (ONLINE, OFFLINE):
            if required not in by_name:
                raise ValueError(f"the registry needs the built-in status {required}")
        for status in by_name.values():
            if status.seen_as is not None and status.seen_as not in by_name:
                raise ValueError(
                    f"status {status.name!r} is seen as {status.seen_as!r}, which is not declared"
                )
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


def default_registry() -> StatusRegistry:
    return StatusRegistry(BUILTIN_STATUSES)
