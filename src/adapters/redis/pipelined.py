"""The Redis connection the socket events use: one connection, every command written
as soon as the event loop is free, replies matched in order (Redis answers in order).

Why not redis-py's client for these: each of its commands borrows a pooled connection
(a condition, a wait with a timeout, a pid check), writes alone and reads alone under a
timeout of its own — about a tenth of a millisecond of Python per command, and one write
and one read per command. A connect storm, 2000 sockets closing together or 500 updates
a second then cost thousands of writes a second. Here the commands issued during one
turn of the event loop leave in one write (as ioredis does for the Node peers), parsing is
hiredis's, and a publish nobody waits for costs a buffered write and no await. Sweeps,
pipelines, pub/sub and scripts loading stay on redis-py.

Behind Sentinel (a ``redis+sentinel://`` URL) each new connection goes to the primary the
sentinels name then (``sentinel.py``).

Failure handling keeps the store's contract: errors are redis-py's exceptions (so the
store turns them into ``Unavailable``); a reply overdue by ``reply_timeout`` drops the
connection and fails what waits on it (a frozen Redis, a vanished peer), and trips the
circuit; a command that met a dropped connection is sent once more on a new one, as
redis-py's default retry does; while the circuit is open nothing is sent.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.asyncio.connection import SSLConnection, parse_url
from redis.exceptions import ConnectionError, NoScriptError, ResponseError, TimeoutError

from .circuit import RedisCircuit
from .sentinel import Locator, SentinelMaster, sentinel_address

log = logging.getLogger(__name__)

_pack = hiredis.pack_command
_ASKING = _pack(("ASKING",))


class _Protocol(asyncio.Protocol):
    """One connection's bytes: what to write this turn, and who waits for which reply."""

    def __init__(self, owner: PipelinedRedis) -> None:
        self._owner = owner
        self._loop = asyncio.get_running_loop()
        self._reader = hiredis.Reader(encoding=owner.encoding, replyError=ResponseError)
        self._transport: asyncio.Transport | None = None
        self._out: list[bytes] = []
        self._waiting: deque[asyncio.Future[Any] | None] = deque()  # None: nobody waits (publish)
        self._replies = 0  # replies read so far: the watchdog's sign of progress
        self._watched_at = -1
        self._watchdog: asyncio.TimerHandle | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def send(self, packed: bytes, waiter: asyncio.Future[Any] | None) -> None:
        if not self._out:
            self._loop.call_soon(self._flush)
        self._out.append(packed)
        self._waiting.append(waiter)
        if self._watchdog is None:
            self._arm()

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self._transport is not None and self.lost is None:
            self._transport.write(out[0] if len(out) == 1 else b"".join(out))

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        waiting = self._waiting
        while True:
            reply = reader.gets()
            if reply is False:
                return
            self._replies += 1
            waiter = waiting.popleft() if waiting else None
            if waiter is None:
                if isinstance(reply, ResponseError):
                    if self._demoted(reply, None):
                        return
                    self._owner.unanswered_error(reply)
            elif not waiter.done():
                if isinstance(reply, ResponseError):
                    if self._demoted(reply, waiter):
                        return
                    waiter.set_exception(_error(reply))
                else:
                    waiter.set_result(reply)

    def _demoted(self, reply: ResponseError, waiter: asyncio.Future[Any] | None) -> bool:
        """A primary demoted under this connection (``READONLY``): the command was not run,
        so it is sent once more on a new connection, to the primary found then."""
        if not str(reply).startswith("READONLY"):
            return False
        if waiter is not None:
            waiter.set_exception(_Lost(ConnectionError(f"Redis is a replica now: {reply}")))
        self.abort(ConnectionError("Redis is a replica now"))
        return True

    def _arm(self) -> None:
        self._watched_at = self._replies
        self._watchdog = self._loop.call_later(self._owner.reply_timeout, self._watch)

    def _watch(self) -> None:
        self._watchdog = None
        if not self._waiting:
            return
        if self._replies == self._watched_at:
            self.abort(TimeoutError(f"no reply from Redis within {self._owner.reply_timeout:g}s"))
            return
        self._arm()

    def abort(self, error: BaseException) -> None:
        if self._transport is not None:
            self._transport.abort()
        self.connection_lost(error)

    def connection_lost(self, exc: Exception | BaseException | None) -> None:
        if self.lost is not None:
            return
        self.lost = exc if isinstance(exc, (ConnectionError, TimeoutError)) else ConnectionError(
            f"connection to Redis lost: {exc!r}" if exc else "connection to Redis closed"
        )
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        waiting, self._waiting = self._waiting, deque()
        # A command whose reply never came is not sent again: Redis may be stuck on it.
        failure = self.lost if isinstance(self.lost, TimeoutError) else _Lost(self.lost)
        for waiter in waiting:
            if waiter is not None and not waiter.done():
                waiter.set_exception(failure)
        self._owner.forget(self)


class _Lost(Exception):
    """A command met a dropped connection: it may be sent once more."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _error(reply: ResponseError) -> ResponseError:
    message = str(reply)
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    return ResponseError(message)


class PipelinedRedis:
    """A client for the socket events' commands; ``evalsha`` and ``publish_nowait``."""

    PUBLISH = "PUBLISH"  # the command ``publish_nowait`` sends (a cluster's shards: SPUBLISH)

    def __init__(
        self,
        url: str,
        *,
        circuit: RedisCircuit | None = None,
        reply_timeout: float = 2.0,
        connect_timeout: float = 2.0,
        decode_responses: bool = True,
    ) -> None:
        sentinel = sentinel_address(url)
        self._master: Locator | None = None if sentinel is None else SentinelMaster(sentinel, timeout=connect_timeout)
        options: dict[str, Any] = dict(parse_url(url)) if sentinel is None else {
            "username": sentinel.username, "password": sentinel.password, "db": sentinel.db,
        }
        self._path: str | None = options.get("path")
        self._host = options.get("host", "localhost")
        self._port = int(options.get("port", 6379))
        self._ssl = options.get("connection_class") is SSLConnection
        self._auth: tuple[str, ...] = ()
        if options.get("password") is not None:
            username = options.get("username")
            self._auth = (username, options["password"]) if username else (options["password"],)
        self._db = int(options.get("db") or 0)
        self.encoding = "utf-8" if decode_responses else None
        self.reply_timeout = reply_timeout
        self._connect_timeout = connect_timeout
        self._circuit = circuit
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._sources: dict[str, str] = {}  # sha → script, to load it again after a restart
        self.unanswered_errors = 0

    # ---------------------------------------------------------------- commands

    async def execute(self, *args: Any) -> Any:
        packed = _pack(args)
        try:
            return await self._send(packed)
        except _Lost:
            try:
                return await self._send(packed)  # once more, on a new connection
            except _Lost as lost:
                raise lost.cause from None

    async def evalsha(self, sha: str, source: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """EVALSHA; a Redis that lost its scripts (restarted) is given this one again."""
        try:
            return await self.execute("EVALSHA", sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.execute("SCRIPT", "LOAD", source)
            return await self.execute("EVALSHA", sha, len(keys), *keys, *args)

    async def execute_asking(self, *args: Any) -> Any:
        """ASKING, then the command, in one write on one connection: how a Redis Cluster
        node is asked about a slot it is importing (its reply to ASKING is OK)."""
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._connection()
        asked = asyncio.get_running_loop().create_future()
        waiter = asyncio.get_running_loop().create_future()
        protocol.send(_ASKING, asked)
        protocol.send(_pack(args), waiter)
        try:
            try:
                await asked
            except ResponseError:
                pass  # the command's own reply says what went wrong
            return await waiter
        except _Lost as lost:
            raise lost.cause from None

    def send_nowait(self, *args: Any) -> bool:
        """A command written with this turn's other commands, its reply not awaited (an
        error reply is counted and logged); False when no connection is open to write it on."""
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            return False
        protocol.send(_pack(args), None)
        return True

    def publish_nowait(self, channel: str, message: bytes | str) -> None:
        """PUBLISH, written with this turn's other commands; its reply is not awaited. A
        publish that cannot be sent is lost, as a publish during an outage is anyway."""
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            if self._circuit is not None and self._circuit.is_open:
                return
            asyncio.get_running_loop().create_task(self._publish_later(channel, message))
            return
        protocol.send(_pack((self.PUBLISH, channel, message)), None)  # type: ignore[arg-type]  # hiredis stub: a 1-tuple

    async def _publish_later(self, channel: str, message: bytes | str) -> None:
        try:
            await self.execute(self.PUBLISH, channel, message)
        except Exception as error:  # nobody waits for it: say so, once per outage (circuit)
            log.debug("publish on %s lost: %r", channel, error)

    def unanswered_error(self, reply: ResponseError) -> None:
        self.unanswered_errors += 1
        if self.unanswered_errors in (1, 10, 100) or self.unanswered_errors % 1000 == 0:
            log.warning("Redis refused a publish (%d so far): %s", self.unanswered_errors, reply)

    async def _send(self, packed: bytes) -> Any:
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._connection()
        waiter = asyncio.get_running_loop().create_future()
        protocol.send(packed, waiter)
        return await waiter

    # ---------------------------------------------------------------- connection

    async def _connection(self) -> _Protocol:
        if self._circuit is not None:
            self._circuit.check()
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_future()
            connecting = self._connecting
            try:
                protocol = await asyncio.wait_for(self._connect(), self._connect_timeout)
            except BaseException as error:
                self._connecting = None
                failure = error if isinstance(error, ConnectionError) else ConnectionError(
                    f"cannot connect to Redis: {error!r}"
                )
                if not connecting.done():
                    connecting.set_exception(failure)
                    connecting.exception()  # retrieved: the waiters, if any, raise it themselves
                if isinstance(error, asyncio.CancelledError):
                    raise
                if self._circuit is not None:
                    self._circuit.trip(f"ConnectionError: {failure}")
                raise failure from None
            self._connecting = None
            self._protocol = protocol
            connecting.set_result(protocol)
            return protocol
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        if self._path is not None:
            _, protocol = await loop.create_unix_connection(lambda: _Protocol(self), self._path)
        else:
            if self._master is not None:
                self._host, self._port = await self._master.locate()
            context = ssl_module.create_default_context() if self._ssl else None
            _, protocol = await loop.create_connection(lambda: _Protocol(self), self._host, self._port, ssl=context)
        for command in self._handshake():
            waiter = loop.create_future()
            protocol.send(_pack(command), waiter)
            await waiter
        return protocol

    def _handshake(self) -> list[tuple[Any, ...]]:
        commands: list[tuple[Any, ...]] = [("CLIENT", "SETNAME", "presence-gateway-events")]
        if self._auth:
            commands.insert(0, ("AUTH", *self._auth))
        if self._db:
            commands.append(("SELECT", self._db))
        return commands

    def forget(self, protocol: _Protocol) -> None:
        if self._protocol is protocol:
            self._protocol = None
            if self._circuit is not None and isinstance(protocol.lost, TimeoutError):
                self._circuit.trip(f"TimeoutError: {protocol.lost}")

    async def aclose(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.lost is None:
            protocol.abort(ConnectionError("client closed"))
