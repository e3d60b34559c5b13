"""Replaces hypercorn 0.18's ``hypercorn.asyncio.tcp_server.TCPServer.run`` with one that
serves a cleartext connection on the fast protocol path (``fast_http``,
``fast_websocket``) and everything else exactly as hypercorn does.

hypercorn's ``worker_serve`` (what ``hypercorn``, ``hypercorn --workers N`` and
``presence-gateway serve`` all run) still binds, accepts, applies its config, runs the
lifespan, counts each connection's task for its graceful shutdown and serves TLS, HTTP/2
and QUIC; only what runs inside a cleartext connection's task changes. A connection
whose first bytes are the HTTP/2 preface, or whose first request asks for something this
path does not speak (``fast_http.HandOver``), is given, with every byte read so far, to
hypercorn's own ``run``: ``hypercorn_server._read_data`` hands those bytes to h11 before
it reads the socket.

The connection's ``reader`` and ``writer`` are, on this path, one ``lean_stream.LeanStream``
(worker_serve's ``start_server`` is replaced too): a WebSocket's frames are read as the
bytes the transport handed over, with no asyncio stream objects between. A WebSocket the
app has parked (``WebSocketSession.park``) is served from the protocol's callbacks while
its task waits here, two frames deep, for the app to let it go: hypercorn still counts
it, and still cancels it after ``graceful_timeout``.

``PRESENCE_FAST_PROTOCOL=false`` leaves hypercorn's ``run`` and asyncio's streams in place.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from hypercorn.asyncio import tcp_server
from hypercorn.utils import parse_socket_addr

from . import request_deadline
from .fast_http import HandOver, HandshakeSlots, HTTPConnection

UPSTREAM_RUN = tcp_server.TCPServer.run
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n"


class FastPath:
    """What the path needs to know of the settings, set once by ``patch_hypercorn``."""

    enabled = True
    ws_deflate = False


# Per worker (one WorkerContext each): the connections waiting for a next request, closed
# at once when the worker terminates, as hypercorn's idle task per connection does.
_IDLE: weakref.WeakKeyDictionary[Any, set[HTTPConnection]] = weakref.WeakKeyDictionary()


def _idle_connections(server: Any) -> set[HTTPConnection]:
    context = server.context
    idle = _IDLE.get(context)
    if idle is None:
        idle = _IDLE[context] = set()

        async def close_when_terminated() -> None:
            await context.terminated.wait()
            for connection in list(idle):
                connection.close_soon()

        task = server.loop.create_task(close_when_terminated())
        idle_watchers.add(task)
        task.add_done_callback(idle_watchers.discard)
    return idle


idle_watchers: set[asyncio.Task[None]] = set()

# Per worker: the slots its new connections' handshakes take turns in (``HTTPConnection.read``).
_SLOTS: weakref.WeakKeyDictionary[Any, HandshakeSlots] = weakref.WeakKeyDictionary()


def _handshake_slots(server: Any) -> HandshakeSlots:
    slots = _SLOTS.get(server.context)
    if slots is None:
        slots = _SLOTS[server.context] = HandshakeSlots()
    return slots


async def run(self: tcp_server.TCPServer) -> None:
    """hypercorn's ``TCPServer.run``, on the fast path for cleartext HTTP/1.1."""
    if not FastPath.enabled or self.writer.get_extra_info("ssl_object") is not None:
        return await UPSTREAM_RUN(self)
    socket = self.writer.get_extra_info("socket")
    try:
        client = parse_socket_addr(socket.family, socket.getpeername())
        local = parse_socket_addr(socket.family, socket.getsockname())
    except OSError:
        self.writer.close()
        return None
    connection = HTTPConnection(
        self, client, local, _idle_connections(self), FastPath.ws_deflate, _handshake_slots(self)
    )
    try:
        first = await connection.read(None, self.loop.time() + self.config.keep_alive_timeout)
        if first.startswith(HTTP2_PREFACE[: len(first)]) and first:
            connection.end_step()
            return await _hand_over(self, first)
        if first:
            await connection.serve(first)
            if connection.parked is not None:  # a WebSocket served from the protocol's callbacks
                await connection.parked.until_released()
    except HandOver as hand_over:
        connection.end_step()  # hypercorn's own path takes no turns
        return await _hand_over(self, hand_over.raw)
    except OSError:
        pass
    finally:
        connection.end_step()
        if not getattr(self, "_handed_over", False):
            await _close(self)
        connection.forget()
    return None


async def _hand_over(server: Any, raw: bytes) -> None:
    server._handed_over = True
    server.prefetched = raw
    await UPSTREAM_RUN(server)


async def _close(server: Any) -> None:
    writer = server.writer
    try:
        writer.write_eof()
    except (NotImplementedError, OSError, RuntimeError):
        pass
    try:
        if not writer.transport.is_closing():
            request_deadline.close(writer.transport)  # a client that reads nothing is reset
        await writer.wait_closed()
    except (ConnectionError, RuntimeError, asyncio.CancelledError):
        pass
