"""Replaces, on the fast protocol path (``fast_serve``), hypercorn 0.18's
``hypercorn.protocol.ws_stream.WSStream`` (its ASGI side: scope, accept, send, close) and
the wsproto 1.2 ``Connection`` / ``FrameProtocol`` it frames with, for a WebSocket
upgraded from a cleartext HTTP/1.1 request.

wsproto parses every frame in pure Python (a generator per connection, an event object
per frame, a bytearray copy per read) and hypercorn adds a stream object, a message
buffer and a queue per connection. Here one ``WebSocketSession`` per connection holds
the read buffer and the message being assembled; masks are undone by the C function of
the ``websockets`` package (``websockets.speedups.apply_mask``); a frame to the client is
one ``bytes`` written straight to the transport. The app's ``receive`` reads the socket
itself, so a connection costs the one task hypercorn's server already runs for it.

The rules kept from wsproto and hypercorn (RFC 6455): a client frame must be masked and
use no RSV bit (no extension is negotiated here: a permessage-deflate offer with
``PRESENCE_WS_DEFLATE`` on is handed to hypercorn's path before the handshake, see
``fast_http``); control frames are final and at most 125 bytes; continuation only inside
a fragmented message; text must be UTF-8 (1007); a message over
``websocket_max_message_size`` closes with 1009 and is forgotten; a ping is answered
with its payload; a close is answered with the code it carried.

Parked (``WebSocketSession.park``), a session reads no more: the app hands it handlers,
and the protocol's ``data_received`` gives them each whole message. A message the app
can take at once (Engine.IO's PONG) is handled there; any other starts a task that
handles it, then those that arrived meanwhile, in order (reading pauses past
``READ_HIGH_WATER`` of them, as a waiting read's stream does), and ends when none is
left. An idle connection then holds no stack of coroutines: of the 22 frames an idle
Engine.IO WebSocket waited in, two are left, in ``fast_serve``.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Awaitable, Callable
from time import time
from typing import Any

from hypercorn.protocol.ws_stream import Handshake
from hypercorn.utils import build_and_validate_headers
from websockets.speedups import apply_mask

from .lean_stream import READ_HIGH_WATER, LeanStream

log = logging.getLogger(__name__)

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

NORMAL, GOING_AWAY, PROTOCOL_ERROR, INVALID_DATA, TOO_BIG, INTERNAL_ERROR = 1000, 1001, 1002, 1007, 1009, 1011
ABNORMAL = 1006  # never sent: what the app is told when the connection ends without a close

# Close codes a peer may send (RFC 6455 7.4): the registered ones and the private range.
_SENDABLE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})

# What of a parked WebSocket's ASGI scope is still read (Engine.IO's response to the
# upgrade request, the client address of a log line).
_SCOPE_KEPT = ("type", "http_version", "scheme", "path", "query_string", "client", "server")

# A transport holding more than this unsent waits for the client before the next send.
WRITE_HIGH_WATER = 256 * 1024


class UnexpectedMessage(Exception):
    """An ASGI message the app may not send now (hypercorn's ``UnexpectedMessageError``)."""


class ProtocolError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame (a server never masks)."""
    length = len(payload)
    if length < 126:
        return bytes((0x80 | opcode, length)) + payload
    if length < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, length) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, length) + payload


_last_text: list[Any] = [None, b""]  # the last text framed, and its frame
# Texts sent again and again (a pong), by identity: id → (the text, kept alive; its frame).
_constant_frames: dict[int, tuple[str, bytes]] = {}


def constant_text(text: str) -> str:
    """``text``, from now on framed once for the process whenever this very object is
    sent (``bare_events.EncodedPacket``: the pong of every ping)."""
    _constant_frames[id(text)] = (text, frame(OP_TEXT, text.encode()))
    return text


def text_frame(text: str) -> bytes:
    """``frame(OP_TEXT, …)``, computed once for a message written to many sockets in turn
    (a broadcast hands every socket the same ``str``: one encoded packet, one frame), and
    once for good for a ``constant_text``."""
    if text is _last_text[0]:
        return _last_text[1]
    constant = _constant_frames.get(id(text))
    if constant is not None and constant[0] is text:
        return constant[1]
    framed = frame(OP_TEXT, text.encode())
    _last_text[0], _last_text[1] = text, framed
    return framed


def close_frame(code: int, reason: str = "") -> bytes:
    return frame(OP_CLOSE, struct.pack("!H", code) + reason.encode()[:123])


class FrameReader:
    """Client frames from bytes as they arrive: ``feed`` then ``next_frame`` until None."""

    __slots__ = ("_buffer", "_max_size")

    def __init__(self, max_size: int) -> None:
        self._buffer: bytes | bytearray = b""
        self._max_size = max_size

    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        """Into an empty buffer, the read itself is the buffer (no copy: a ping is one
        frame in one read); a frame split over reads is gathered in a bytearray."""
        buffer = self._buffer
        if not buffer:
            self._buffer = data
        elif type(buffer) is bytes:
            self._buffer = bytearray(buffer) + data
        else:
            buffer += data

    def next_frame(self) -> tuple[bool, int, bytes] | None:
        """(fin, opcode, unmasked payload), or None until a whole frame is buffered."""
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        if first & 0x70:
            raise ProtocolError(PROTOCOL_ERROR)  # an RSV bit: no extension was agreed
        if not second & 0x80:
            raise ProtocolError(PROTOCOL_ERROR)  # a client frame must be masked
        fin, opcode, length, offset = bool(first & 0x80), first & 0x0F, second & 0x7F, 2
        if opcode >= 0x8 and (not fin or length > 125):
            raise ProtocolError(PROTOCOL_ERROR)
        if length == 126:
            if len(buffer) < 4:
                return None
            (length,) = struct.unpack_from("!H", buffer, 2)
            offset = 4
        elif length == 127:
            if len(buffer) < 10:
                return None
            (length,) = struct.unpack_from("!Q", buffer, 2)
            offset = 10
        if length > self._max_size:
            raise ProtocolError(TOO_BIG)  # refused before its payload is buffered
        end = offset + 4 + length
        if len(buffer) < end:
            return None
        mask = bytes(buffer[offset : offset + 4])
        payload = apply_mask(bytes(buffer[offset + 4 : end]), mask) if length else b""
        if isinstance(buffer, bytearray):
            del buffer[:end]
        else:
            self._buffer = buffer[end:]
        return fin, opcode, payload


class WebSocketSession:
    """One upgraded connection: hypercorn's ``WSStream`` with the framing of its own."""

    __slots__ = (
        "_busy", "_client_gone", "_config", "_connect_pending", "_connection", "_fragments", "_fragment_opcode",
        "_fragment_size", "_inline", "_on_end", "_on_message", "_reader", "_reading_paused", "_released", "_start",
        "accepted", "closed", "close_sent", "handshake", "response", "scope",
    )

    def __init__(self, connection: Any, scope: dict[str, Any], handshake: Handshake) -> None:
        self._connection = connection  # fast_http.HTTPConnection: the transport and its reads
        self._config = connection.config
        self._reader = FrameReader(self._config.websocket_max_message_size)
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0
        self._fragment_size = 0
        self._start = time()
        self.scope = scope
        self.handshake: Handshake | None = handshake  # until the accept
        self.accepted = False
        self.closed = False
        self.close_sent = False
        self.response: dict[str, Any] | None = None
        self._connect_pending = True  # ``websocket.connect``, the app's first receive
        # Parked: the app's handlers, the task finishing one that had to wait, whether the
        # client's side has ended, and what the connection's task waits for.
        self._on_message: Callable[[str | bytes], Awaitable[bool]] | None = None
        self._inline: Callable[[str | bytes], bool] | None = None
        self._on_end: Callable[[WebSocketSession], None] | None = None
        self._busy: asyncio.Task[None] | None = None
        self._client_gone = False
        self._reading_paused = False
        self._released: asyncio.Future[None] | None = None

    async def run(self, app: Callable[..., Awaitable[None]], initial: bytes) -> None:
        """The app from ``websocket.connect`` to its return, in the connection's task."""
        if initial:
            self._reader.feed(initial)
        try:
            await app(self.scope, self._receive, self._send, self._connection.sync_spawn, self._connection.call_soon)
        except asyncio.CancelledError:
            raise
        except Exception:
            await self._config.log.exception("Error in ASGI Framework")
        if self._released is not None:
            return  # parked: the app goes on from the protocol's callbacks
        if not self.accepted and not self.closed:
            await self._connection.error_response(500)
            await self._config.log.access(self.scope, {"status": 500, "headers": []}, time() - self._start)
        elif self.accepted and not self.close_sent and not self.closed:
            self._write(close_frame(INTERNAL_ERROR))
            self.close_sent = True
        self.closed = True

    def _write(self, data: bytes) -> None:
        self._connection.write(data)

    def send_text_now(self, text: str) -> bool:
        """A text message written at once, with no ASGI message or coroutine (Engine.IO's
        writes: a broadcast to a thousand sockets made a thousand of each). False when it
        cannot be written now — not open, or the client is behind — and the caller takes
        the ASGI path, which waits for the client or drops the message as ``_send`` does."""
        if self.closed or self.close_sent or not self.accepted:
            return False
        connection = self._connection
        if connection.transport.get_write_buffer_size() > WRITE_HIGH_WATER:
            return False
        connection.write(text_frame(text))
        return True

    async def _send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if self.closed or self.close_sent:
            return  # hypercorn lets the app finish after a close
        if kind == "websocket.send" and self.accepted:
            data = message.get("bytes")
            if data is not None:
                self._write(frame(OP_BINARY, bytes(data)))
            else:
                text = message["text"]
                if not isinstance(text, str):
                    raise TypeError(f"{text} should be a str")
                self._write(text_frame(text))
            await self._connection.drain_if_full(WRITE_HIGH_WATER)
        elif kind == "websocket.accept" and not self.accepted:
            await self._accept(message)
        elif kind == "websocket.close" and self.accepted:
            self._write(close_frame(int(message.get("code") or NORMAL), message.get("reason") or ""))
            self.close_sent = True
            self._connection.close_soon()
        elif kind == "websocket.close":
            self.closed = True
            await self._connection.error_response(403)
            await self._config.log.access(self.scope, {"status": 403, "headers": []}, time() - self._start)
        elif kind == "websocket.http.response.start" and not self.accepted and self.response is None:
            self.response = message
        elif kind == "websocket.http.response.body" and not self.accepted and self.response is not None:
            await self._connection.write_response_part(self.response, message)
            if not message.get("more_body", False):
                self.closed = True
                await self._config.log.access(self.scope, self.response, time() - self._start)
        else:
            raise UnexpectedMessage(kind)

    async def _accept(self, message: dict[str, Any]) -> None:
        handshake = self.handshake
        assert handshake is not None  # let go of only once parked, so accepted
        status, headers, _ = handshake.accept(message.get("subprotocol"), message.get("headers", []))
        await self._connection.write_head(status, build_and_validate_headers(headers), keep_alive_header=False)
        self.accepted = True
        await self._config.log.access(self.scope, {"status": status, "headers": []}, time() - self._start)

    async def _receive(self) -> dict[str, Any]:
        """The app's ASGI ``receive``: ``websocket.connect``, then each whole message, or
        ``websocket.disconnect``."""
        payload = await self.receive_data()
        if type(payload) is str:
            return {"type": "websocket.receive", "bytes": None, "text": payload}
        if type(payload) is bytes:
            return {"type": "websocket.receive", "bytes": payload, "text": None}
        return payload  # type: ignore[return-value]

    async def receive_data(self) -> str | bytes | dict[str, Any]:
        """The next whole message's text or bytes, or the ASGI message that is not one
        (connect, disconnect): what ``receive`` says, without a dict per message
        (``engineio_websocket``'s ``wait`` reads the payload). Pings answered on the way."""
        if self._connect_pending:
            self._connect_pending = False
            return {"type": "websocket.connect"}
        connection = self._connection
        while True:
            message = self._take()
            if message is not None:
                return message
            data = await connection.read_idle(connection.config.read_timeout)
            if not data:
                self.closed = True
                return {"type": "websocket.disconnect", "code": ABNORMAL}
            self._reader.feed(data)

    def _take(self) -> str | bytes | dict[str, Any] | None:
        """The next whole message buffered, the disconnect once closed, or None."""
        if self.closed:
            return {"type": "websocket.disconnect", "code": ABNORMAL}
        try:
            return self._next_message()
        except ProtocolError as error:
            self._fail(error.code)
            return {"type": "websocket.disconnect", "code": error.code}

    # parked --------------------------------------------------------------------------
    def park(
        self,
        on_message: Callable[[str | bytes], Awaitable[bool]],
        on_end: Callable[[WebSocketSession], None],
        inline: Callable[[str | bytes], bool] | None = None,
    ) -> bool:
        """Serve the rest of the connection from the protocol's callbacks, if it can be:
        each whole message is handed to ``inline``, which may handle it at once, with no
        task (True), or to ``on_message`` in a task (a False result ends the session),
        and the session's end, once, to ``on_end`` (given the session), which must
        ``release`` the session when the app is done with it. The app then
        returns from its ASGI call without closing anything. False (nothing changed)
        while the connection still takes handshake turns, or when it is not on a
        ``LeanStream``, or its client's side has already ended: the app reads on."""
        connection = self._connection
        stream = connection.reader
        if (
            type(stream) is not LeanStream or not connection.past_handshakes or self._released is not None
            or self.closed or self.close_sent or not self.accepted
        ):
            return False
        buffered = stream.divert(self._parked_data, self._parked_end)
        if buffered is None:
            return False
        connection.end_step()  # what this step wrote goes out now, as before a read
        self._on_message, self._on_end, self._inline = on_message, on_end, inline
        self._released = connection.loop.create_future()
        connection.parked = self
        self.handshake = None  # only an accept reads it
        scope = self.scope  # the request's environ holds it too: its headers are read by now
        kept = {key: scope[key] for key in _SCOPE_KEPT if key in scope}
        scope.clear()
        scope.update(kept)
        timeout = self._config.read_timeout
        if timeout is not None:
            connection.watch_idle(timeout)
        if buffered:
            self._reader.feed(buffered)
        connection.loop.call_soon(self._deliver)  # what was read ahead, once the app has returned
        return True

    async def until_released(self) -> None:
        """What the connection's task waits in while parked. Cancelled (hypercorn's
        ``graceful_timeout``), the session ends as a cancelled read would end it."""
        released = self._released
        if released is None:
            return
        try:
            await released
        except asyncio.CancelledError:
            if not released.cancelled():
                raise
            # The cancel took the future with it: the app lets go of a new one.
            released = self._released = self._connection.loop.create_future()
            self._end()
            await released
            raise

    def release(self) -> None:
        """The app is done with the parked session: the connection's task closes it."""
        released = self._released
        if released is not None and not released.done():
            released.set_result(None)

    def _parked_data(self, data: bytes) -> None:
        self._reader.feed(data)
        timeout = self._config.read_timeout
        if timeout is not None and self._on_end is not None:
            self._connection.watch_idle(timeout)
        if self._busy is None:
            self._deliver()
        elif not self._reading_paused and self._reader.buffered() > READ_HIGH_WATER:
            self._reading_paused = True
            self._connection.transport.pause_reading()

    def _parked_end(self) -> None:
        self._client_gone = True
        if self._busy is None:
            self._deliver()

    def _next_parked(self) -> str | bytes | dict[str, Any] | None:
        message = self._take()
        if message is None and self._client_gone:
            self.closed = True
            return {"type": "websocket.disconnect", "code": ABNORMAL}
        return message

    def _deliver(self) -> None:
        """The whole messages buffered, to the app: one its ``inline`` takes is handled
        here; any other starts a task that handles it and those behind it, in order.
        (A handler needs a task of its own: anyio's cancel scopes and ``asyncio.timeout``
        belong to the task they are entered in, and a protocol callback runs in none.)"""
        while self._on_message is not None and self._busy is None:
            message = self._next_parked()
            if message is None:
                return
            if isinstance(message, dict):
                self._end()
                return
            inline = self._inline
            if inline is not None and inline(message):
                continue
            self._busy = self._connection.loop.create_task(self._catch_up(message))

    async def _catch_up(self, message: str | bytes) -> None:
        go_on: bool | None = True
        try:
            while (on_message := self._on_message) is not None:
                go_on = await on_message(message)
                if go_on is False or self._on_message is None:  # ended, here or elsewhere
                    break
                taken = self._next_parked()
                if taken is None:
                    break
                if isinstance(taken, dict):
                    go_on = False
                    break
                message = taken
        except Exception:
            log.exception("a parked WebSocket's handler failed")
            go_on = False
        finally:
            self._busy = None
            if self._reading_paused:
                self._reading_paused = False
                if not self._connection.transport.is_closing():
                    self._connection.transport.resume_reading()
        if go_on is False:
            self._end()

    def _end(self) -> None:
        """The parked session's end, once: the app is told."""
        on_end = self._on_end
        if on_end is None:
            return
        self._on_message = self._on_end = self._inline = None
        self._connection.unwatch_idle()
        on_end(self)

    def _fail(self, code: int) -> None:
        if not self.close_sent:
            self._write(close_frame(code))
            self.close_sent = True
        self.closed = True
        self._connection.close_soon()

    def _next_message(self) -> str | bytes | dict[str, Any] | None:
        while True:
            parsed = self._reader.next_frame()
            if parsed is None:
                return None
            fin, opcode, payload = parsed
            if opcode == OP_PING:
                if not self.close_sent:
                    self._write(frame(OP_PONG, payload))
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                return self._closed_by_client(payload)
            if opcode == OP_CONTINUATION:
                if not self._fragment_opcode:
                    raise ProtocolError(PROTOCOL_ERROR)
            elif opcode in (OP_TEXT, OP_BINARY):
                if self._fragment_opcode:
                    raise ProtocolError(PROTOCOL_ERROR)
                self._fragment_opcode = opcode
            else:
                raise ProtocolError(PROTOCOL_ERROR)
            self._fragment_size += len(payload)
            if self._fragment_size > self._config.websocket_max_message_size:
                self._fragments.clear()
                raise ProtocolError(TOO_BIG)
            self._fragments.append(payload)
            if not fin:
                continue
            data = self._fragments[0] if len(self._fragments) == 1 else b"".join(self._fragments)
            kind = self._fragment_opcode
            self._fragments, self._fragment_opcode, self._fragment_size = [], 0, 0
            if kind == OP_BINARY:
                return data
            try:
                return data.decode()
            except UnicodeDecodeError:
                raise ProtocolError(INVALID_DATA) from None

    def _closed_by_client(self, payload: bytes) -> dict[str, Any]:
        code = NORMAL
        if len(payload) == 1:
            raise ProtocolError(PROTOCOL_ERROR)
        if len(payload) >= 2:
            (code,) = struct.unpack_from("!H", payload)
            if code not in _SENDABLE_CODES and not 3000 <= code <= 4999:
                raise ProtocolError(PROTOCOL_ERROR)
            try:
                payload[2:].decode()
            except UnicodeDecodeError:
                raise ProtocolError(INVALID_DATA) from None
        if not self.close_sent:
            self._write(close_frame(code) if len(payload) >= 2 else frame(OP_CLOSE, b""))
            self.close_sent = True
        self.closed = True
        self._connection.close_soon()
        return {"type": "websocket.disconnect", "code": code}
