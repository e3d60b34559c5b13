"""Errors the core raises, each with a stable ``code`` that reaches the client.

PresenceError
├── Refused                 — a connection that must not be accepted
│   ├── MissingToken        "missing token"
│   ├── InvalidToken        "invalid token"
│   ├── ExpiredToken        "expired token"
│   └── InvalidDevice       "invalid device": ``auth.device`` outside ``[a-z0-9_-]{1,32}``
├── InvalidPayload          — an event whose payload is not what the contract says
├── UnknownStatus           — a status name the registry does not hold
├── StatusNotChoosable      — a status that exists but a user may not pick
├── LimitExceeded           — more ids in one call, or watched by one socket, than allowed
├── RateLimited             — more events from one socket than its budget allows
├── SocketTokenExpired      — the socket's token expired; it is disconnected
├── Forbidden               — the audience policy does not let this viewer see that user
├── NotFound                — no such route (the server API with no service key configured)
└── Unavailable             — a dependency the event needs is down; retry later

InvalidStatuses (a ValueError) — status declarations the gateway refuses to start with
RecordRejected — the database refused a record's content (not an outage): set aside
"""

from __future__ import annotations


class PresenceError(Exception):
    code = "internal"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    default_message = "internal error"

    @property
    def message(self) -> str:
        return str(self.args[0])


class Refused(PresenceError):
    code = "unauthorized"
    default_message = "unauthorized"


class MissingToken(Refused):
    default_message = "missing token"


class InvalidToken(Refused):
    default_message = "invalid token"


class ExpiredToken(Refused):
    default_message = "expired token"


class InvalidDevice(Refused):
    """``auth.device`` is not 1-32 characters of ``[a-z0-9_-]`` (after lower-casing)."""

    default_message = "invalid device"


class InvalidPayload(PresenceError):
    code = "invalid_payload"
    default_message = "invalid payload"



class UnknownStatus(PresenceError):
    code = "unknown_status"
    default_message = "unknown status"


class StatusNotChoosable(PresenceError):
    code = "not_choosable"
    default_message = "status cannot be chosen"


class LimitExceeded(PresenceError):
    code = "limit"
    default_message = "limit exceeded"


class RateLimited(PresenceError):
    code = "rate_limited"
    default_message = "too many events; slow down"


class SocketTokenExpired(PresenceError):
    code = "token_expired"
    default_message = "expired token"


class Forbidden(PresenceError):
    code = "forbidden"
    default_message = "not allowed to see this user's presence"


class NotFound(PresenceError):
    code = "not_found"
    default_message = "not found"


class Unavailable(PresenceError):
    code = "unavailable"
    default_message = "presence is temporarily unavailable"


class InvalidStatuses(ValueError):
    """A status declaration breaks a rule the state machine relies on; the message names it."""


class RecordRejected(Exception):
    """The database answered and refused what a record holds (a byte it cannot store, a
    value out of range). Retrying cannot help, unlike an outage: the record is set aside
    so that the others are written."""
