"""Replaces, on the fast protocol path (``fast_serve``), hypercorn 0.18's
``hypercorn.protocol.h11.H11Protocol``, ``hypercorn.protocol.http_stream.HTTPStream``,
``hypercorn.asyncio.task_group.TaskGroup.spawn_app`` / ``_handle`` and the
``TCPServer`` idle-timeout task, for cleartext HTTP/1.1, with h11 0.16's parser replaced
by ``httptools`` (llhttp, the parser uvicorn and Node use).

Per request hypercorn runs h11's pure-Python parser and header validation both ways,
builds an ``HTTPStream``, spawns the app in a task of a per-connection ``TaskGroup``
with a queue between them, and restarts a keep-alive timer task. Here one
``HTTPConnection`` per connection parses with llhttp and calls the app in the
connection's own task; the app's ``receive`` reads the socket when it wants more body,
so a body is never buffered ahead of the app by more than one read; the idle and header
deadlines are one ``asyncio.timeout`` on the read in progress, and a WebSocket's
``read_timeout`` one entry in the loop's ``ReadSweep`` (one timer for them all). Once a
connection is a WebSocket it lets go of its parser and request queue.

Kept from hypercorn (and h11): the ASGI scope it builds; ``server_names`` (404);
``keep_alive_timeout`` from the end of one response until the next request's head is
whole, ``keep_alive_max_requests``, ``read_timeout`` on every read of a request's body
and of a WebSocket; ``h11_max_incomplete_size`` for a request head (431); the response
headers it adds (``date``, ``server``, ``alt-svc``) and ``build_and_validate_headers``
on the app's; ``100 Continue`` when the app first reads the body of a request that
expects it; the access log and ``max_requests``; a 500 for an app that ends without a
response; the connection closed after a response the client asked to be the last, after
a body the app left unread, and once the worker is terminating. Added: at most
``MAX_HEADERS`` header lines and ``MAX_PIPELINED`` requests queued behind the one the app
is answering (more closes the connection after a 400), each request line and header
value bounded by the same head limit.

What this path does not speak is handed, before anything was answered on the
connection's current request, to hypercorn's own path (``fast_serve.hand_over``): the
HTTP/2 preface, an ``h2c`` upgrade, and a WebSocket offering permessage-deflate while
``PRESENCE_WS_DEFLATE`` is on.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Callable
from functools import partial
from time import time
from typing import Any
from urllib.parse import unquote

import httptools
from hypercorn.protocol.ws_stream import Handshake
from hypercorn.utils import build_and_validate_headers, suppress_body

from . import request_deadline
from .fast_websocket import UnexpectedMessage, WebSocketSession

MAX_RECV = 2**16
MAX_HEADERS = 100  # header lines in one request head
MAX_PIPELINED = 16  # requests parsed while an earlier one is still being answered

_REASONS = {
    100: b"Continue", 101: b"Switching Protocols", 200: b"OK", 204: b"No Content", 304: b"Not Modified",
    400: b"Bad Request", 403: b"Forbidden", 404: b"Not Found", 405: b"Method Not Allowed",
    413: b"Content Too Large", 431: b"Request Header Fields Too Large", 500: b"Internal Server Error",
}


class HandOver(Exception):
    """This request is for hypercorn's own path: ``raw`` is every byte not yet answered."""

    def __init__(self, raw: bytes) -> None:
        super().__init__("hand over")
        self.raw = raw


class BadRequest(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Request:
    """One parsed request: its head, then its body as it arrives."""

    __slots__ = (
        "began", "body", "complete", "due", "expects_continue", "headers", "keep_alive", "method", "upgrade", "url",
    )

    def __init__(self, began: float = 0.0) -> None:
        self.began = began  # loop time of its first byte
        self.due: float | None = None  # when it must be whole (request_deadline), once it is the one answered
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.method = b""
        self.body: list[bytes] = []
        self.complete = False
        self.keep_alive = True
        self.expects_continue = False
        self.upgrade = False


HANDSHAKE_WAKES = 2
HANDSHAKE_SLOTS = 4  # handshakes in progress at once (one may be waiting for the store)
# Handshake steps begun per event-loop turn (a step is one wake-up's work: about 0.3-0.5 ms
# here for an upgrade or a CONNECT); see ``HandshakeSlots.turn``.
HANDSHAKE_STEPS_PER_TURN = 4


class HandshakeSlots:
    """The worker's slots for new connections' handshakes (one per event loop): at most
    ``width`` in progress at once, and at most ``per_turn`` steps begun per loop turn.

    The width alone does not pace a storm: a step that ends by waiting for its client
    frees its slot before it yields, so the next connection whose bytes are in takes it at
    once, in the same turn. A storm of 5000 connections for one user (200 connecting at a
    time) did 185 upgrades and 13 CONNECTs in one turn of 117 ms through 4 slots, and a
    bystander's ping waited for all of it (``benchmarks/abuse.py``, connect-storm)."""

    __slots__ = ("_free", "_left", "_per_turn", "_refill", "_waiters")

    def __init__(self, width: int = HANDSHAKE_SLOTS, per_turn: int = HANDSHAKE_STEPS_PER_TURN) -> None:
        self._free = asyncio.Semaphore(width)
        self._per_turn = per_turn
        self._left = per_turn
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._refill: asyncio.Handle | None = None

    async def turn(self) -> None:
        """Returns in a loop turn in which this step may begin. The budget is refilled by a
        callback scheduled for the next turn, which also wakes the next ``per_turn``
        waiters (they run the turn after): at most twice ``per_turn`` steps in one turn,
        and a turn never waits behind more than that."""
        if self._refill is None:
            self._refill = asyncio.get_running_loop().call_soon(self._next_turn)
        if self._left > 0 and not self._waiters:
            self._left -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if not waiter.done():
                self._waiters.remove(waiter)
            raise

    def _next_turn(self) -> None:
        self._refill = None
        left, waiters = self._per_turn, self._waiters
        while left and waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                left -= 1
        self._left = left
        if waiters or left < self._per_turn:  # still busy: the next turn gets its budget too
            self._refill = asyncio.get_running_loop().call_soon(self._next_turn)


class Slot:
    """One connection's hold on a ``HandshakeSlots``: entered, left, left again harmlessly."""

    __slots__ = ("_slots", "_held")

    def __init__(self, slots: HandshakeSlots) -> None:
        self._slots = slots
        self._held = False

    async def enter(self) -> None:
        await self._slots._free.acquire()
        self._held = True
        await self._slots.turn()

    def leave(self) -> None:
        if self._held:
            self._held = False
            self._slots._free.release()


# How often the reads of idle WebSockets are looked at for ``read_timeout``: a silent
# client is dropped between ``read_timeout`` and ``read_timeout + SWEEP_EVERY`` seconds.
SWEEP_EVERY = 1.0

# The requests a WebSocket has queued: none, and none can be added (``maxlen=0``).
_NO_REQUESTS: deque[Request] = deque(maxlen=0)


class ReadSweep:
    """The ``read_timeout`` of the event loop's WebSocket reads, ended by one timer.

    An ``asyncio.timeout`` per read is a ``Timeout``, a timer handle (with libuv's timer
    under uvloop) and a copied context per idle connection, made and cancelled again on
    every frame; 15 000 held sockets pinging hold 15 000 of them. Here a read in progress
    is one entry (the connection, its deadline) of one dict, and one timer a second
    closes the connections whose deadline has passed: their read then ends with no bytes,
    as a timed-out one does."""

    __slots__ = ("_due", "_handle", "_loop", "expired")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: dict[Any, float] = {}
        self._handle: asyncio.TimerHandle | None = None
        self.expired = 0  # connections closed for a read past its timeout

    def watch(self, connection: Any, timeout: float) -> None:
        self._due[connection] = self._loop.time() + timeout
        if self._handle is None:
            self._handle = self._loop.call_later(SWEEP_EVERY, self._sweep)

    def unwatch(self, connection: Any) -> None:
        self._due.pop(connection, None)

    def _sweep(self) -> None:
        now = self._loop.time()
        late = [connection for connection, due in self._due.items() if due <= now]
        for connection in late:
            del self._due[connection]
            self.expired += 1
            connection.read_timed_out()
        self._handle = self._loop.call_later(SWEEP_EVERY, self._sweep) if self._due else None


class _LoopShared:
    """What every connection of one event loop can share rather than hold a copy of."""

    __slots__ = ("call_soon", "sweep", "sync_spawn", "__weakref__")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.sweep = ReadSweep(loop)
        self.sync_spawn = partial(loop.run_in_executor, None)

        def call_soon(func: Callable[..., Any], *args: Any) -> Any:
            return asyncio.run_coroutine_threadsafe(func(*args), loop).result()

        self.call_soon = call_soon


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopShared] = weakref.WeakKeyDictionary()


def loop_shared(loop: asyncio.AbstractEventLoop) -> _LoopShared:
    shared = _SHARED.get(loop)
    if shared is None:
        shared = _SHARED[loop] = _LoopShared(loop)
    return shared


class HTTPConnection:
    """One cleartext HTTP/1.1 connection, served in hypercorn's task for it. Slotted, and
    what only HTTP needs (the parser, the queue of pipelined requests) is let go once the
    connection is a WebSocket: a held socket keeps what it reads and writes with."""

    __slots__ = (
        "_closing", "_corked", "_drain_lock", "_hand_over_enabled", "_head_began", "_head_size", "_idle", "_parser",
        "_parsing", "_pending", "_raw", "_refusal", "_requests", "_shared", "_timed_out", "_upgrade_rest",
        "_wakes", "_ws_deflate", "client", "config", "context", "local", "loop", "parked", "reader", "server",
        "slots", "transport", "writer", "__weakref__",
    )

    def __init__(
        self, server: Any, client: Any, local: Any, idle: set[Any], ws_deflate: bool, slots: HandshakeSlots
    ) -> None:
        self.server = server  # hypercorn's TCPServer: app, config, context, reader, writer
        self.config = server.config
        self.context = server.context
        self.reader = server.reader
        self.writer = server.writer
        self.transport = server.writer.transport
        self.client, self.local = client, local
        self.loop = server.loop
        self._shared = loop_shared(self.loop)
        self._timed_out = False
        self._hand_over_enabled = True  # until the first request is answered here
        self._ws_deflate = ws_deflate
        self._idle = idle  # the worker's idle connections, closed when it terminates
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self._parsing: Request | None = None
        self._head_began: float | None = None  # loop time of the first byte of a head not yet whole
        self._pending: deque[Request] = deque()
        self._head_size = 0
        self._raw = bytearray()  # bytes of requests not yet answered, for a hand-over
        self._upgrade_rest: bytes | None = None
        self._requests = 0
        self._closing = False
        self._drain_lock: asyncio.Lock | None = None
        self._refusal: _Exchange | None = None
        self.slots = Slot(slots)
        self._corked: list[bytes] | None = None  # a handshake step's writes, sent as one at its end
        self._wakes = 0
        self.parked: WebSocketSession | None = None  # a WebSocket served from the protocol's callbacks

    @property
    def sync_spawn(self) -> Callable[..., Any]:
        return self._shared.sync_spawn

    @property
    def call_soon(self) -> Callable[..., Any]:
        return self._shared.call_soon

    def let_go_of_http(self) -> None:
        """The connection is a WebSocket from here on: no more requests to parse."""
        self._parser = None
        self._pending = _NO_REQUESTS  # an empty deque is 760 bytes; this one is shared and stays empty
        self._raw = bytearray()

    def forget(self) -> None:
        """Once the connection's task is done: its reference cycles (llhttp's callbacks
        are bound methods of it, a refusal's exchange points back at it) are broken, so
        reference counting frees the connection (its hypercorn server, streams,
        transport, futures) at once. Left to the cyclic collector, a connect storm's closed
        connections were about 35 objects each in its young generation, and its
        collections paused every socket for 15-110 ms each (6-85 ms of CPU) during the
        storm (``benchmarks/abuse.py``); now that storm leaves it no garbage."""
        self._parser = None
        self._refusal = None

    # llhttp's callbacks ------------------------------------------------------------
    def on_message_begin(self) -> None:
        if len(self._pending) >= MAX_PIPELINED:
            raise BadRequest(400)
        self._parsing = Request(self.loop.time())
        self._head_began = self._parsing.began
        self._head_size = 0

    def on_url(self, url: bytes) -> None:
        self._grow_head(len(url))
        self._parsing.url += url  # type: ignore[union-attr]

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self._parsing
        assert request is not None
        self._grow_head(len(name) + len(value) + 4)
        if len(request.headers) >= MAX_HEADERS:
            raise BadRequest(431)
        name = name.lower()
        request.headers.append((name, value))
        if name == b"expect" and value.lower() == b"100-continue":
            request.expects_continue = True

    def on_headers_complete(self) -> None:
        request = self._parsing
        assert request is not None
        parser = self._parser
        assert parser is not None
        request.method = parser.get_method()
        request.keep_alive = parser.should_keep_alive()
        request.upgrade = parser.should_upgrade()
        self._head_began = None
        self._pending.append(request)

    def on_body(self, body: bytes) -> None:
        self._parsing.body.append(body)  # type: ignore[union-attr]

    def on_message_complete(self) -> None:
        self._parsing.complete = True  # type: ignore[union-attr]

    def _grow_head(self, size: int) -> None:
        self._head_size += size
        if self._head_size > self.config.h11_max_incomplete_size:
            raise BadRequest(431)

    # reading ---------------------------------------------------------------------
    def _feed(self, data: bytes) -> None:
        if self._upgrade_rest is not None:
            self._upgrade_rest += data  # after an upgrade the bytes are the new protocol's
            return
        if self._hand_over_enabled:
            self._raw += data
        assert self._parser is not None
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self._upgrade_rest = data[upgrade.args[0] :]
        except httptools.HttpParserError as error:
            cause = error.__cause__ or error.__context__
            raise cause if isinstance(cause, BadRequest) else BadRequest(400) from None

    async def read(self, timeout: float | None, deadline: float | None = None) -> bytes:
        """The next bytes from the client, b"" once it is gone or too slow. The first
        ``HANDSHAKE_WAKES`` wake-ups of a connection (its first request, the CONNECT
        after it) each wait for one of the worker's handshake slots, released at the
        next wait for the client: a storm of new connections then does a few handshakes
        per event-loop turn instead of hundreds in one, and a connection already
        established (a bystander's ping) never waits behind them. No slot is held while
        a client is awaited, so slow clients cannot take them."""
        self.end_step()
        try:
            if deadline is not None:
                async with asyncio.timeout_at(deadline):
                    data = await self.reader.read(MAX_RECV)
            elif timeout is None:
                data = await self.reader.read(MAX_RECV)
            else:
                async with asyncio.timeout(timeout):
                    data = await self.reader.read(MAX_RECV)
        except (ConnectionError, OSError, TimeoutError):
            return b""
        if data and self._wakes < HANDSHAKE_WAKES:
            self._wakes += 1
            await self.slots.enter()
            self._corked = []
        return data

    async def read_idle(self, timeout: float | None) -> bytes:
        """``read(timeout)`` for a read that may wait long (a WebSocket's): its timeout
        is kept by the loop's ``ReadSweep``, to within ``SWEEP_EVERY``."""
        if self._wakes < HANDSHAKE_WAKES or timeout is None:  # still taking handshake turns
            return await self.read(timeout)
        self.end_step()  # what the last handshake step wrote goes out before the wait
        sweep = self._shared.sweep
        sweep.watch(self, timeout)
        try:
            data = await self.reader.read(MAX_RECV)  # awaited here, not through ``read``: a frame less held
        except (ConnectionError, OSError):
            data = b""
        finally:
            sweep.unwatch(self)
        return b"" if self._timed_out else data

    @property
    def past_handshakes(self) -> bool:
        """Its handshake turns are taken: what it reads from now on takes none."""
        return self._wakes >= HANDSHAKE_WAKES

    def watch_idle(self, timeout: float) -> None:
        """A parked WebSocket's ``read_timeout``, from now (``read_idle``'s, with no read)."""
        self._shared.sweep.watch(self, timeout)

    def unwatch_idle(self) -> None:
        self._shared.sweep.unwatch(self)

    def read_timed_out(self) -> None:
        """``ReadSweep``: the read in progress outlived its timeout; it ends with b""."""
        self._timed_out = True
        self.close_soon()

    def body_read_deadline(self, request: Request) -> float | None:
        """When the read of ``request``'s body in progress must end (an absolute loop time),
        or None for ``read_timeout`` per read: the request deadline."""
        return request.due

    async def _next_request(self) -> Request | None:
        """The next request whose head is whole, within ``keep_alive_timeout`` and, once
        its first byte is in, the request deadline (timed from then, or from now for a
        request that was waiting behind the previous one)."""
        ready = self.loop.time()
        idle_until = ready + self.config.keep_alive_timeout
        deadline = request_deadline.DEADLINE
        if not self._pending:
            self._idle.add(self)
        try:
            while not self._pending:
                if self.context.terminated.is_set():
                    return None
                began = self._head_began
                due = None if began is None else deadline.due(max(began, ready))
                data = await self.read(None, idle_until if due is None or idle_until < due else due)
                if not data:
                    if due is not None and self.loop.time() >= due:
                        deadline.expired += 1
                    return None
                self._feed(data)
        finally:
            self._idle.discard(self)
        request = self._pending[0]
        request.due = deadline.due(max(request.began, ready))
        return request

    # writing ---------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        corked = self._corked
        if corked is not None:
            corked.append(data)
        elif not self.transport.is_closing():
            self.transport.write(data)

    def end_step(self) -> None:
        """The end of a handshake step: what it wrote goes out in one send, and its slot is
        freed. A refused attempt writes five times (the 101 and Engine.IO's OPEN, then the
        refusal, Engine.IO's CLOSE and the WebSocket close frame): two sends instead of
        five, each a system call and a wake-up of the client on a machine the storm
        already keeps busy. Once past its handshake a connection's writes go out at once."""
        self._uncork()
        self.slots.leave()

    def _uncork(self) -> None:
        corked = self._corked
        if corked is not None:
            self._corked = None
            if corked:
                self.write(corked[0] if len(corked) == 1 else b"".join(corked))

    async def drain_if_full(self, limit: int) -> None:
        corked = self._corked
        if self.transport.get_write_buffer_size() + (sum(map(len, corked)) if corked else 0) <= limit:
            return
        self._uncork()
        if self._drain_lock is None:
            self._drain_lock = asyncio.Lock()
        async with self._drain_lock:
            try:
                await request_deadline.drain(self.writer)
            except (ConnectionError, RuntimeError):
                self.close_soon()

    def close_soon(self) -> None:
        self._closing = True
        self._uncork()
        if not self.transport.is_closing():
            request_deadline.close(self.transport)

    async def write_head(self, status: int, headers: list[tuple[bytes, bytes]], keep_alive_header: bool) -> None:
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b""))]
        lines += [name + b": " + value + b"\r\n" for name, value in headers]
        lines += [name + b": " + value + b"\r\n" for name, value in self.config.response_headers("h11")]
        if keep_alive_header and self._closing:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        self.write(b"".join(lines))

    async def error_response(self, status: int) -> None:
        self._closing = True
        await self.write_head(status, [(b"content-length", b"0"), (b"connection", b"close")], keep_alive_header=False)

    async def write_response_part(self, start: dict[str, Any], message: dict[str, Any]) -> None:
        """A WebSocket refused with an HTTP response of the app's (ASGI's
        ``websocket.http.response``): head with the first part, then the body."""
        exchange = self._refusal
        if exchange is None:
            exchange = self._refusal = _Exchange(self, Request(), {"method": "GET"}, 0.0)
            self._closing = True
            await exchange.send(start)
        await exchange.send({**message, "type": "http.response.body"})

    # serving ---------------------------------------------------------------------
    async def serve(self, first: bytes) -> None:
        """Requests until the connection ends; ``first`` is what the client sent first."""
        try:
            self._feed(first)
            while not self._closing:
                request = await self._next_request()
                if request is None:
                    break
                if self._hand_over_enabled:
                    if self._for_hypercorn(request):
                        raise HandOver(bytes(self._raw))
                    self._hand_over_enabled = False  # answered on this path: it stays here
                    self._raw = bytearray()
                if request.upgrade and self._upgrade_to_websocket(request):
                    await self._websocket(request)
                    break
                await self._http(request)
                self._pending.popleft()
        except BadRequest as error:
            await self.error_response(error.status)
        finally:
            self._closing = True

    def _for_hypercorn(self, request: Request) -> bool:
        """An h2c upgrade, or a WebSocket that would agree permessage-deflate."""
        if not request.upgrade:
            return False
        headers = dict(request.headers)
        upgrade = headers.get(b"upgrade", b"").lower()
        if upgrade == b"h2c":
            return True
        return self._ws_deflate and b"permessage-deflate" in headers.get(b"sec-websocket-extensions", b"").lower()

    def _upgrade_to_websocket(self, request: Request) -> bool:
        upgrade = next((value for name, value in request.headers if name == b"upgrade"), b"")
        if upgrade.lower() == b"websocket":
            return True
        raise BadRequest(400)  # an upgrade to something this path does not speak (h2c is handed over earlier)

    def _scope(self, kind: str, request: Request) -> dict[str, Any]:
        path, _, query = request.url.partition(b"?")
        try:
            decoded = unquote(path.decode("ascii"))
        except UnicodeDecodeError:
            raise BadRequest(400) from None
        scope: dict[str, Any] = {
            "type": kind,
            "asgi": {"spec_version": "2.1" if kind == "http" else "2.3", "version": "3.0"},
            "http_version": "1.1" if self._parser is None or self._parser.get_http_version() == "1.1" else "1.0",
            "method": request.method.decode("ascii"),
            "scheme": "http" if kind == "http" else "ws",
            "path": decoded,
            "raw_path": path,
            "query_string": query,
            "root_path": self.config.root_path,
            "headers": request.headers,
            "client": self.client,
            "server": self.local,
            "state": self.server.state.copy(),
            "extensions": {},
        }
        return scope

    def _valid_server_name(self, request: Request) -> bool:
        names = self.config.server_names
        if not names:
            return True
        host = next((value for name, value in request.headers if name == b"host"), b"")
        return host.decode("latin-1") in names

    async def _counted(self) -> None:
        self._requests += 1
        if self._requests >= self.config.keep_alive_max_requests:
            self._closing = True
        await self.context.mark_request()

    async def _http(self, request: Request) -> None:
        await self._counted()
        scope = self._scope("http", request)
        if not request.keep_alive or self.context.terminated.is_set():
            self._closing = True
        exchange = _Exchange(self, request, scope, time())
        if not self._valid_server_name(request):
            await exchange.refuse(404)
            return
        try:
            await self.server.app(scope, exchange.receive, exchange.send, self.sync_spawn, self.call_soon)
        except asyncio.CancelledError:
            raise
        except Exception:
            await self.config.log.exception("Error in ASGI Framework")
        await exchange.finish()
        if not request.complete:
            self._closing = True  # a body the app left unread: the next bytes are not a request

    async def _websocket(self, request: Request) -> None:
        await self._counted()
        self._closing = True
        scope = self._scope("websocket", request)
        handshake = Handshake(request.headers, scope["http_version"])
        handshake.extensions = None  # no extension is spoken here (deflate went to hypercorn's path)
        scope["subprotocols"] = handshake.subprotocols or []
        scope["extensions"] = {"websocket.http.response": {}}
        if not self._valid_server_name(request):
            await self.error_response(404)
            return
        if not handshake.is_valid() or not request.complete or request.body:
            await self.error_response(400)
            return
        session = WebSocketSession(self, scope, handshake)
        self.let_go_of_http()
        await session.run(self.server.app, self._upgrade_rest or b"")


class _Exchange:
    """One request's ASGI ``receive`` and ``send`` (hypercorn's ``HTTPStream``)."""

    __slots__ = ("connection", "done", "request", "response", "scope", "start", "_chunked", "_continued", "_end_given")

    def __init__(self, connection: HTTPConnection, request: Request, scope: dict[str, Any], start: float) -> None:
        self.connection = connection
        self.request = request
        self.scope = scope
        self.start = start
        self.response: dict[str, Any] | None = None
        self.done = False
        self._chunked = False
        self._continued = False
        self._end_given = False

    async def receive(self) -> dict[str, Any]:
        request, connection = self.request, self.connection
        while True:
            if self._end_given:
                return await self._wait_disconnect()
            if request.body or request.complete:
                body = request.body[0] if len(request.body) == 1 else b"".join(request.body)
                request.body = []
                self._end_given = request.complete
                return {"type": "http.request", "body": body, "more_body": not request.complete}
            if request.expects_continue and not self._continued:
                self._continued = True
                await connection.write_head(100, [], keep_alive_header=False)
            deadline = connection.body_read_deadline(request)
            data = await connection.read(connection.config.read_timeout, deadline)
            if not data:
                if deadline is not None and connection.loop.time() >= deadline:
                    request_deadline.DEADLINE.expired += 1
                connection.close_soon()
                return {"type": "http.disconnect"}
            connection._feed(data)

    async def _wait_disconnect(self) -> dict[str, Any]:
        """After the body, ``receive`` ends when the client goes (or the response is sent)."""
        connection = self.connection
        while not self.done:
            data = await connection.read(None)
            if not data:
                connection.close_soon()
                return {"type": "http.disconnect"}
            connection._feed(data)  # a pipelined request: parsed and queued, answered next
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        connection = self.connection
        if kind == "http.response.start" and self.response is None:
            self.response = message
            headers = build_and_validate_headers(message.get("headers", []))
            status = int(message["status"])
            has_length = any(name == b"content-length" for name, _ in headers)
            if self.request.method == b"HEAD" or suppress_body(self.scope.get("method", "GET"), status) or has_length:
                pass
            else:
                self._chunked = True
                headers.append((b"transfer-encoding", b"chunked"))
            if any(name == b"connection" and value.lower() == b"close" for name, value in headers):
                connection._closing = True
            await connection.write_head(status, headers, keep_alive_header=True)
        elif kind == "http.response.body" and self.response is not None and not self.done:
            body = bytes(message.get("body", b""))
            if body and not suppress_body(self.scope.get("method", "GET"), int(self.response["status"])):
                connection.write(b"%x\r\n%s\r\n" % (len(body), body) if self._chunked else body)
            if not message.get("more_body", False):
                if self._chunked:
                    connection.write(b"0\r\n\r\n")
                self.done = True
                await connection.config.log.access(self.scope, self.response, time() - self.start)
            await connection.drain_if_full(MAX_RECV)
        elif self.done:
            return  # after the response, as hypercorn, anything more is dropped
        else:
            raise UnexpectedMessage(kind)

    async def refuse(self, status: int) -> None:
        await self.connection.error_response(status)
        self.done = True
        await self.connection.config.log.access(self.scope, {"status": status, "headers": []}, time() - self.start)

    async def finish(self) -> None:
        """The app returned: a 500 if it never answered; a half response ends the connection."""
        if self.response is None:
            await self.refuse(500)
        elif not self.done:
            self.done = True
            self.connection.close_soon()
