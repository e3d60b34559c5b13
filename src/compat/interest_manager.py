"""Routing by interest for the Redis managers (``socketio_redis_manager.py``,
``socketio_cluster_manager.py``): a change of user X reaches only the instances where a
socket is in one of X's rooms (its own sockets, its watchers), as socket.io's sharded
adapter does in its dynamic mode and Centrifugo does per channel.

- Each user has a channel (named by the adapters: on a cluster in the slot of the user's
  keys). An instance subscribes to it while one of its sockets is in a room of that user
  and unsubscribes when the last one leaves; an emit to the rooms of one user is published
  on that user's channel only. Anything else (a room of no user, rooms of several) still
  goes to the instance-wide channel, which every instance keeps.
- Entering a room returns once Redis confirmed the subscription: a subscription reads
  its snapshot after entering, so a change the snapshot misses was made after the
  subscription, and is delivered (docs/scaling.md, "Routing by interest").
- Only the listener touches the pub/sub connection: subscriptions wait for it between two
  reads, which are short (``POLL``) so that a subscription waits little. redis-py's
  cluster pub/sub holds a node's connection for a whole read; a subscribe sent from
  another task would wait for it, channel by channel.
- Instances of an earlier version publish every change on the instance-wide channel and
  hear nothing else: with ``by_interest`` off, an instance publishes as they do (and still
  subscribes by interest, so it hears both kinds), which lets a fleet be upgraded in two
  rolling steps.
- When an instance dies, its connection closes and Redis forgets its subscriptions:
  nothing to clean. After a lost connection the listener subscribes again to everything
  the instance's rooms still need.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import anyio

from .socketio_cluster_manager import ClusterRedisManager
from .socketio_redis_manager import PooledRedisManager

log = logging.getLogger(__name__)

# Channels per SUBSCRIBE: a reconnect storm's subscriptions leave in commands of this size.
CHUNK = 1000
# A subscription not confirmed by then is given up on: the socket is served without the
# guarantee (Redis is away, and the listener says so) rather than left waiting.
CONFIRM_WAIT = 2.0


class _Awaited:
    __slots__ = ("left", "done")

    def __init__(self, channels: Iterable[str]) -> None:
        self.left = set(channels)
        self.done = anyio.Event()


class InterestRouting(PooledRedisManager):
    """What both topologies share; they differ in the commands (``_send``)."""

    POLL = 0.02
    SUBSCRIBED = "subscribe"
    SUBSCRIBE, UNSUBSCRIBE = "subscribe", "unsubscribe"

    def __init__(
        self,
        *args: Any,
        user_of_room: Callable[[str], str | None],
        rooms_of_user: Callable[[str], Sequence[str]],
        channel_of: Callable[[str], str],
        by_interest: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._by_interest = by_interest  # off: publish on the instance-wide channel, as before
        self._user_of_room = user_of_room
        self._rooms_of_user = rooms_of_user
        self._channel_of = channel_of
        self._interest: dict[str, str] = {}  # user id → their channel, while rooms need it
        self._heard: set[bytes] = set()  # the channels of ``_interest``, as messages name them
        self._live: set[str] = set()  # confirmed on the listener's current connection
        self._to_subscribe: dict[str, None] = {}
        self._to_unsubscribe: dict[str, bool] = {}  # → whether it was confirmed
        self._leaving: dict[str, int] = {}  # unsubscribes sent, not yet confirmed
        self._waiting: dict[str, list[_Awaited]] = {}
        self._sending = anyio.Lock()  # an UNSUBSCRIBE and a SUBSCRIBE of one channel keep their order
        self.unconfirmed = 0  # subscriptions served without their confirmation (metrics)

    @property
    def channels(self) -> int:
        """Users' channels Redis delivers to this instance: those its rooms need, and those
        left but not yet confirmed unsubscribed (``/metrics``)."""
        return len(self._interest) + len(self._to_unsubscribe) + len(self._leaving)

    # ------------------------------------------------------------ rooms → subscriptions

    async def enter_room(self, sid: str, namespace: str, room: str, eio_sid: str | None = None) -> None:
        await self.enter_rooms(sid, namespace, [room], eio_sid)

    async def enter_rooms(self, sid: str, namespace: str, rooms: Sequence[str], eio_sid: str | None = None) -> None:
        """Enter every room, then wait once for the new channels' confirmations."""
        if not (self.is_connected(sid, namespace) or self.is_pre_connected(sid, namespace)):
            for room in rooms:  # upstream's: the instance holding the socket is told
                await super().enter_room(sid, namespace, room, eio_sid=eio_sid)
            return
        needed = []
        for room in rooms:
            self.basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
            user = self._user_of_room(room) if isinstance(room, str) else None
            channel = self._interest.get(user) if user is not None else None
            if channel is not None and channel not in self._live:
                needed.append(channel)
        if needed and self.subscribed:  # else the listener subscribes to them all once back
            await self._confirmed(needed)

    def basic_enter_room(self, sid: str, namespace: str, room: str, eio_sid: str | None = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)  # also another instance's ask
        user = self._user_of_room(room) if isinstance(room, str) else None
        if user is None or user in self._interest:
            return
        channel = self._interest[user] = self._channel_of(user)
        self._heard.add(channel.encode())
        if channel in self._to_unsubscribe:  # not sent yet: still subscribed
            if self._to_unsubscribe.pop(channel):
                self._live.add(channel)
            return
        self._to_subscribe[channel] = None

    def basic_leave_room(self, sid: str, namespace: str, room: str) -> None:
        super().basic_leave_room(sid, namespace, room)  # also how a socket's disconnect leaves
        user = self._user_of_room(room) if isinstance(room, str) else None  # None: the namespace's
        if user is None or user not in self._interest:
            return
        if any(r in rooms for rooms in self.rooms.values() for r in self._rooms_of_user(user)):
            return
        channel = self._interest.pop(user)
        self._heard.discard(channel.encode())
        for awaited in self._waiting.pop(channel, ()):  # nobody left to wait for it
            self._settle(awaited, channel)
        if channel in self._to_subscribe:
            del self._to_subscribe[channel]  # never sent
            return
        self._to_unsubscribe[channel] = channel in self._live
        self._live.discard(channel)

    async def _confirmed(self, channels: list[str]) -> None:
        awaited = _Awaited(channels)
        for channel in channels:  # before sending: a confirmation may come while it is sent
            self._waiting.setdefault(channel, []).append(awaited)
        if self.SEND_FROM_CALLER:
            await self._flush_now()
        with anyio.move_on_after(CONFIRM_WAIT):
            await awaited.done.wait()
        if awaited.left:
            self.unconfirmed += 1
            log.warning("%d subscriptions not confirmed within %gs: served without them", len(awaited.left), CONFIRM_WAIT)
            for channel in awaited.left:
                waiters = self._waiting.get(channel)
                if waiters and awaited in waiters:
                    waiters.remove(awaited)

    @staticmethod
    def _settle(awaited: _Awaited, channel: str) -> None:
        awaited.left.discard(channel)
        if not awaited.left:
            awaited.done.set()

    # ------------------------------------------------------------ the listener's side

    async def _subscribe(self, pubsub: Any) -> None:
        """A new connection: the instance-wide channel, then every channel the rooms need."""
        await super()._subscribe(pubsub)
        self._live.clear()
        self._leaving.clear()
        self._to_subscribe.clear()
        self._to_unsubscribe.clear()
        await self._send(pubsub, self.SUBSCRIBE, list(self._interest.values()))

    # Whether a subscription is sent by the task that needs it (one round trip) rather
    # than by the listener between two reads (up to POLL later).
    SEND_FROM_CALLER = False

    async def _flush_now(self) -> None:
        pubsub = self.pubsub
        try:
            await self._between_polls(pubsub)
        except Exception as error:  # the connection is going: the listener subscribes again
            log.debug("subscription not sent (%r): the listener sends it", error)

    async def _between_polls(self, pubsub: Any) -> None:
        async with self._sending:
            await self._flush(pubsub)

    async def _flush(self, pubsub: Any) -> None:
        if self._to_unsubscribe:
            channels = list(self._to_unsubscribe)
            self._to_unsubscribe.clear()
            for channel in channels:
                self._leaving[channel] = self._leaving.get(channel, 0) + 1
            await self._send(pubsub, self.UNSUBSCRIBE, channels)
        if self._to_subscribe:
            channels = list(self._to_subscribe)
            self._to_subscribe.clear()
            await self._send(pubsub, self.SUBSCRIBE, channels)

    async def _send(self, pubsub: Any, command: str, channels: list[str]) -> None:
        for start in range(0, len(channels), CHUNK):
            await getattr(pubsub, command)(*channels[start : start + CHUNK])

    def _expected(self, message: dict[str, Any]) -> bool:
        kind, channel = message["type"], message["channel"]
        if kind not in (self.SUBSCRIBED, self.UNSUBSCRIBED) or channel is None:
            return False  # a pong, say
        if isinstance(channel, str):
            channel = channel.encode()
        name = channel.decode()
        if kind == self.SUBSCRIBED:
            if channel in self._heard:
                self._live.add(name)
            for awaited in self._waiting.pop(name, ()):
                self._settle(awaited, name)
            return True
        if kind == self.UNSUBSCRIBED and name in self._leaving:
            left = self._leaving[name] - 1
            if left:
                self._leaving[name] = left
            else:
                del self._leaving[name]
            return True
        return False

    def _lost(self, reason: str) -> None:
        self._live.clear()
        super()._lost(reason)

    def _heard_on(self, channel: bytes) -> bool:
        return channel == self._channel_bytes or channel in self._heard

    # ------------------------------------------------------------ emits → channels

    async def _publish(self, data: Any) -> None:
        assert self._events is not None  # the routed managers are always given one
        channel = self._route(data.get("room")) if self._by_interest else self.channel
        self._events.publish_nowait(channel, self.json.dumps(data))

    def _route(self, room: Any) -> str:
        """The one user's channel when every room is that user's; else everyone's."""
        rooms = (room,) if isinstance(room, str) else room or ()
        users = {self._user_of_room(r) for r in rooms if isinstance(r, str)}
        if len(users) == 1 and len(rooms) == sum(isinstance(r, str) for r in rooms):
            (user,) = users
            if user is not None:
                return self._channel_of(user)
        return self.channel


class InterestRedisManager(InterestRouting):
    """One Redis, or one behind Sentinel: SUBSCRIBE, sent at once (redis-py's pub/sub takes
    no lock for a read), its confirmations read by the listener."""

    SEND_FROM_CALLER = True

    def _new_pubsub(self) -> Any:
        return self.redis.pubsub(ignore_subscribe_messages=False)


class InterestClusterManager(InterestRouting, ClusterRedisManager):
    """A Redis Cluster: each user's channel is sharded on the slot of the user's keys."""

    SUBSCRIBED = "ssubscribe"
    SUBSCRIBE, UNSUBSCRIBE = "ssubscribe", "sunsubscribe"
