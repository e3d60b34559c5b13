"""The one rule for a socket's device kind (``auth.device``): what the connect refuses by,
and what the store groups a user's sockets by (their ``devices`` map).

The kind lands in the session hash (``presence:{userId}:{socketId}`` ``device``) that other
services read, in log lines and in JSON frames, so it is a short token: lower-cased, then
1 to 32 of ``a-z``, ``0-9``, ``_`` and ``-``. Nothing else is cut or cleaned: a kind that
does not fit is refused whole, so no reader ever sees a forged value and two clients never
share a mangled name. Any valid name is accepted as is (a team may have ``watch`` or
``tv``). Absent means ``web``, the guide's default.
"""

from __future__ import annotations

import re

from .errors import InvalidDevice

WEB = "web"
DESKTOP = "desktop"
MOBILE = "mobile"
BUILTIN_DEVICES = (WEB, DESKTOP, MOBILE)
DEFAULT_DEVICE = WEB
MAX_DEVICE = 32

_KIND = re.compile(rf"[a-z0-9_-]{{1,{MAX_DEVICE}}}")


def device_kind(raw: object) -> str:
    """``raw`` (``auth.device`` as sent) as a device kind, or ``InvalidDevice``."""
    if raw is None:
        return DEFAULT_DEVICE
    if not isinstance(raw, str) or len(raw) > MAX_DEVICE:  # bounded before any work on it
        raise InvalidDevice()
    kind = raw.lower()
    if _KIND.fullmatch(kind) is None:
        raise InvalidDevice()
    return kind
