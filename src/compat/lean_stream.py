"""Replaces, for hypercorn 0.18's cleartext sockets on the fast protocol path, the
``asyncio.start_server`` that ``hypercorn.asyncio.run.worker_serve`` serves them with
(Python 3.11's ``asyncio.streams``: ``StreamReaderProtocol``, ``StreamReader``,
``StreamWriter``) by one ``LeanStream`` per connection, the protocol and both streams.

asyncio gives every connection three objects, two futures and a deque (3.3 KiB of a
held WebSocket's 22.7), and every frame a trip through them: ``data_received`` into the
reader's bytearray (a copy), a wake-up of the waiting read, the read's copy out of that
bytearray and the delete of what it took. A ``LeanStream`` keeps what arrived as the
``bytes`` the transport handed it — a ping's frame is read as the very object received
— and wakes the read with one future, made only when the read has to wait.

The same contract as asyncio's for what the gateway and hypercorn use of it
(``TCPServer``, ``fast_serve``, ``fast_http``, ``request_deadline``): ``read(n)`` returns
what is buffered (at most ``n``), waits for more only when nothing is, b"" at the end
and raises the error the connection was lost with; reading pauses while more than
``READ_HIGH_WATER`` waits unread, as the reader's ``2 * limit`` does; ``drain`` waits
while the transport has paused writing and raises ``ConnectionResetError`` once the
connection is lost; the end of the client's side keeps the transport open for writing;
``wait_closed`` returns once the connection is lost. TLS is served by asyncio's streams,
and everything with ``PRESENCE_FAST_PROTOCOL=false``: ``start_server`` hands those to
asyncio's own.

A WebSocket parked by its session (``fast_websocket.WebSocketSession.park``) reads no
more: ``divert`` hands what arrives, and the end of the connection, straight to the
session from the protocol's callbacks, so no read waits for it.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Callable, Coroutine
from typing import Any

READ_HIGH_WATER = 2 * 2**16  # asyncio.StreamReader pauses reading past twice its 64 KiB limit


class FastStreams:
    """Whether cleartext connections get a ``LeanStream``: set once by ``patch_hypercorn``."""

    enabled = True


class LeanStream(asyncio.Protocol):
    """One connection's protocol, and the reader and writer its server callback is given."""

    __slots__ = (
        "_callback", "_closed", "_data", "_drainers", "_eof", "_error", "_lost", "_read_paused", "_sink",
        "_sink_end", "_waiter", "_write_paused", "loop", "transport", "__weakref__",
    )

    def __init__(self, callback: Callable[[Any, Any], Coroutine[Any, Any, None]], loop: asyncio.AbstractEventLoop) -> None:
        self._callback = callback
        self.loop = loop
        self.transport: Any = None
        self._data = b""
        self._eof = False
        self._lost = False
        self._error: BaseException | None = None
        self._read_paused = False
        self._write_paused = False
        self._waiter: asyncio.Future[None] | None = None  # the read waiting, if one is
        self._drainers: list[asyncio.Future[None]] | None = None
        self._closed: asyncio.Future[None] | None = None  # made by the first wait_closed
        self._sink: Callable[[bytes], None] | None = None  # once diverted: what takes the bytes
        self._sink_end: Callable[[], None] | None = None  # and the end of the client's side

    # the protocol ------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        # The server's task for this connection holds it (hypercorn's server_tasks).
        self.loop.create_task(self._callback(self, self))

    def data_received(self, data: bytes) -> None:
        sink = self._sink
        if sink is not None:
            sink(data)
            return
        held = self._data
        self._data = held + data if held else data
        if not self._read_paused and len(self._data) > READ_HIGH_WATER:
            self._read_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        self._end_sink()
        return True  # keep the transport open: the server may still write (and closes it)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = self._eof = True
        if exc is not None:
            self._error = exc
        self._wake()
        drainers, self._drainers = self._drainers, None
        for drainer in drainers or ():
            if not drainer.done():
                drainer.set_result(None)  # drain sees the loss and raises
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        self._end_sink()

    def _end_sink(self) -> None:
        sink_end = self._sink_end
        if sink_end is not None:
            self._sink = self._sink_end = None
            sink_end()

    def divert(self, sink: Callable[[bytes], None], sink_end: Callable[[], None]) -> bytes | None:
        """From now on the bytes that arrive go to ``sink`` as they come, and the end of
        the client's side (or of the connection) to ``sink_end``, once; no read is made
        again. Returns what was buffered unread, for the caller to take first, or None
        when the client's side has already ended (nothing is diverted then)."""
        if self._eof or self._error is not None:
            return None
        data, self._data = self._data, b""
        self._sink, self._sink_end = sink, sink_end
        if self._read_paused:
            self._read_paused = False
            self.transport.resume_reading()
        return data

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drainers, self._drainers = self._drainers, None
        for drainer in drainers or ():
            if not drainer.done():
                drainer.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # the reader --------------------------------------------------------------------
    async def read(self, n: int = -1) -> bytes:
        while not self._data:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self._eof:
                return b""
            if self._read_paused:
                self._read_paused = False
                self.transport.resume_reading()
            waiter = self._waiter = self.loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        data = self._data
        if 0 <= n < len(data):
            data, self._data = data[:n], data[n:]
        else:
            self._data = b""
        if self._read_paused and len(self._data) <= READ_HIGH_WATER:
            self._read_paused = False
            self.transport.resume_reading()
        return data

    def at_eof(self) -> bool:
        return self._eof and not self._data

    # the writer --------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def write_eof(self) -> None:
        self.transport.write_eof()

    def can_write_eof(self) -> bool:
        return bool(self.transport.can_write_eof())

    def close(self) -> None:
        self.transport.close()

    def is_closing(self) -> bool:
        return bool(self.transport.is_closing())

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)

    async def drain(self) -> None:
        if self._lost:
            raise ConnectionResetError("Connection lost")
        if not self._write_paused:
            return
        drainer = self.loop.create_future()
        if self._drainers is None:
            self._drainers = []
        self._drainers.append(drainer)
        try:
            await drainer
        finally:
            if self._drainers is not None and drainer in self._drainers:
                self._drainers.remove(drainer)
        if self._lost:
            raise ConnectionResetError("Connection lost")

    async def wait_closed(self) -> None:
        if self._lost:
            return
        if self._closed is None:
            self._closed = self.loop.create_future()
        await asyncio.shield(self._closed)


async def start_server(
    client_connected_cb: Callable[[Any, Any], Coroutine[Any, Any, None]], host: Any = None, port: Any = None, **kwds: Any
) -> asyncio.AbstractServer:
    """``asyncio.start_server`` with a ``LeanStream`` per cleartext connection."""
    if not FastStreams.enabled or kwds.get("ssl") is not None or "limit" in kwds:
        return await asyncio.start_server(client_connected_cb, host, port, **kwds)
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: LeanStream(client_connected_cb, loop), host, port, **kwds)


class AsyncioForWorkerServe(types.ModuleType):
    """What ``hypercorn.asyncio.run`` calls ``asyncio``: the module, but its
    ``start_server`` — the one name ``worker_serve`` reads that is replaced."""

    start_server = staticmethod(start_server)

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)


ASYNCIO_FOR_WORKER_SERVE = AsyncioForWorkerServe("asyncio")
