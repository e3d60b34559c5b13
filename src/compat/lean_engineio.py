"""Replaces python-engineio 4.15.1's ``engineio.async_socket.AsyncSocket`` (and hooks
``engineio.async_server.AsyncServer`` and ``engineio.async_drivers.asgi.translate_request``):
Engine.IO's server socket without a task, a queue or a timer per message.

What python-engineio 4.x does per WebSocket connection, and what it costs here:

- every frame received is awaited through a new task and ``asyncio.wait_for`` (a task, a
  timer and two extra turns of the event loop per frame);
- every packet sent is put on an ``asyncio.Queue`` that a writer task of its own drains,
  itself through ``wait_for`` (a queue of four deques and a task per socket, a turn of the
  loop and a timer per packet);
- the heartbeat is a task per socket that sleeps a ping interval, and a service task
  visits every socket once per ping timeout;
- each request builds a class object (``AwaitablePayload``) that its environ keeps alive
  for the life of the connection.

About 12 KiB and a dozen loop turns per connection. Here, once a socket speaks WebSocket:
the frames are read inline by the connection's own task, and once its handshake turns are
taken, on the fast protocol path, handled from the connection's ``data_received``
(``WebSocketSession.park``) with no stack of coroutines waiting per connection; a packet is written at once (a
write that would wait — a client that stopped reading — finishes in a task of its own
while later packets wait in a bounded backlog, so a slow client delays nobody else); the
heartbeat is one timer handle per socket (send PING after the interval, close if no PONG
within the timeout, as upstream and the Node server do). Polling keeps upstream's queue,
created when polling first needs it and dropped once the socket is upgraded.

The wire protocol is upstream's: the same packets, in the same order, with the same
handshake and upgrade. ``tests/unit/test_framework_overrides.py`` fails if the upstream
code copied or replaced here changes.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import engineio
from engineio import async_socket, exceptions, packet

from .fast_websocket import WebSocketSession

log = logging.getLogger(__name__)

# Packets held for a client that stopped reading, after which it is disconnected: a
# presence client receives a few small packets a minute; this is minutes of backlog.
# (``PRESENCE_MAX_QUEUED_PACKETS`` sets the server's ``max_queued_packets``.) And the bytes
# they may hold: a WebSocket whose client stopped reading holds at most the transport's
# 64 KiB high-water mark, the write that passed it, and this (``PRESENCE_MAX_QUEUED_BYTES``).
MAX_BACKLOG = 1000
MAX_BACKLOG_BYTES = 1 << 20

_NOOP = packet.Packet(packet.NOOP)
_PING = packet.Packet(packet.PING).encode()
_MESSAGE = str(packet.MESSAGE)
_PONG = packet.Packet(packet.PONG).encode()


class BodyCutOff(exceptions.EngineIOError):
    """The connection ended before the body its ``Content-Length`` announced was whole (the
    request deadline, or the client going): upstream hands the app what part had come as
    if it were the whole body, and decodes half a packet. ``LeanSocket`` ends such a
    session instead."""


class AwaitablePayload:
    """The request body, read on demand (upstream defines this class per request); an
    ``http.disconnect`` before the body is whole raises ``BodyCutOff``."""

    __slots__ = ("event", "payload", "receive")

    def __init__(self, event: dict[str, Any], receive: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        self.event = event
        self.payload: bytes | None = None
        self.receive = receive

    async def read(self, length: int | None = None) -> bytes:
        if self.payload is None and self.event["type"] == "http.request":
            self.payload = self.event.get("body") or b""
            while self.event.get("more_body"):
                self.event = await self.receive()
                if self.event["type"] == "http.request":
                    if length is None or len(self.payload) < length:
                        self.payload += self.event.get("body") or b""
                elif self.event["type"] == "http.disconnect":
                    self.payload = b""
                    raise BodyCutOff()
        payload = self.payload or b""
        if length is None:
            self.payload = b""
            return payload
        self.payload = payload[length:]
        return payload[:length]


async def translate_request(scope: dict[str, Any], receive: Any, send: Any) -> dict[str, Any]:
    """upstream ``engineio.async_drivers.asgi.translate_request``, with the payload class
    defined once."""
    event = await receive()
    if event["type"] not in ("http.request", "websocket.connect"):
        return {}
    raw_uri = scope["path"]
    query_string = ""
    if scope.get("query_string"):
        try:
            query_string = scope["query_string"].decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            raw_uri += "?" + query_string
    environ = {
        "wsgi.input": AwaitablePayload(event, receive),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.async": True,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "SERVER_SOFTWARE": "asgi",
        "REQUEST_METHOD": scope.get("method", "GET"),
        "PATH_INFO": scope["path"],
        "QUERY_STRING": query_string,
        "RAW_URI": raw_uri,
        "SCRIPT_NAME": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "0",
        "SERVER_NAME": "asgi",
        "SERVER_PORT": "0",
        "asgi.receive": receive,
        "asgi.send": send,
        "asgi.scope": scope,
    }
    for name, value in scope["headers"]:
        try:
            name = name.upper().decode("utf-8")
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if name == "CONTENT-TYPE":
            environ["CONTENT_TYPE"] = value
            continue
        if name == "CONTENT-LENGTH":
            environ["CONTENT_LENGTH"] = value
            continue
        key = "HTTP_" + name.replace("-", "_")
        if key in environ:
            value = f"{environ[key]},{value}"
        environ[key] = value
    environ["wsgi.url_scheme"] = environ.get("HTTP_X_FORWARDED_PROTO", "http")
    return environ


# What of a request's environ is still read once its WebSocket carries the session (the
# connect handler, which reads headers, has run by then).
_ENVIRON_KEPT = (
    "REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "REMOTE_ADDR", "wsgi.url_scheme",
    "asgi.receive", "asgi.send", "asgi.scope",
)


def shrink_environ(environ: dict[str, Any]) -> None:
    """Drop what a long-lived session no longer needs from its request's environ: the
    frames serving a WebSocket keep that dict (every header, decoded) for the life of the
    connection, about 1.5 KiB each."""
    kept = {key: environ[key] for key in _ENVIRON_KEPT if key in environ}
    environ.clear()
    environ.update(kept)


class LeanSocket(async_socket.AsyncSocket):
    """One Engine.IO session (see the module docstring for what differs from upstream)."""

    def __init__(self, server: LeanEngineIOServer, sid: str) -> None:
        # BaseSocket's attributes, without its queue: polling creates one when it needs it.
        self.server = server
        self.sid = sid
        self._queue: asyncio.Queue[Any] | None = None
        self.last_ping: float | None = time.time()
        self.connected = False
        self.upgrading = False
        self.upgraded = False
        self.closing = False
        self.closed = False
        self.session: dict[str, Any] = {}
        self._ws: Any = None  # the WebSocket, once packets go straight to it
        # On the fast protocol path, the session's own writer (``send_text_now``).
        self._write_now: Callable[[str], bool] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._backlog: deque[Any] | None = None  # while a write waits for the client
        self._backlog_bytes = 0
        self._finisher: asyncio.Task[Any] | None = None
        self._close_after_backlog = False
        self._dropped = False  # given up on as a client that does not read
        self._close_when_polled = False  # a polling session refused at CONNECT
        self._environ: dict[str, Any] | None = None  # the WebSocket request's, until it carries the session

    @property
    def queue(self) -> asyncio.Queue[Any]:
        if self._queue is None:
            self._queue = self.server.create_queue()
        return self._queue

    # ---------------------------------------------------------------- heartbeat

    def schedule_ping(self) -> None:
        """On connect, and on each PONG: the next PING after the interval."""
        if self.last_ping:
            self.last_ping = None
            self._arm(self.server.ping_interval, self._ping_due)

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(delay, callback)

    def _ping_due(self) -> None:
        self._timer = None
        if self.closing or self.closed:
            return
        self.last_ping = time.time()
        if self._ws is not None:
            self._write(_PING)
        else:
            self.queue.put_nowait(packet.Packet(packet.PING))
        self._arm(self.server.ping_timeout, self._pong_overdue)

    def _pong_overdue(self) -> None:
        self._timer = None
        if self.last_ping is None or self.closing or self.closed:
            return
        self.server.logger.info("%s: Client is gone, closing socket", self.sid)
        self.server.spawn(self.close(wait=False, abort=False, reason=self.server.reason.PING_TIMEOUT))

    async def check_ping_timeout(self) -> bool:
        """The timers watch the heartbeat; a closed socket still refuses packets."""
        if self.closed:
            raise exceptions.SocketIsClosedError()
        return True

    # ---------------------------------------------------------------- sending

    async def send(self, pkt: packet.Packet) -> None:
        if self.closed:
            raise exceptions.SocketIsClosedError()
        if self._dropped:
            return  # closing: it would not read this either
        if self._ws is not None:
            self._write(pkt.encode())
            return
        queue = self.queue
        if queue.qsize() >= self.server.max_queued_packets:  # a poller that stopped polling
            self._give_up_on_slow_client()
            return
        queue.put_nowait(pkt)

    def send_now(self, text: str) -> bool:
        """``send`` of an encoded text packet when it can be written at once, with no
        coroutine (a broadcast's recipient in turn); False for anything else — not a
        WebSocket on the fast path, closed, closing, behind — and the caller ``send``s."""
        write_now = self._write_now
        return (
            write_now is not None and self._backlog is None and not self.closed and not self._dropped
            and write_now(text)
        )

    def _write(self, data: Any) -> None:
        """Write now; a write that has to wait finishes in a task while later ones queue."""
        backlog = self._backlog
        if backlog is not None:
            self._backlog_bytes += len(data)
            if len(backlog) >= self.server.max_queued_packets or self._backlog_bytes > self.server.max_queued_bytes:
                self._give_up_on_slow_client()
                return
            backlog.append(data)
            return
        write_now = self._write_now
        if write_now is not None and type(data) is str and write_now(data):
            return
        step = self._ws.send(data)
        try:
            waiting_on = step.send(None)
        except StopIteration:
            return
        except Exception:  # the connection is gone; the reading side notices and closes
            return
        self._backlog = deque()
        self._backlog_bytes = 0
        self._finisher = self.server.spawn(self._finish_write(step, waiting_on))

    async def _finish_write(self, step: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        """Drive a suspended write as its task would, then what queued behind it."""
        try:
            while True:
                try:
                    if waiting_on is None:
                        await asyncio.sleep(0)
                    else:
                        await waiting_on
                except BaseException:  # the write sees the outcome when resumed below
                    pass
                try:
                    waiting_on = step.send(None)
                except StopIteration:
                    break
            backlog = self._backlog
            while backlog:
                await self._ws.send(backlog.popleft())
        except Exception:  # the connection is gone; the reading side notices and closes
            pass
        finally:
            self._backlog = None
            self._finisher = None
            if self._close_after_backlog and self._ws is not None:
                await self._ws.close()

    def _give_up_on_slow_client(self) -> None:
        if self._dropped or self.closing or self.closed:
            return
        self._dropped = True
        waiting = len(self._backlog) if self._backlog is not None else self.server.max_queued_packets
        log.warning(
            "socket %s stopped reading (%d packets, %d bytes waiting): disconnecting it", self.sid, waiting, self._backlog_bytes
        )
        if self._finisher is not None:
            self._finisher.cancel()  # lets go of the connection's send lock
        self._backlog = None
        if self._queue is not None:  # what it would never read is freed now
            while not self._queue.empty():
                self._queue.get_nowait()
                self._queue.task_done()
        self.server.spawn(self.terminate(tell=False))

    async def handle_post_request(self, environ: dict[str, Any]) -> None:
        """upstream's, ending the session at once when the body was cut off (upstream's
        server would close it waiting for a poll that will not come, and answer nothing)."""
        try:
            await super().handle_post_request(environ)
        except BodyCutOff:
            await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_ERROR)

    def close_once_polled(self) -> None:
        """A polling session ends once the client has polled what is queued for it (a
        refusal's ``connect_error``): closed by that poll, with a CLOSE after it, rather
        than left to its ping timeout (a client that does not close its side on the
        refusal, as socket.io-client does, would hold a session per attempt for 45 s).
        Nothing queued (a poll already took it): closed now."""
        if self.closing or self.closed:
            return
        if self._queue is None or self._queue.empty():
            self.server.spawn(self.terminate())
            return
        self._close_when_polled = True

    async def poll(self) -> list[packet.Packet]:
        packets: list[packet.Packet] = await super().poll()
        if self._close_when_polled and packets and not (self.closing or self.closed):
            await self.close(wait=False, abort=True, reason=self.server.reason.SERVER_DISCONNECT)
            packets.append(packet.Packet(packet.CLOSE))
        return packets

    async def terminate(self, *, tell: bool = True) -> None:
        """Close the session now, whatever its client does: the disconnect handlers run and
        the connection is closed here (a CLOSE packet first when ``tell``)."""
        ws = self._ws
        await self.close(wait=False, abort=not tell, reason=self.server.reason.SERVER_DISCONNECT)
        if ws is not None and not tell:
            await ws.close()
        elif self._queue is not None:
            self._queue.put_nowait(None)  # ends a pending poll

    # ---------------------------------------------------------------- receiving

    async def receive(self, pkt: packet.Packet) -> None:
        kind = pkt.packet_type
        if kind == packet.MESSAGE:
            await self.server._trigger_event("message", self.sid, pkt.data, run_async=self.server.async_handlers)
        elif kind == packet.PONG:
            self.schedule_ping()
        elif kind == packet.UPGRADE:
            await self.send(_NOOP)
        elif kind == packet.CLOSE:
            await self.close(wait=False, abort=True, reason=self.server.reason.CLIENT_DISCONNECT)
        else:
            raise exceptions.UnknownPacketError()

    async def _upgrade_websocket(self, environ: dict[str, Any]) -> Any:
        self._environ = environ
        return await super()._upgrade_websocket(environ)

    async def _websocket_handler(self, ws: Any) -> None:
        server = self.server
        if self.connected:  # an upgrade from polling: upstream's probe and UPGRADE handshake
            self.upgrading = True
            try:
                probe = packet.Packet(encoded_packet=await ws.wait())
            except OSError:
                self.upgrading = False
                return
            if probe.packet_type != packet.PING or probe.data != "probe":
                server.logger.info("%s: Failed websocket upgrade, no PING packet", self.sid)
                self.upgrading = False
                return
            await ws.send(packet.Packet(packet.PONG, data="probe").encode())
            self.queue.put_nowait(_NOOP)  # ends the pending poll
            try:
                upgrade = packet.Packet(encoded_packet=await ws.wait())
            except OSError:
                self.upgrading = False
                return
            if upgrade.packet_type != packet.UPGRADE:
                server.logger.info("%s: Failed websocket upgrade, expected UPGRADE packet", self.sid)
                self.upgrading = False
                return
            self.upgraded = True
            self.upgrading = False
        else:
            self.connected = True
            self.upgraded = True
        self._take_over(ws)
        if self._environ is not None:
            shrink_environ(self._environ)
            self._environ = None
        while True:
            if self._park(ws):
                return  # served from the connection's callbacks from now on
            try:
                data = await ws.wait()
            except (OSError, asyncio.CancelledError):
                break
            if not await self._on_ws_message(data):
                break
        await self._end_websocket(ws)

    def _park(self, ws: Any) -> bool:
        """On the fast protocol path, once past its handshake turns, the connection reads
        no more in this stack: each message is handled from its ``data_received``."""
        session = _session_of(ws)
        if session is None or not hasattr(ws, "screen"):
            return False
        return session.park(self._on_parked_message, self._on_parked_end, self._pong)

    def _on_parked_message(self, data: str | bytes) -> Coroutine[Any, Any, bool]:
        ws = self._ws
        return self._on_ws_message(None if ws is None else ws.screen(data))

    def _on_parked_end(self, session: WebSocketSession) -> None:
        self.server.spawn(self._end_websocket(self._ws, session))

    def _pong(self, data: str | bytes) -> bool:
        """A PONG, handled at once with no task (what ``receive`` does with one); on a
        closed socket it goes the way of any message, which ends the session."""
        if data != _PONG or self.closed:
            return False
        self.schedule_ping()
        return True

    async def _on_ws_message(self, data: Any) -> bool:
        """One message the client sent (None: an undecodable one); False ends the session."""
        server = self.server
        if data is None or len(data) > server.max_http_buffer_size or self.closed:
            return False  # closed: what the client had already sent is not handled (a flood's rest)
        try:
            if type(data) is str and data[:1] == _MESSAGE and data[1:2].isnumeric():
                # A Socket.IO packet: upstream's decode would make it a Packet whose data
                # is the text after the type (a digit there is never parsed as JSON).
                await server._trigger_event("message", self.sid, data[1:], run_async=server.async_handlers)
            else:
                await self.receive(packet.Packet(encoded_packet=data))
        except exceptions.UnknownPacketError:
            pass
        except exceptions.SocketIsClosedError:
            return False
        except Exception:
            server.logger.exception("Unknown receive error")
        return True

    async def _end_websocket(self, ws: Any, parked: WebSocketSession | None = None) -> None:
        """The client's WebSocket is done: the session closes (its disconnect handlers
        run), and so does the WebSocket; a parked one is then let go of."""
        try:
            await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
            self._ws = None
            self._write_now = None
            if ws is not None:
                await ws.close()
        finally:
            if parked is not None:
                parked.release()

    def _take_over(self, ws: Any) -> None:
        """From now on packets go straight to the WebSocket, after what polling queued."""
        queue, self._queue = self._queue, None
        self._ws = ws
        session = _session_of(ws)
        self._write_now = session.send_text_now if session is not None else None
        while queue is not None and not queue.empty():
            pkt = queue.get_nowait()
            if pkt is not None and pkt is not _NOOP:
                self._write(pkt.encode())

    # ---------------------------------------------------------------- closing

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        if self.closed or self.closing:
            return
        self.closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.server._trigger_event(
            "disconnect", self.sid, reason or self.server.reason.SERVER_DISCONNECT, run_async=False
        )
        if not abort:
            await self.send(packet.Packet(packet.CLOSE))
        self.closed = True
        if self.server.sockets.get(self.sid) is self:
            del self.server.sockets[self.sid]
        ws = self._ws
        if ws is not None and not abort:
            # The client closes on CLOSE; one that does not is closed here.
            if self._backlog is not None:
                self._close_after_backlog = True
            else:
                await ws.close()
        elif wait and self._queue is not None:
            await self._queue.join()


def _session_of(ws: Any) -> WebSocketSession | None:
    """The fast path's session behind an Engine.IO WebSocket (its ASGI ``send`` is the
    session's), or None on any other server."""
    session = getattr(getattr(ws, "asgi_send", None), "__self__", None)
    return session if type(session) is WebSocketSession else None


class LeanEngineIOServer(engineio.AsyncServer):
    """Engine.IO server making ``LeanSocket`` sessions; no service task (timers watch the
    heartbeats), and the message event dispatched without a closure per call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["monitor_clients"] = False
        self.max_queued_packets = kwargs.pop("max_queued_packets", MAX_BACKLOG)
        self.max_queued_bytes = kwargs.pop("max_queued_bytes", MAX_BACKLOG_BYTES)
        super().__init__(*args, **kwargs)
        self._async: dict[str, Any] = {**self._async, "translate_request": translate_request}
        self._spawned: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A short task the server keeps a reference to until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)
        return task

    async def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "message" and not kwargs.get("run_async"):
            handler = self.handlers.get("message")
            if handler is not None:
                try:
                    return await handler(*args)
                except asyncio.CancelledError:
                    return None  # as upstream: a cancelled handler ends quietly
                except Exception:
                    self.logger.exception("message async handler error")
                    return None
        return await super()._trigger_event(event, *args, **kwargs)

    async def _handle_connect(self, environ: dict[str, Any], transport: str, jsonp_index: Any = None) -> Any:
        """upstream ``AsyncServer._handle_connect``, making a ``LeanSocket``."""
        sid = self.generate_id()
        s = LeanSocket(self, sid)
        self.sockets[sid] = s

        pkt = packet.Packet(packet.OPEN, {
            "sid": sid,
            "upgrades": self._upgrades(sid, transport),
            "pingTimeout": int(self.ping_timeout * 1000),
            "pingInterval": int(self.ping_interval + self.ping_interval_grace_period) * 1000,
            "maxPayload": self.max_http_buffer_size,
        })
        await s.send(pkt)

        ret = await self._trigger_event("connect", sid, environ, run_async=False)
        if ret is not None and ret is not True:
            del self.sockets[sid]
            self.logger.warning("Application rejected connection")
            return self._unauthorized(ret or None)

        s.schedule_ping()

        if transport == "websocket":
            ret = await s.handle_get_request(environ)
            if s.closed and sid in self.sockets:
                del self.sockets[sid]
            return ret
        s.connected = True
        headers = None
        if self.cookie:
            if isinstance(self.cookie, dict):
                headers = [("Set-Cookie", self._generate_sid_cookie(sid, self.cookie))]
            else:
                headers = [("Set-Cookie", self._generate_sid_cookie(
                    sid, {"name": self.cookie, "path": "/", "SameSite": "Lax"}))]
        try:
            return self._ok(await s.poll(), headers=headers, jsonp_index=jsonp_index)
        except exceptions.QueueEmpty:
            return self._bad_request()
