"""The device kind a socket names in ``auth.device``: one rule for the connect to refuse
by, and for the store to group a user's sockets by (their ``devices`` map)."""

from __future__ import annotations

import re

from .errors import InvalidDevice

WEB = "web"
DESKTOP = "desktop"
MOBILE = "mobile"
BUILTIN_DEVICES = (WEB, DESKTOP, MOBILE)
MAX_DEVICE = 32

_DEVICE = re.compile(r"[a-z0-9_-]{1,32}")


def device_kind(raw: object) -> str:
    """The device kind ``auth.device`` names, lower-cased; ``web`` when absent.

    Any valid name is accepted as is (a team may have ``watch`` or ``tv``); anything else
    is refused rather than trimmed, so two clients never end up sharing a mangled name."""
    if raw is None:
        return WEB
    if not isinstance(raw, str):
        raise InvalidDevice()
    kind = raw.lower()
    if not _DEVICE.fullmatch(kind):
        raise InvalidDevice()
    return kind
