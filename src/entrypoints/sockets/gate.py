"""The checks every client event passes before its handler, and the socket cap checked
at connect. Each is O(1) on the socket's own session: one clock read, one float compare
for the token's expiry, a few float operations for the event budget; no await, no
Redis round trip, no log line per event.
"""

from __future__ import annotations

from ...domain.errors import PresenceError, RateLimited, SocketTokenExpired
from ...domain.event_budget import EventBudget
from ...domain.ports import Clock
from ...domain.sockets_per_user import SocketsPerUser

EXPIRED = SocketTokenExpired()
RATE_LIMITED = RateLimited()


class SocketGate:
    __slots__ = ("clock", "budget", "sockets")

    def __init__(self, clock: Clock, budget: EventBudget, sockets: SocketsPerUser) -> None:
        self.clock = clock
        self.budget = budget
        self.sockets = sockets

    def refusal(self, session) -> PresenceError | None:  # session: SocketSession
        """Why this event of ``session``'s socket is refused, or None to handle it."""
        now = self.clock.now()
        if now >= session.expires_at:
            return EXPIRED
        if not self.budget.spend(session, now):
            return RATE_LIMITED
        return None
