"""Durations as operators write them: ``3600``, ``45s``, ``30m``, ``12h``, ``7d``, ``1w``."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> int:
    """Whole seconds; raises ValueError on anything else (a bool is not a number of seconds)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"{value!r} is not a duration such as 3600, 30m, 12h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]
