"""The checks every client event passes before its handler, and the bounds checked at
connect.

Events: the token's expiry, then the socket's own budget and its user's budget across all
their sockets on this instance, each charged what the event costs (``event_cost``). Each
is O(1) on the socket's session: one clock read, a few float operations; no await, no
Redis round trip, no log line per event. A socket refused ``REFUSALS_BEFORE_CLOSE`` times
in a row is closed: its client does not read its errors.

Connects, before the token is verified: attempts per claimed user and per remote address
(``BucketTable``: bounded however many distinct ids or addresses arrive); then, once
verified, the socket cap per user. A user's budget row lives while they have a socket
here, so that map is bounded by the sockets the instance holds.
"""

from __future__ import annotations

from ...domain.budget import REFUSALS_BEFORE_CLOSE, Budget
from ...domain.errors import PresenceError, RateLimited, SocketTokenExpired
from ...domain.ports import Clock
from ...domain.sockets_per_user import SocketsPerUser
from .budgets import BucketTable, Row

EXPIRED = SocketTokenExpired()
RATE_LIMITED = RateLimited()
OVER_BUDGET = RateLimited("too many events refused in a row; the connection is closed")

DEFAULT_USER_BUDGET = 300
DEFAULT_CONNECTS_PER_USER = 60
DEFAULT_CONNECTS_PER_ADDRESS = 1200


class SocketGate:
    __slots__ = ("clock", "budget", "sockets", "user_budget", "_users", "_claimed", "_addresses")

    def __init__(
        self,
        clock: Clock,
        budget: Budget,
        sockets: SocketsPerUser,
        user_budget: Budget | None = None,
        connects_per_user: Budget | None = None,
        connects_per_address: Budget | None = None,
    ) -> None:
        self.clock = clock
        self.budget = budget
        self.sockets = sockets
        self.user_budget = user_budget or Budget(DEFAULT_USER_BUDGET)
        self._users: dict[str, Row] = {}
        self._claimed = BucketTable(connects_per_user or Budget(DEFAULT_CONNECTS_PER_USER))
        self._addresses = BucketTable(connects_per_address or Budget(DEFAULT_CONNECTS_PER_ADDRESS))

    def attempt(self, address: str, claimed_user: str | None, now: float) -> bool:
        """Count a connection attempt; False when its address or claimed user is over budget."""
        if not self._addresses.spend(address, now):
            return False
        return claimed_user is None or self._claimed.spend(claimed_user, now)

    def admit(self, session, now: float) -> bool:  # session: SocketSession
        """Count the new socket of ``session``'s user, unless they are at the cap; the
        session is given a full socket budget and its user's shared one."""
        if not self.sockets.admit(session.user_id):
            return False
        row = self._users.get(session.user_id)
        if row is None:
            row = self._users[session.user_id] = Row()
            self.user_budget.fill(row, now)
        session.user_bucket = row
        self.budget.fill(session, now)
        return True

    def release(self, user_id: str) -> None:
        self.sockets.release(user_id)
        if self.sockets.count(user_id) == 0:
            self._users.pop(user_id, None)

    def refusal(self, session, cost: float = 1.0) -> PresenceError | None:  # session: SocketSession
        """Why this event of ``session``'s socket is refused, or None to handle it."""
        now = self.clock.now()
        if now >= session.expires_at:
            return EXPIRED
        user = session.user_bucket
        if not (self.budget.affords(session, now, cost) and self.user_budget.affords(user, now, cost)):
            session.refused += 1
            return OVER_BUDGET if session.refused >= REFUSALS_BEFORE_CLOSE else RATE_LIMITED
        self.budget.spend(session, now, cost)
        self.user_budget.spend(user, now, cost)
        session.refused = 0
        return None
