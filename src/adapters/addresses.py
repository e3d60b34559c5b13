"""A host as it stands in a URL or before ``:port``: an IPv6 address in brackets, so its own
colons are not read as the port's."""

from __future__ import annotations


def bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
