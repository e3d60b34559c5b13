"""Replaces parts of python-socketio 5.18.1's ``socketio.AsyncRedisManager`` (and of
``AsyncPubSubManager``): the gateway's cross-instance emits on its own Redis client, with a
listener that cannot go deaf.

What upstream 5.18.1 does, and what is done here instead:

- The client. ``_redis_connect`` builds a client with ``Redis.from_url`` (redis-py's
  default pool, which raises once its 100 connections are busy; the emit is then dropped
  after two tries) and builds a new one, without closing the old, each time the listener
  or a publish reconnects. Here: one client for the manager's lifetime, given to it
  (``adapters/redis/client.py`` ``pubsub_client``: the store's pool settings and circuit,
  bytes); the pool reconnects by itself.
- The listener's retries. ``_redis_listen_with_retries`` waits 1, 2, 4 … 60 s between
  attempts, so after a long outage cross-instance emits stay lost for up to a minute, and
  ``pubsub.listen()`` waits on a connection dropped without a reset for ever. Here: at most
  ``RETRY_MAX``, at once when the circuit sees Redis answer again; the broken pub/sub
  connection is closed; a quiet connection is asked for a PING and replaced if it does not
  answer.
- Who runs the listener. ``AsyncPubSubManager.initialize`` starts ``_thread`` with
  ``start_background_task`` (a bare task); if its loop ever ends, the instance stays up and
  deaf, silently. Here it runs under the gateway's supervisor (``run``): an end is logged
  and the loop restarted, and ``subscribed`` tells ``/readyz``.
- Emits. ``AsyncPubSubManager.emit`` publishes every emit, even to one socket of this
  instance (``pong``, ``error``, ``connected``), which no other instance could deliver and
  an outage must not delay: those are delivered here only. The others are delivered here
  at once, encoded once and without a task per recipient (``lean_manager.py``), then
  published without awaiting Redis's reply (``Publishes``: the adapters' pipelined
  connection); this instance drops its own emits when they come back, before decoding.

Redis reaches this module only through what it is given: the pub/sub client, a
``Publishes`` and a ``Circuit`` (the ports below, implemented in ``adapters/redis``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

import anyio
import socketio
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError
from socketio.async_pubsub_manager import AsyncPubSubManager

from ..domain.outages import Backoff, Outage
from .lean_manager import LeanEmits, encode_event

log = logging.getLogger(__name__)


class Publishes(Protocol):
    """Where emits leave without awaiting Redis's reply (the adapters' pipelined
    connection, or on a cluster the shard publisher)."""

    def publish_nowait(self, channel: str, message: bytes | str) -> None: ...


class Circuit(Protocol):
    """Whether Redis is known to be down, and a wait until it answers again (the adapters'
    ``RedisCircuit``)."""

    @property
    def is_open(self) -> bool: ...

    async def wait_closed(self, timeout: float) -> None: ...

    def trip(self, reason: str) -> None: ...

RETRY_INITIAL = 0.1
RETRY_MAX = 2.0
# The listener reads with this timeout, asks for a PING after PING_AFTER of silence and
# gives the connection up after DEAD_AFTER without a word.
POLL = 1.0
PING_AFTER = 5.0
DEAD_AFTER = 10.0
RESTART_DELAY = 1.0
FIRST_SUBSCRIBE_WAIT = 5.0




class PooledRedisManager(socketio.AsyncRedisManager, LeanEmits):
    redis: Any  # upstream's client attribute, made here by ``_redis_connect``

    def __init__(
        self,
        client: Redis,
        *,
        channel: str,
        circuit: Circuit | None = None,
        events: Publishes | None = None,
    ) -> None:
        super().__init__(channel=channel)
        self._client = client
        self._channel_bytes = channel.encode()
        self._events = events
        self._circuit = circuit
        self.subscribed = False
        self._unsubscribed = Outage()  # since: the monotonic time the listener lost Redis
        self._tried: anyio.Event | None = None
        self.messages_in = self.messages_out = 0  # pub/sub messages, read by the metrics

    def initialize(self) -> None:
        # Everything upstream does at initialisation except starting the listener as a
        # bare task: ``run`` is the listener, started by the gateway's supervisor.
        super(AsyncPubSubManager, self).initialize()

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen for the other instances' emits for as long as the gateway serves; ready
        once the first subscription was tried, so the instance hears them from the start."""
        self._tried = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._listen_for_ever)
            with anyio.move_on_after(FIRST_SUBSCRIBE_WAIT):
                await self._tried.wait()
            task_status.started()

    async def _listen_for_ever(self) -> None:
        while True:
            await self._thread()  # upstream's dispatch loop; it returns only if it broke
            await anyio.lowlevel.checkpoint()  # it also returns when cancelled: stop here then
            self._lost("python-socketio's listener loop ended")
            log.error("the Redis listener stopped; restarting it in %gs", RESTART_DELAY)
            await anyio.sleep(RESTART_DELAY)

    def _redis_connect(self) -> None:
        self.redis = self._client
        self.connected = True

    async def _redis_listen_with_retries(self) -> AsyncIterator[dict[str, Any]]:
        backoff = Backoff(RETRY_INITIAL, self.RETRY_MAX)
        while True:
            self._redis_connect()
            pubsub = self.pubsub = self._new_pubsub()
            try:
                try:
                    await self._subscribe(pubsub)
                finally:
                    if self._tried is not None:
                        self._tried.set()
                self._found()
                backoff.reset()
                async for message in self._alive(pubsub):
                    yield message
            except Exception as error:  # as upstream: any failure means subscribe again
                self._lost(f"{type(error).__name__}: {error}")
                if self._circuit is not None and isinstance(error, ConnectionError):
                    # Redis closed the connection (stopped, restarted): the first to know,
                    # before any command would; held pings wait only while it is closed.
                    self._circuit.trip(f"the pub/sub connection: {error}")
            finally:
                with anyio.CancelScope(shield=True):
                    await pubsub.aclose()
            await self._after_loss()
            delay = backoff.next()
            if self._circuit is not None and self._circuit.is_open:
                await self._circuit.wait_closed(delay)  # Redis is down: go as soon as it answers
            else:
                await anyio.sleep(delay)

    RETRY_MAX = RETRY_MAX
    # What differs on a cluster's sharded channels (cluster_socketio_manager.py).
    MESSAGE = "message"  # the type of a published message
    UNSUBSCRIBED = "unsubscribe"  # Redis ended the subscription: subscribe again

    def _new_pubsub(self) -> Any:
        return self.redis.pubsub(ignore_subscribe_messages=True)

    async def _subscribe(self, pubsub: Any) -> None:
        await pubsub.subscribe(self.channel)

    async def _get_message(self, pubsub: Any, timeout: float) -> dict[str, Any] | None:
        return await pubsub.get_message(timeout=timeout)

    async def _ping(self, pubsub: Any) -> None:
        await pubsub.ping()

    async def _after_loss(self) -> None:
        """Before subscribing again."""

    # Hooks of the routing by interest (interest_manager.py): how long one read waits,
    # what runs between two reads, and which subscription replies are expected.
    POLL = POLL

    async def _between_polls(self, pubsub: Any) -> None:
        """Between two reads of the listener, which alone reads the connection."""

    def _expected(self, message: dict[str, Any]) -> bool:
        """Whether a reply other than a message is one this manager asked for."""
        return False

    def _heard_on(self, channel: bytes) -> bool:
        return channel == self._channel_bytes

    async def _alive(self, pubsub: PubSub) -> AsyncIterator[dict[str, Any]]:
        heard = time.monotonic()
        asked = False
        while True:
            await self._between_polls(pubsub)
            message = await self._get_message(pubsub, self.POLL)
            now = time.monotonic()
            if message is not None:
                heard, asked = now, False
                if message["type"] == self.MESSAGE:
                    self.messages_in += 1
                    yield message
                elif self._expected(message):
                    pass
                elif message["type"] == self.UNSUBSCRIBED:
                    raise ConnectionError(f"Redis ended the subscription to {message['channel']!r}")
                continue
            if now - heard >= DEAD_AFTER:
                raise ConnectionError(f"no answer on the pub/sub connection for {now - heard:.0f}s")
            if now - heard >= PING_AFTER and not asked:
                await self._ping(pubsub)
                asked = True

    def _found(self) -> None:
        if self._unsubscribed.recovered():
            log.warning(
                "the Redis listener is subscribed to %r again after %.1fs",
                self.channel, time.monotonic() - self._unsubscribed.since,
            )
        self.subscribed = True

    def _lost(self, reason: str) -> None:
        if self._unsubscribed.failed(time.monotonic()):
            log.warning(
                "the Redis listener is not subscribed (%s): emits from other instances are missed until it is", reason
            )
        self.subscribed = False

    async def _publish(self, data: Any) -> None:
        if self._events is None:
            await super()._publish(data)
            return
        # Written with this turn's other commands, not awaited: this instance's sockets were
        # served before the publish (upstream's order), and upstream drops a publish that
        # fails twice during an outage, as this does at once.
        self._events.publish_nowait(self.channel, self.json.dumps(data))

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        """Deliver to this instance's sockets at once (one encoding, no task per
        recipient: ``lean_manager.py``), then publish for the others — unless the room is
        one socket of this instance, which nobody else could deliver to."""
        room = to or room
        namespace = namespace or "/"
        if callback is not None:
            await super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid, callback=callback)
            return
        try:
            pkt = encode_event(namespace, event, data)
        except TypeError:  # binary attachments: upstream's path
            await super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid)
            return
        if namespace in self.rooms:
            await self.deliver(pkt, namespace, room, skip_sid, event, data)
        if kwargs.get("ignore_queue") or (
            isinstance(room, str) and (self.is_connected(room, namespace) or self.is_pre_connected(room, namespace))
        ):
            return
        # Upstream's message, so that any python-socketio instance on the channel reads it.
        self.messages_out += 1
        await self._publish({
            "method": "emit", "event": event, "data": list(data) if isinstance(data, tuple) else [data],
            "binary": False, "namespace": namespace, "room": room, "skip_sid": skip_sid, "callback": None,
            "host_id": self.host_id,
        })

    async def _listen(self) -> AsyncIterator[bytes]:
        """Upstream's, except that this instance's own emits (delivered here already) are
        dropped before they are decoded."""
        own_emit = b'{"method":"emit"'
        own_host = b'"host_id":"' + self.host_id.encode() + b'"'
        kind = self.MESSAGE
        async for message in self._redis_listen_with_retries():
            if message["type"] == kind and "data" in message and self._heard_on(message["channel"]):
                data = message["data"]
                if data.startswith(own_emit) and own_host in data:
                    continue
                yield data
