"""Rich presence: device states, the status they add up to, the custom status, and the
per-user version (``seq``) — the rules, without I/O.

A socket is either active (``ONLINE``) or in a socket-scoped status (``IDLE``). A device
kind is ``ONLINE`` while one of its sockets is active; the user is shown in a socket-scoped
status only while every socket is in it and no user-wide choice (DND, INVISIBLE, a team
status) stands, since that choice wins. This is what keeps one idle tab from making a
user with an active phone look away (the flapping Matrix users reported).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from .errors import InvalidPayload
from .statuses import ONLINE, StatusRegistry

MAX_CUSTOM_TEXT = 128
MAX_CUSTOM_EMOJI = 32
_CUSTOM_KEYS = frozenset({"text", "emoji", "expiresAt"})


def device_states(registry: StatusRegistry, sockets: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Device kind → its state, from each socket's (device kind, state)."""
    order = {name: index for index, name in enumerate(registry.socket_states())}
    states: dict[str, str] = {}
    for device, state in sockets:
        if state != ONLINE and state not in order:
            state = ONLINE  # a state the registry no longer declares socket-scoped
        held = states.get(device)
        if held is None or held != ONLINE and (state == ONLINE or order[state] < order[held]):
            states[device] = state
    return states


def shown_status(registry: StatusRegistry, chosen: str | None, devices: Mapping[str, str]) -> str:
    """The status of a connected user: a user-wide choice wins; otherwise ``ONLINE`` while
    any device is, else the first declared socket-scoped status a device is in."""
    if chosen is not None and chosen != ONLINE and not registry.socket_scoped(chosen):
        return chosen
    if not devices or ONLINE in devices.values():
        return ONLINE
    present = set(devices.values())
    return next(name for name in registry.socket_states() if name in present)


@dataclass(frozen=True, slots=True)
class ShownDecays:
    """Decay follows the shown status: when the devices make it (every socket in a
    socket-scoped status, no user-wide choice standing), the decay of the status shown
    then is due from that moment, as if the user had chosen it. A store applies this in
    the same atomic call as the socket event: a socket active again cancels the decay, and
    ends the choice a decay made of it, so the user is ``ONLINE`` again.

    ``order`` is the registry's socket-scoped statuses, in declared order (the first a
    socket is in is the one shown), each with its decay's delay (None: it never decays).
    """

    order: tuple[tuple[str, float | None], ...] = ()

    @classmethod
    def of(cls, registry: StatusRegistry) -> ShownDecays:
        order = []
        for name in registry.socket_states():
            decay = registry[name].decay
            order.append((name, None if decay is None else decay.after))
        return cls(tuple(order))

    def active(self, states: Collection[str]) -> bool:
        """Whether one of these socket states is active (a state no longer declared
        socket-scoped counts as active, as in ``device_states``)."""
        names = {name for name, _ in self.order}
        return any(state not in names for state in states)

    def user_wide(self, chosen: str | None) -> bool:
        return chosen is not None and chosen != ONLINE and all(chosen != name for name, _ in self.order)

    def due(self, chosen: str | None, states: Collection[str], now: float) -> tuple[str, float] | None:
        """The decay that falls due once the devices show a socket-scoped status: (that
        status, when), or None (a socket is active, a choice stands, or it never decays)."""
        if not states or self.active(states) or self.user_wide(chosen):
            return None
        for name, after in self.order:
            if name in states:
                return None if after is None else (name, now + after)
        return None


def devices_seen(registry: StatusRegistry, public: str, devices: Mapping[str, str]) -> dict[str, str]:
    """What others may see of the devices: nothing of a user seen as not online."""
    status = registry.get(public)
    return dict(devices) if status is not None and status.online else {}


@dataclass(frozen=True, slots=True)
class CustomStatus:
    """Text, an optional emoji, and when it clears itself (None: never)."""

    text: str
    emoji: str | None = None
    expires_at: float | None = None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def custom_status_seen(registry: StatusRegistry, public: str, custom: CustomStatus | None) -> CustomStatus | None:
    """Hidden from others while the user is seen as not online (INVISIBLE, OFFLINE)."""
    status = registry.get(public)
    return custom if status is not None and status.online else None


def _text(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= limit or not value.isprintable():
        raise InvalidPayload(f"{field} must be 1 to {limit} printable characters")
    return value


_ISO_UTC = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:Z|\+00:00)")
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm): the
    domain reads no clock and imports no datetime, so the arithmetic is written out."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def parse_timestamp(value: object, field: str) -> float:
    """An ISO-8601 UTC timestamp (``2026-12-07T12:30:00.000Z``, or ``+00:00``) as seconds
    since the epoch."""
    match = _ISO_UTC.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidPayload(f"{field} must be an ISO-8601 UTC timestamp such as 2026-12-07T12:30:00.000Z")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not (1 <= month <= 12 and 1 <= day <= _MONTH_DAYS[month - 1] and (month, day, leap) != (2, 29, False)):
        raise InvalidPayload(f"{field} names a day that does not exist")
    if hour > 23 or minute > 59 or second > 59:
        raise InvalidPayload(f"{field} names a time that does not exist")
    fraction = float("0." + match.group(7)) if match.group(7) else 0.0
    return _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second + fraction


def parse_custom_status(raw: object, now: float) -> CustomStatus | None:
    """``customStatus`` of ``presence:update``: an object, or None to clear it."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidPayload("customStatus must be an object {text, emoji?, expiresAt?} or null")
    unknown = sorted(str(key)[:32] for key in set(raw) - _CUSTOM_KEYS)
    if unknown:
        raise InvalidPayload(f"customStatus has an unknown key {unknown[0]!r}")
    text = _text(raw.get("text"), "customStatus.text", MAX_CUSTOM_TEXT)
    emoji = raw.get("emoji")
    if emoji is not None:
        emoji = _text(emoji, "customStatus.emoji", MAX_CUSTOM_EMOJI)
    expires_at = raw.get("expiresAt")
    if expires_at is not None:
        expires_at = parse_timestamp(expires_at, "customStatus.expiresAt")
        if expires_at <= now:
            raise InvalidPayload("customStatus.expiresAt must be in the future")
    return CustomStatus(text, emoji, expires_at)


def next_seq(previous: int, now: float) -> int:
    """The version of a user's next change: above the last one, and never below the
    clock in milliseconds, so a store that forgot the last one (an empty Redis restored)
    still goes forward — as long as no user changed more than a thousand times a second,
    which the budget forbids."""
    return max(previous + 1, int(now * 1000))
