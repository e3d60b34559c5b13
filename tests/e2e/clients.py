"""Socket.IO clients for the e2e tests: every event kept in order, waited for with a timeout."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import socketio

from presence_gateway.adapters.jwt.minter import mint_token

from .gateway_process import SECRET


def token_for(user_id: str, expires_in: int | None = 3600, now: float | None = None) -> str:
    return mint_token(SECRET, user_id, expires_in, now=now)


class Client:
    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self._cursor: dict[str, int] = {}
        self._arrived = asyncio.Condition()
        self.sio.on("*", self._record)
        self.sio.on("connect_error", self._connect_error)

    async def _record(self, event: str, *args: Any) -> None:
        async with self._arrived:
            self.events.append((event, args[0] if args else None))
            self._arrived.notify_all()

    def keep_disconnects(self) -> Client:
        """Keep the server's closing of this socket among the events, as ``disconnect``."""

        async def closed(*reason: Any) -> None:
            await self._record("disconnect", *reason)

        self.sio.on("disconnect", closed)
        return self

    async def _connect_error(self, data: Any) -> None:
        await self._record("connect_error", data)

    async def connect(self, url: str, auth: Any, transports: list[str] | None = None) -> Client:
        await self.sio.connect(url, auth=auth, transports=transports or ["websocket"], wait_timeout=5)
        return self

    @property
    def sid(self) -> str | None:
        return self.sio.get_sid()

    def received(self, event: str) -> list[Any]:
        return [payload for name, payload in self.events if name == event]

    async def next(self, event: str, timeout: float = 5.0) -> Any:
        """The next ``event`` not yet taken by an earlier call."""
        async with self._arrived:

            def ready() -> bool:
                return len(self.received(event)) > self._cursor.get(event, 0)

            await asyncio.wait_for(self._arrived.wait_for(ready), timeout)
            index = self._cursor.get(event, 0)
            self._cursor[event] = index + 1
            return self.received(event)[index]

    async def wait_until(self, condition, timeout: float = 5.0) -> None:
        """Until ``condition()`` holds, checked again as each event arrives."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(condition), timeout)

    async def call(self, event: str, payload: Any, timeout: float = 5.0) -> Any:
        """Emit ``event`` and return its acknowledgement, which is also kept among the
        events, where it arrived, as ``("ack", reply)``."""

        async def acknowledged(*reply: Any) -> None:
            await self._record("ack", *reply)

        await self.sio.emit(event, payload, callback=acknowledged)
        return await self.next("ack", timeout)

    async def round_trip(self) -> None:
        """Ping and wait for its pong: whatever the server sent this socket before is here now."""
        await self.sio.emit("ping")
        await self.next("pong")

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


async def connected_client(url: str, user_id: str, transports: list[str] | None = None) -> Client:
    client = await Client().connect(url, {"token": token_for(user_id)}, transports)
    await client.next("connected")
    return client


class Disconnects:
    """Why each of these clients was disconnected, and an event set once all of them were."""

    def __init__(self, clients: list[Client]) -> None:
        self.reasons: list[str] = []
        self.all_closed = anyio.Event()
        for client in clients:
            client.sio.on("disconnect", self._closed)
        self._expected = len(clients)

    def _closed(self, reason: str) -> None:
        self.reasons.append(reason)
        if len(self.reasons) == self._expected:
            self.all_closed.set()
