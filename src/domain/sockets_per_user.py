"""At most so many sockets per user on this instance (``PRESENCE_MAX_SOCKETS_PER_USER``).

Without a cap one user's token opened 5000 sockets and their closing together stalled
everyone's pings for seconds. The count is per instance (one dict entry per connected
user, one increment at connect, one decrement at disconnect): a cap across instances
would cost a Redis round trip on the connect path, and a client spreading sockets over
instances behind a balancer still meets the cap on each.
"""

from __future__ import annotations

DEFAULT_MAX_SOCKETS_PER_USER = 20


class SocketsPerUser:
    __slots__ = ("limit", "_counts")

    def __init__(self, limit: int = DEFAULT_MAX_SOCKETS_PER_USER) -> None:
        self.limit = limit
        self._counts: dict[str, int] = {}

    def admit(self, user_id: str) -> bool:
        """Count one more socket of the user, unless they are at the cap."""
        count = self._counts.get(user_id, 0)
        if count >= self.limit:
            return False
        self._counts[user_id] = count + 1
        return True

    def release(self, user_id: str) -> None:
        count = self._counts.get(user_id, 0)
        if count <= 1:
            self._counts.pop(user_id, None)
        else:
            self._counts[user_id] = count - 1

    def count(self, user_id: str) -> int:
        return self._counts.get(user_id, 0)
