"""Blocked users of a single instance: user → until when, the expired ones dropped as
they are met (and, past a bound, the oldest first)."""

from __future__ import annotations

MAX_BLOCKS = 100_000


class InMemoryUserBlocks:
    def __init__(self, max_blocks: int = MAX_BLOCKS) -> None:
        self._until: dict[str, float] = {}
        self._max = max_blocks

    async def block(self, user_id: str, until: float) -> None:
        self._until.pop(user_id, None)
        self._until[user_id] = until
        while len(self._until) > self._max:
            self._until.pop(next(iter(self._until)))

    async def blocked(self, user_id: str, now: float) -> bool:
        until = self._until.get(user_id)
        if until is None:
            return False
        if until <= now:
            del self._until[user_id]
            return False
        return True
