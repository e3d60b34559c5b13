"""Redis behind Sentinel: every client finds the current primary when it (re)connects.

The address is python-socketio's Sentinel URL,
``redis+sentinel://[[user]:password@]host:port,host:port/db/master``, so one string names
the store, the socket events' connection, the prober and the manager alike. Nothing
polls the sentinels: a client asks them for the primary each time it opens a connection.
A failover reaches every client as a dropped connection — Sentinel has the demoted
primary drop its clients (``CLIENT KILL``) — or, for a connection that survives it, as a
``READONLY`` reply, which drops that connection too; the next one goes to the new primary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from redis.asyncio.connection import Connection
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import ConnectionError, ReadOnlyError

SCHEMES = ("redis+sentinel", "valkey+sentinel")


@dataclass(frozen=True)
class SentinelAddress:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None


def sentinel_address(url: str) -> SentinelAddress | None:
    """The sentinels and master a Sentinel URL names; None for any other URL."""
    parsed = urlparse(url)
    if parsed.scheme not in SCHEMES:
        return None
    sentinels = []
    for part in parsed.netloc.rsplit("@", 1)[-1].split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"{url!r}: a sentinel is host:port, not {part!r}")
        sentinels.append((host, int(port)))
    parts = [p for p in parsed.path.split("/") if p]
    if len(parts) != 2 or not parts[0].isdigit():
        raise ValueError(f"{url!r}: the path is /db/master, e.g. /0/mymaster")
    return SentinelAddress(
        tuple(sentinels), parts[1], int(parts[0]),
        unquote(parsed.username) if parsed.username else None,
        unquote(parsed.password) if parsed.password else None,
    )


def sentinel_url(sentinels: str, master: str, *, password: str | None = None, db: int = 0) -> str:
    """``REDIS_SENTINELS`` and ``REDIS_SENTINEL_MASTER`` as one Sentinel URL."""
    from urllib.parse import quote

    auth = f":{quote(password, safe='')}@" if password else ""
    hosts = ",".join(part.strip() for part in sentinels.split(",") if part.strip())
    return f"redis+sentinel://{auth}{hosts}/{db}/{master}"


class Locator(Protocol):
    """Where the primary is now (``SentinelMaster``, or a test's answers)."""

    async def locate(self) -> tuple[str, int]: ...


class SentinelMaster:
    """Where the primary is now, as the sentinels say; asked on every new connection."""

    def __init__(self, address: SentinelAddress, *, timeout: float = 1.0) -> None:
        self.address = address
        self._timeout = timeout
        self._sentinel: Sentinel | None = None

    async def locate(self) -> tuple[str, int]:
        if self._sentinel is None:  # created inside the event loop that uses it
            self._sentinel = Sentinel(list(self.address.sentinels), socket_timeout=self._timeout)
        host, port = await self._sentinel.discover_master(self.address.master)
        return host, int(port)


class MasterConnection(Connection):
    """redis-py's connection, pointed at the primary each time it connects; a ``READONLY``
    reply (it met a demoted primary) drops it, so the next command finds the new one."""

    def __init__(self, *, master: SentinelMaster, **options: Any) -> None:
        self._master = master
        super().__init__(**options)

    async def _connect(self) -> None:
        self.host, self.port = await self._master.locate()
        await super()._connect()

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except ReadOnlyError as error:
            await self.disconnect()
            raise ConnectionError(f"{self.host}:{self.port} is a replica now: {error}") from None
