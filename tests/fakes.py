"""Small real classes that keep state, standing in for the outside world in unit tests."""

from __future__ import annotations

from presence_gateway.domain.errors import InvalidToken, MissingToken
from presence_gateway.domain.presence import PresenceChanged


class FakeClock:
    """A clock the test moves; time-dependent rules are tested without sleeping."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._now += seconds


class RecordingBroadcaster:
    """Keeps every change published, and what each audience saw."""

    def __init__(self) -> None:
        self.changes: list[PresenceChanged] = []

    async def publish(self, change: PresenceChanged) -> None:
        self.changes.append(change)

    def seen_by_self(self, user_id: str) -> list[str]:
        return [c.status for c in self.changes if c.user_id == user_id]

    def seen_by_others(self, user_id: str) -> list[str]:
        return [c.public for c in self.changes if c.user_id == user_id and c.public_changed]


class TableTokenVerifier:
    """Tokens are user ids prefixed with ``token-``; anything else is refused."""

    async def verify(self, token: object) -> str:
        if token in (None, ""):
            raise MissingToken()
        if isinstance(token, str) and token.startswith("token-"):
            return token[len("token-"):]
        raise InvalidToken()


class FlakyRepository:
    """Wraps a repository and refuses writes while ``down`` (a database outage)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.down = False
        self.refused = 0

    async def get(self, user_id):
        return await self.inner.get(user_id)

    async def save_many(self, records) -> None:
        if self.down:
            self.refused += 1
            raise ConnectionError("database unavailable")
        await self.inner.save_many(records)

    async def mark_all_offline(self, offline, at):
        return await self.inner.mark_all_offline(offline, at)
