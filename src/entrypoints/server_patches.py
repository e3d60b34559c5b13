"""Small fixes to the HTTP stack's hot paths, applied in the worker process (the app
factory calls ``apply``), each fingerprinted by ``tests/unit/test_framework_overrides.py``.

- h11's ``Headers`` is a ``Sequence`` without ``__iter__``: every iteration (hypercorn
  builds the ASGI scope from it, wsproto reads the handshake from it) goes through
  ``Sequence.__iter__`` and one ``__getitem__`` call per header, 6 % of a WebSocket
  connect and more of a polling request in a profile. Iterating the list it wraps yields
  the same pairs.
"""

from __future__ import annotations

from typing import Iterator

from h11._headers import Headers


def _iter_headers(self: Headers) -> Iterator[tuple[bytes, bytes]]:
    return ((name, value) for _, name, value in self._full_items)


def apply() -> None:
    Headers.__iter__ = _iter_headers  # type: ignore[method-assign]
