"""Registries the tests share."""

from __future__ import annotations

from presence_gateway.domain.statuses import BUILTIN_STATUSES, Decay, Status, StatusRegistry


def idle_decays_to_away(*extra: Status) -> StatusRegistry:
    """The built-ins, IDLE (socket-scoped) given the statuses file's decay to AWAY after
    ten minutes (``[[decay]] status = "IDLE"``), and ``extra``."""
    statuses = [
        Status(s.name, s.choosable, s.seen_as, s.online, s.remembered, Decay(600.0, "AWAY"), s.scope)
        if s.name == "IDLE"
        else s
        for s in BUILTIN_STATUSES
    ]
    return StatusRegistry([*statuses, Status("AWAY", choosable=False), *extra])
