"""Replaces parts of hypercorn 0.18 (``hypercorn.asyncio.task_group.TaskGroup``,
``worker_context.EventWrapper``, ``tcp_server.TCPServer._read_data``, ``protocol_send`` and ``_close``,
``protocol.ws_stream.WebsocketBuffer`` and ``PerMessageDeflate``), h11 0.16's
``Headers`` iteration and wsproto 1.2's ``PerMessageDeflate.accept``: hypercorn's and
h11's internals, replaced in the worker process (the app factory calls
``patch_hypercorn``), each fingerprinted by ``tests/unit/test_framework_overrides.py``.

Hot paths:

- h11's ``Headers`` is a ``Sequence`` without ``__iter__``: every iteration (hypercorn
  builds the ASGI scope from it, wsproto reads the handshake from it) goes through
  ``Sequence.__iter__`` and one ``__getitem__`` call per header, 6 % of a WebSocket
  connect and more of a polling request in a profile. Iterating the list it wraps yields
  the same pairs.
- hypercorn (asyncio) gives every request an ``asyncio.Queue`` for the app's ``receive``
  and every connection an ``asyncio.Event``: four deques and one, about 3.7 KiB of a
  WebSocket connection's 29 KiB of Python heap, for a queue of at most ten events read by
  one task. ``AppQueue`` and ``LightEvent`` keep the same behaviour (``put`` waits while
  the queue is full; ``wait`` returns once set) on a list and a future.
- hypercorn reads each chunk through ``asyncio.wait_for`` when ``read_timeout`` is set,
  which on Python 3.11 wraps every read in a task of its own: a task per frame received,
  and one pending per idle connection. ``asyncio.timeout`` bounds the same read with one
  timer handle.

Hostile clients and time: ``_read_data`` bounds, besides each read, a request's head and
body by the request deadline, and ``protocol_send`` and ``_close`` reset a connection
whose client reads nothing of what is queued for it (``request_deadline.py``).

Hostile clients and memory:

- hypercorn 0.18 closes a connection whose message passes ``websocket_max_message_size``
  (1009), but keeps the partial buffer: the rest of that message, or the next message if
  it is of the other kind (text after bytes), then raises ``TypeError`` in hypercorn's
  reader and logs a traceback per connection. A hostile client can produce one at will.
  After an overflow ``ForgettingWebsocketBuffer`` drops whatever the connection still
  sends; the app's next receive then finds no text and no bytes, which python-engineio
  reads as the connection ending. hypercorn builds ``WebsocketBuffer`` by its
  module-level name for each connection, so the name is replaced.
- WebSocket permessage-deflate, off unless ``PRESENCE_WS_DEFLATE`` turns it on. hypercorn
  always accepts the extension when a client offers it (browsers and Node's ``ws`` do),
  and wsproto's zlib state costs about 110 KiB per connected socket — more than the rest
  of a connection — to compress ~100-byte frames. hypercorn has no option for it: it
  looks up ``PerMessageDeflate`` in ``hypercorn.protocol.ws_stream`` on every accept, so
  that name is replaced by an extension that declines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from ssl import SSLError
from typing import Any

from h11._headers import Headers
from hypercorn.asyncio import run as hypercorn_run
from hypercorn.asyncio import task_group as hypercorn_task_group
from hypercorn.asyncio import tcp_server, worker_context
from hypercorn.events import Closed, RawData, Updated
from hypercorn.protocol import ws_stream
from hypercorn.protocol.ws_stream import FrameTooLargeError, WebsocketBuffer
from wsproto.extensions import PerMessageDeflate

from . import fast_serve, lean_stream, request_deadline

_PER_MESSAGE_DEFLATE = ws_stream.PerMessageDeflate


def _iter_headers(self: Headers) -> Iterator[tuple[bytes, bytes]]:
    return ((name, value) for _, name, value in self._full_items)


class AppQueue:
    """What one ASGI app reads with ``receive``: FIFO, bounded, one reader."""

    __slots__ = ("_items", "_maxsize", "_reader", "_writers")

    def __init__(self, maxsize: int = 0) -> None:
        self._items: list[Any] = []
        self._maxsize = maxsize
        self._reader: asyncio.Future[None] | None = None
        self._writers: list[asyncio.Future[None]] | None = None

    async def put(self, item: Any) -> None:
        while 0 < self._maxsize <= len(self._items):
            waiter = asyncio.get_running_loop().create_future()
            if self._writers is None:
                self._writers = []
            self._writers.append(waiter)
            await waiter
        self._items.append(item)
        reader = self._reader
        if reader is not None and not reader.done():
            reader.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._reader = asyncio.get_running_loop().create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        item = self._items.pop(0)
        writers = self._writers
        while writers:
            waiter = writers.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                break
        return item


async def spawn_app(
    self: hypercorn_task_group.TaskGroup,
    app: Any,
    config: Any,
    scope: Any,
    send: Callable[[Any], Awaitable[None]],
) -> Callable[[Any], Awaitable[None]]:
    """hypercorn's ``TaskGroup.spawn_app``, with an ``AppQueue``."""
    app_queue = AppQueue(config.max_app_queue_size)

    def _call_soon(func: Callable[..., Any], *args: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(func(*args), self._loop)
        return future.result()

    self.spawn(
        hypercorn_task_group._handle,
        app,
        config,
        scope,
        app_queue.get,
        send,
        partial(self._loop.run_in_executor, None),
        _call_soon,
    )
    return app_queue.put


class LightEvent:
    """hypercorn's ``EventWrapper`` on a future instead of an ``asyncio.Event``."""

    __slots__ = ("_set", "_waiter")

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future[None] | None = None

    async def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        while not self._set:
            if self._waiter is None or self._waiter.done():
                self._waiter = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._waiter)

    async def set(self) -> None:
        self._set = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def is_set(self) -> bool:
        return self._set


async def _read_data(self: tcp_server.TCPServer) -> None:
    """hypercorn's ``TCPServer._read_data``, each read bounded by ``asyncio.timeout``, and
    by what is left of the request deadline while a request arrives."""
    idle = self.config.read_timeout
    deadline = request_deadline.DEADLINE
    timed = deadline.seconds is not None
    reader = self.reader
    loop = self.loop
    started: float | None = None  # when the request being received began to arrive
    prefetched = getattr(self, "prefetched", None)
    if prefetched:  # read by the fast path before it handed the connection over
        self.prefetched = None  # type: ignore[attr-defined]
        await self.protocol.handle(RawData(prefetched))
        if timed and request_deadline.reading_request(self.protocol):
            started = loop.time()
    while not reader.at_eof():
        timeout = idle if started is None else deadline.next_wait(started, idle, loop.time())
        try:
            if timeout is None:
                data = await reader.read(tcp_server.MAX_RECV)
            else:
                async with asyncio.timeout(timeout):
                    data = await reader.read(tcp_server.MAX_RECV)
        except (ConnectionError, OSError, TimeoutError, SSLError):
            due = deadline.due(started)
            if due is not None and loop.time() >= due:
                deadline.expired += 1
                self.writer.close()  # before the app hears of it: what it answers now is not sent
            break
        else:
            await self.protocol.handle(RawData(data))
            if timed:
                if not request_deadline.reading_request(self.protocol):
                    started = None
                elif started is None:
                    started = loop.time()
    await self.protocol.handle(Closed())


async def protocol_send(self: tcp_server.TCPServer, event: Any) -> None:
    """hypercorn's ``TCPServer.protocol_send``, its wait for the client to read bounded by
    ``request_deadline.drain`` (a client that reads nothing is reset), and a write that
    fails closing the connection, not only the stream.

    A write that fails is one the drain's watchdog reset, or one finished by another task
    (``lean_engineio``'s backlog) whose wait asyncio refuses with ``RuntimeError`` (seen
    on a client that stopped reading): either way the watchdog is gone with the drain."""
    if isinstance(event, RawData):
        async with self.send_lock:
            try:
                self.writer.write(event.data)
                await request_deadline.drain(self.writer)
            except (ConnectionError, RuntimeError):
                # Upstream ends only the stream here and leaves the transport open with
                # what it holds: the read loop then waits its idle timeout on a client
                # that reads nothing. Closed now, and reset if that is not taken.
                request_deadline.close(self.writer.transport)
                await self.protocol.handle(Closed())
    elif isinstance(event, Closed):
        await self._close()
    elif isinstance(event, Updated):
        if event.idle:
            await self.idle_task.restart(self._task_group, self._idle_timeout)
        else:
            await self.idle_task.stop()


async def _close(self: tcp_server.TCPServer) -> None:
    """hypercorn's ``TCPServer._close``, its close of the transport through
    ``request_deadline.close``: a client that reads nothing would hold it open for ever."""
    try:
        self.writer.write_eof()
    except (NotImplementedError, OSError, RuntimeError):
        pass  # Likely SSL connection
    try:
        request_deadline.close(self.writer.transport)
        await self.writer.wait_closed()
    except (BrokenPipeError, ConnectionAbortedError, ConnectionResetError, RuntimeError, asyncio.CancelledError):
        pass  # Already closed
    finally:
        await self.idle_task.stop()


class ForgettingWebsocketBuffer(WebsocketBuffer):
    """hypercorn's WebSocket message buffer, made to forget a message it refused."""

    overflowed = False

    def extend(self, event: Any) -> None:
        if self.overflowed:
            return
        try:
            super().extend(event)
        except FrameTooLargeError:
            self.overflowed = True
            self.clear()
            raise


class DecliningPerMessageDeflate(PerMessageDeflate):
    def accept(self, offer: str) -> None:  # declines: None is no extension
        return None


# What is replaced: (owner, attribute, replacement). The test of the fingerprints reads
# this table, so an entry added here without a fingerprint of what it replaces fails it.
PATCHES: tuple[tuple[Any, str, Any], ...] = (
    (Headers, "__iter__", _iter_headers),
    (hypercorn_task_group.TaskGroup, "spawn_app", spawn_app),
    (worker_context.WorkerContext, "event_class", LightEvent),
    (tcp_server.TCPServer, "_read_data", _read_data),
    (tcp_server.TCPServer, "protocol_send", protocol_send),
    (tcp_server.TCPServer, "_close", _close),
    (tcp_server.TCPServer, "run", fast_serve.run),
    (ws_stream, "WebsocketBuffer", ForgettingWebsocketBuffer),
    (ws_stream, "PerMessageDeflate", DecliningPerMessageDeflate),
    # worker_serve's ``asyncio.start_server``: a LeanStream per cleartext connection
    (hypercorn_run, "asyncio", lean_stream.ASYNCIO_FOR_WORKER_SERVE),
)


def patch_hypercorn(
    ws_deflate: bool, fast_protocol: bool = True, deadline: float | None = request_deadline.DEFAULT_SECONDS
) -> None:
    """Every replacement above; with ``ws_deflate``, hypercorn's own permessage-deflate;
    with ``fast_protocol``, cleartext HTTP/1.1 and WebSocket on ``fast_serve``'s path;
    ``deadline``, the request deadline's seconds (None: off)."""
    request_deadline.DEADLINE.seconds = deadline
    for owner, attribute, replacement in PATCHES:
        setattr(owner, attribute, replacement)
    fast_serve.FastPath.enabled = fast_protocol
    lean_stream.FastStreams.enabled = fast_protocol
    fast_serve.FastPath.ws_deflate = ws_deflate
    if ws_deflate:
        ws_stream.PerMessageDeflate = _PER_MESSAGE_DEFLATE  # type: ignore[misc]
