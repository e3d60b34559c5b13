"""orjson behind the ``dumps``/``loads`` interface python-socketio and engineio expect.

Every frame the gateway sends or receives passes through here; orjson is several times
faster than the standard library on the small objects presence frames are made of.
"""

from __future__ import annotations

from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError


def dumps(obj: Any, **_options: Any) -> str:
    return orjson.dumps(obj).decode()


def loads(data: str | bytes, **_options: Any) -> Any:
    return orjson.loads(data)
