"""A raw Engine.IO WebSocket, for sending what no stock client sends: arbitrary frames,
reserved event names, binary attachments."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp


class RawSocket:
    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._session = session
        self.ws = ws
        self.sid: str | None = None

    @classmethod
    async def open(cls, url: str, headers: dict[str, str] | None = None) -> RawSocket:
        """The Engine.IO handshake only (``0{…}`` read); no Socket.IO CONNECT sent."""
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(
                f"{url}/socket.io/?EIO=4&transport=websocket", headers=headers or {}
            )
        except BaseException:
            await session.close()
            raise
        raw = cls(session, ws)
        opening = await raw.frame()
        assert opening.startswith("0"), opening
        return raw

    @classmethod
    async def connect(cls, url: str, token: str) -> RawSocket:
        """Engine.IO handshake, then Socket.IO CONNECT with ``{token}``; waits for ``connected``."""
        raw = await cls.open(url)
        await raw.send("40" + json.dumps({"token": token}))
        accepted = await raw.frame()
        assert accepted.startswith("40"), accepted
        raw.sid = json.loads(accepted[2:])["sid"]
        await raw.event("connected")
        return raw

    async def send(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(data)

    async def frame(self, timeout: float = 5.0) -> str:
        """The next text frame; Engine.IO pings are answered on the way. Raises
        ``ConnectionError`` when the server closes."""
        while True:
            message = await asyncio.wait_for(self.ws.receive(), timeout)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                raise ConnectionError(f"closed by the server: {self.ws.close_code}")
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            if message.data == "1":  # Engine.IO CLOSE: the client is told to go
                raise ConnectionError("closed by the server: Engine.IO CLOSE")
            if message.data == "2":
                await self.ws.send_str("3")
                continue
            return message.data

    async def event(self, name: str, timeout: float = 5.0) -> Any:
        """The payload of the next Socket.IO event ``name`` (others are skipped)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.frame(max(0.01, deadline - loop.time()))
            if frame.startswith("42"):
                body = json.loads(frame[2:])
                if body[0] == name:
                    return body[1] if len(body) > 1 else None

    async def round_trip(self) -> None:
        await self.send('42["ping"]')
        await self.event("pong")

    async def closed(self, timeout: float = 5.0) -> int | None:
        """Waits until the server closes the connection; its close code."""
        try:
            while True:
                await self.frame(timeout)
        except ConnectionError:
            return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()
        await self._session.close()
