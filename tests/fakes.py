"""Small real classes that keep state, standing in for the outside world in unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

from presence_gateway.domain.errors import InvalidToken, MissingToken, Unavailable
from presence_gateway.domain.ports import Identity, StatusRepository
from presence_gateway.domain.presence import DurableStatus, PresenceChanged
from presence_gateway.domain.rich_presence import CustomStatus
from presence_gateway.domain.user_ids import user_id_problem

T = TypeVar("T")


def known(value: T | None) -> T:
    """``value``, which the test expects to be there (a record read back, a change made)."""
    assert value is not None, "expected a value, found None"
    return value


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
    """Keeps every change published, and what each audience saw; sockets watching a user
    (``rooms(socket)``) receive what others see when it changes, and sockets that are the
    user's own (``join``) what the user is, as Socket.IO rooms would deliver it: to
    whoever is in the room at that moment, once to a socket in both rooms when both see
    the same status (the Broadcaster contract holds it to that)."""

    def __init__(self) -> None:
        self.changes: list[PresenceChanged] = []
        self.watchers: dict[str, set[str]] = {}
        self.own: dict[str, set[str]] = {}
        self.inboxes: dict[str, list[tuple[str, str]]] = {}

    def join(self, socket: str, user_id: str) -> None:
        self.own.setdefault(user_id, set()).add(socket)

    async def publish(self, change: PresenceChanged) -> None:
        self.changes.append(change)
        own = self.own.get(change.user_id, set())
        for socket in own:
            self.inboxes.setdefault(socket, []).append((change.user_id, change.status))
        if change.public_changed:
            for socket in self.watchers.get(change.user_id, ()):
                if socket not in own or change.public != change.status:
                    self.inboxes.setdefault(socket, []).append((change.user_id, change.public))

    def rooms(self, socket: str) -> FakeWatchRooms:
        return FakeWatchRooms(self, socket)

    def seen_by_self(self, user_id: str) -> list[str]:
        return [c.status for c in self.changes if c.user_id == user_id]

    def seen_by_others(self, user_id: str) -> list[str]:
        return [c.public for c in self.changes if c.user_id == user_id and c.public_changed]


class FakeWatchRooms:
    """One socket's watch rooms in a RecordingBroadcaster; ``on_enter`` runs once the
    socket is in (a test's way to make a change happen at that moment)."""

    def __init__(self, broadcaster: RecordingBroadcaster, socket: str) -> None:
        self._broadcaster = broadcaster
        self.socket = socket
        self.on_enter: Callable[[], Awaitable[None]] | None = None

    async def enter(self, user_ids) -> None:
        for user_id in user_ids:
            self._broadcaster.watchers.setdefault(user_id, set()).add(self.socket)
        if self.on_enter is not None:
            await self.on_enter()

    async def leave(self, user_ids) -> None:
        for user_id in user_ids:
            self._broadcaster.watchers.get(user_id, set()).discard(self.socket)

    def watching(self) -> set[str]:
        return {user for user, sockets in self._broadcaster.watchers.items() if self.socket in sockets}


class ContactsAudience:
    """The contacts policy as a set of (viewer, target) pairs; ``down`` is a database outage."""

    def __init__(self, *pairs: tuple[str, str]) -> None:
        self.pairs = set(pairs)
        self.down = False

    async def allowed(self, viewer: str, targets) -> set[str]:
        if self.down:
            raise Unavailable("contacts unavailable")
        return {target for target in targets if (viewer, target) in self.pairs}


class TableTokenVerifier:
    """Tokens are user ids prefixed with ``token-`` (after an optional ``Bearer`` scheme),
    with no expiry; anything else is refused, as the TokenVerifier contract asks."""

    async def verify(self, token: object) -> str:
        return (await self.identify(token)).user_id

    async def identify(self, token: object) -> Identity:
        if token in (None, ""):
            raise MissingToken()
        if not isinstance(token, str):
            raise InvalidToken()
        if token[:7].lower() == "bearer ":
            token = token[7:]
        user_id = token.removeprefix("token-")
        if user_id == token or user_id_problem(user_id) is not None:
            raise InvalidToken()
        return Identity(user_id)


class FlakyRepository:
    """Wraps a repository and refuses writes while ``down`` (a database outage)."""

    def __init__(self, inner: StatusRepository) -> None:
        self.inner = inner
        self.down = False
        self.refused = 0

    async def get(self, user_id: str) -> DurableStatus | None:
        return await self.inner.get(user_id)

    async def get_many(self, user_ids: Sequence[str]) -> dict[str, DurableStatus]:
        return await self.inner.get_many(user_ids)

    async def save_many(self, records: Iterable[DurableStatus]) -> None:
        if self.down:
            self.refused += 1
            raise ConnectionError("database unavailable")
        await self.inner.save_many(records)

    def remembered_choices(self) -> AsyncIterator[tuple[str, str | None, CustomStatus | None]]:
        return self.inner.remembered_choices()

    async def mark_all_offline(self, offline: str, at: float) -> int:
        return await self.inner.mark_all_offline(offline, at)
