"""Publishes on a Redis Cluster's sharded channels: each message to the one primary that
owns the channel's slot (``SPUBLISH``), not to every node as a cluster's ``PUBLISH`` is.

It is ``PipelinedRedis.publish_nowait`` per shard: the channel's owner is looked up once,
then each publish is a buffered write on a connection to that primary, not awaited — the
same cost as on a single Redis. The lookup uses redis-py's cluster client (the slot map);
the writes use ``PipelinedRedis``.

When the owner goes away — its connection drops, or it answers ``MOVED`` (the slot moved)
— the route is forgotten and one task looks the owner up again, refreshing the slot map
until a primary for the slot answers (after a failover, once the replica is promoted).
Meanwhile publishes are held, up to ``MAX_HELD``, and sent in order once the new owner
answers (beyond that bound new ones are dropped and counted). They reach the listeners
already subscribed to the new owner; the others' listeners, which lost the same node, are
usually subscribing again at that moment and miss them (docs/redis.md: the gap).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from .client import create_redis_cluster
from .cluster_url import parse_cluster_url
from .pipelined import PipelinedRedis

log = logging.getLogger(__name__)

MAX_HELD = 10_000
RETRY_INITIAL = 0.05
RETRY_MAX = 1.0
# How long an instance starting keeps looking up its channels' owners before it serves.
PREPARE_WAIT = 4.0


def route_of(channel: str) -> str:
    """A name in the channel's slot, shared by every channel of that slot: a channel that
    starts with a hash tag (``{b7}socketio:user:42``, a user's channel) routes as its tag,
    so a fleet's per-user channels need one lookup per bucket, not one per user."""
    if channel.startswith("{"):
        end = channel.find("}", 1)
        if end > 1:
            return channel[: end + 1]
    return channel


class _ShardLink(PipelinedRedis):
    """The connection to one primary; tells the publisher when its routes are wrong."""

    PUBLISH = "SPUBLISH"

    def __init__(
        self, publisher: ShardPublisher, host: str, port: int, *,
        username: str | None, password: str | None, ssl: bool, **options: Any,
    ) -> None:
        auth = f"{quote(username or '', safe='')}:{quote(password, safe='')}@" if password is not None else ""
        super().__init__(f"{'rediss' if ssl else 'redis'}://{auth}{host}:{port}/0", **options)
        self._publisher = publisher

    def forget(self, protocol: Any) -> None:
        super().forget(protocol)
        self._publisher.lost(self, "connection lost", broken=True)

    def unanswered_error(self, reply: ResponseError) -> None:
        if str(reply).startswith(("MOVED", "ASK", "CLUSTERDOWN", "TRYAGAIN")):
            self._publisher.lost(self, str(reply), broken=False)
            return
        super().unanswered_error(reply)


class ShardPublisher:
    def __init__(
        self, url: str, *, channels: Sequence[str] = (), reply_timeout: float = 2.0, connect_timeout: float = 1.0
    ) -> None:
        self._url = url
        self._channels = channels  # looked up by ``prepare``, before the gateway serves
        self._options: dict[str, Any] = {"reply_timeout": reply_timeout, "connect_timeout": connect_timeout}
        address = parse_cluster_url(url)
        self._auth: dict[str, Any] = {"username": address.username, "password": address.password, "ssl": address.tls}
        self._cluster: RedisCluster | None = None
        self._routes: dict[str, _ShardLink] = {}  # route (route_of) → its primary's connection
        self._links: dict[str, _ShardLink] = {}  # "host:port" → connection
        self._held: deque[tuple[str, Any]] = deque()
        self._resolving: asyncio.Task[None] | None = None
        self._lost_at: float | None = None
        self.dropped = 0  # publishes beyond MAX_HELD while no owner answered
        self.reroutes = 0

    @property
    def held(self) -> int:
        """Publishes waiting for their channel's owner to be found."""
        return len(self._held)

    def publish_nowait(self, channel: str, message: bytes | str) -> None:
        link = self._routes.get(route_of(channel))
        if link is not None:
            link.publish_nowait(channel, message)
            return
        if len(self._held) >= MAX_HELD:
            self.dropped += 1
            return
        self._held.append((channel, message))
        if self._resolving is None:
            self._resolving = asyncio.get_running_loop().create_task(self._resolve(), name="presence-shard-routes")

    async def prepare(self, wait: float = PREPARE_WAIT) -> None:
        """Find the owners of the known channels now, trying again for up to ``wait``
        seconds: a first publish held while its owner is looked up reaches sockets that
        joined the room after it was sent (a tab opened on another instance just after a
        change would hear that change as news). A cluster slow to answer one lookup at
        start (its connect timeout under load) must not open that window."""
        deadline = asyncio.get_running_loop().time() + wait
        delay = RETRY_INITIAL
        while True:
            try:
                await self._route({route_of(channel) for channel in self._channels})
                return
            except Exception as error:  # the cluster is not answering (yet)
                if asyncio.get_running_loop().time() + delay > deadline:
                    log.warning("sharded channel owners not found at start (%r); publishes wait for them", error)
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    def lost(self, link: _ShardLink, reason: str, *, broken: bool) -> None:
        """A route through ``link`` failed: look the owners up again on the next publish."""
        stale = [channel for channel, through in self._routes.items() if through is link]
        for channel in stale:
            del self._routes[channel]
        if broken:
            for name, through in list(self._links.items()):
                if through is link:
                    del self._links[name]
        if stale:
            self.reroutes += 1
            if self._lost_at is None:
                self._lost_at = asyncio.get_running_loop().time()
            log.warning("sharded publishes to %s held until the slot's primary answers (%s)", ", ".join(stale), reason)

    async def _resolve(self) -> None:
        delay = RETRY_INITIAL
        try:
            while self._held:
                try:
                    await self._route({route_of(channel) for channel, _ in self._held})
                except Exception as error:  # no primary answers for a slot yet
                    log.debug("sharded channel owner not found yet: %r", error)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX)
                    continue
                delay = RETRY_INITIAL
                while self._held and route_of(self._held[0][0]) in self._routes:
                    channel, message = self._held.popleft()
                    self._routes[route_of(channel)].publish_nowait(channel, message)
            if self._lost_at is not None:
                log.warning(
                    "sharded publishes flow again after %.2fs", asyncio.get_running_loop().time() - self._lost_at
                )
                self._lost_at = None
        finally:
            self._resolving = None

    async def _route(self, channels: set[str]) -> None:
        if self._cluster is None:
            timeout = self._options["connect_timeout"]
            self._cluster = create_redis_cluster(self._url, pool_size=2, socket_timeout=timeout, connect_timeout=timeout)
            await self._cluster.initialize()
        elif self._lost_at is not None:
            await self._cluster.nodes_manager.initialize()  # the slot map as it is now
        for channel in channels - self._routes.keys():
            node = self._cluster.get_node_from_key(channel)
            if node is None:
                raise ConnectionError(f"no node serves the slot of {channel!r} yet")
            link = self._links.get(node.name)
            if link is None:
                link = _ShardLink(self, node.host, int(node.port), **self._auth, **self._options)
                try:
                    await link.execute("PING")  # connected, so a drop from now on is noticed
                except BaseException:
                    await link.aclose()
                    raise
                self._links[node.name] = link
            self._routes[channel] = link

    async def aclose(self) -> None:
        if self._resolving is not None:
            self._resolving.cancel()
        links, self._links, self._routes = list(self._links.values()), {}, {}
        for link in links:
            await link.aclose()
        if self._cluster is not None:
            await self._cluster.aclose()
