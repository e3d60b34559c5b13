"""The installed distribution's version, for ``--version`` and the start line: a leaf, so
neither needs the other's imports."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def installed_version() -> str:
    try:
        return version("presence-gateway")
    except PackageNotFoundError:
        return "unknown (not installed)"
