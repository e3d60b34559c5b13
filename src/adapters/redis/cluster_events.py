"""The socket events' connection on Redis Cluster: ``pipelined.py``'s client once per
primary, each command sent to the primary serving its key's slot.

Why not redis-py's ``RedisCluster`` for these: it routes well, but each command pays its
pooled-connection cost (``pipelined.py`` says what that is) and its own write and read;
measured with a connect, ping and disconnect loop on three primaries, this client serves
more events a second (docs/redis.md has the figures). Here routing costs a CRC16 and a list
lookup per command: no await, task or round trip is added to an event.

The slot map comes from ``CLUSTER SLOTS`` of any node that answers, asked once at the first
command and again whenever a reply says it is stale: ``MOVED`` (the slot's new primary is
used at once, and the map refreshed), ``ASK`` (a slot being migrated: that one command goes
to the importing node after ``ASKING``) or a lost connection (a failed primary: the command
is sent once more if the refreshed map names another node). Errors stay redis-py's, so the
store turns them into ``Unavailable``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import quote

from redis.crc import key_slot
from redis.exceptions import ConnectionError, ResponseError, TimeoutError

from .cluster_url import ClusterAddress, parse_cluster_url
from .pipelined import PipelinedRedis

log = logging.getLogger(__name__)

SLOTS = 16384


class ClusterPipelinedRedis:
    """``evalsha`` as ``PipelinedRedis`` offers it, on a cluster (publishes take sharded
    channels through shard_publisher.py)."""

    def __init__(
        self,
        address: ClusterAddress | str,
        *,
        reply_timeout: float = 2.0,
        connect_timeout: float = 2.0,
        decode_responses: bool = True,
    ) -> None:
        self._address = parse_cluster_url(address) if isinstance(address, str) else address
        self._options: dict[str, Any] = {
            "reply_timeout": reply_timeout, "connect_timeout": connect_timeout, "decode_responses": decode_responses,
        }
        self._nodes: dict[tuple[str, int], PipelinedRedis] = {}
        self._slots: list[PipelinedRedis | None] = [None] * SLOTS
        self._refreshing: asyncio.Future[None] | None = None
        self.refreshes = 0

    # ---------------------------------------------------------------- commands

    async def evalsha(self, sha: str, source: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """EVALSHA on the primary of the keys' slot (a script's keys share one slot)."""
        slot = _slot(keys[0])
        node = self._slots[slot]
        if node is not None:  # the path of every event: as PipelinedRedis's, plus a CRC16
            try:
                return await node.evalsha(sha, source, keys, args)
            except (ResponseError, ConnectionError, TimeoutError) as error:
                return await self._recover(slot, node, error, lambda n: n.evalsha(sha, source, keys, args),
                                           ("EVALSHA", sha, len(keys), *keys, *args))
        return await self._routed(slot, lambda n: n.evalsha(sha, source, keys, args),
                                  ("EVALSHA", sha, len(keys), *keys, *args))

    async def _routed(self, slot: int, run: Callable[[PipelinedRedis], Awaitable[Any]], command: tuple[Any, ...]) -> Any:
        node = self._slots[slot]
        if node is None:
            await self.refresh()
            node = self._node_of(slot)
        try:
            return await run(node)
        except (ResponseError, ConnectionError, TimeoutError) as error:
            return await self._recover(slot, node, error, run, command)

    async def _recover(
        self, slot: int, node: PipelinedRedis, error: Exception,
        run: Callable[[PipelinedRedis], Awaitable[Any]], command: tuple[Any, ...],
    ) -> Any:
        if isinstance(error, ResponseError):
            redirect = _redirect(error)
            if redirect is None:
                raise error
            kind, address = redirect
            target = self._node(*address)
            if kind == "MOVED":
                self._slots[slot] = target
                self._refresh_soon()
                return await run(target)
            return await target.execute_asking(*command)
        # A primary gone (failover) or unreachable: once more if the map moved the slot.
        await self.refresh()
        moved = self._node_of(slot)
        if moved is node:
            raise error
        return await run(moved)

    # ---------------------------------------------------------------- slot map

    def _node_of(self, slot: int) -> PipelinedRedis:
        node = self._slots[slot]
        if node is None:
            raise ConnectionError(f"no Redis Cluster primary serves slot {slot}")
        return node

    def _node(self, host: str, port: int) -> PipelinedRedis:
        node = self._nodes.get((host, port))
        if node is None:
            address = self._address
            auth = ""
            if address.password is not None:
                user = quote(address.username, safe="") if address.username else ""
                auth = user + ":" + quote(address.password, safe="") + "@"
            scheme = "rediss" if address.tls else "redis"
            node = self._nodes[(host, port)] = PipelinedRedis(f"{scheme}://{auth}{host}:{port}/0", **self._options)
        return node

    def _refresh_soon(self) -> None:
        if self._refreshing is None:
            asyncio.get_running_loop().create_task(self._refresh_quietly())

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except Exception as error:
            log.debug("Redis Cluster slot map not refreshed: %r", error)

    async def refresh(self) -> None:
        """Read the slot map again; concurrent callers share one ``CLUSTER SLOTS``."""
        if self._refreshing is not None:
            return await asyncio.shield(self._refreshing)
        self._refreshing = asyncio.get_running_loop().create_future()
        done = self._refreshing
        try:
            self._slots = await self._read_slots()
            self.refreshes += 1
            done.set_result(None)
        except BaseException as error:
            done.set_exception(error if isinstance(error, Exception) else ConnectionError(repr(error)))
            done.exception()  # retrieved: the waiters raise it themselves
            raise
        finally:
            self._refreshing = None

    async def _read_slots(self) -> list[PipelinedRedis | None]:
        candidates = list(dict.fromkeys([*self._nodes, *self._address.nodes]))
        failure: BaseException | None = None
        for host, port in candidates:
            try:
                reply = await self._node(host, port).execute("CLUSTER", "SLOTS")
            except (ConnectionError, TimeoutError, ResponseError) as error:
                failure = error
                continue
            table: list[PipelinedRedis | None] = [None] * SLOTS
            for start, end, primary, *_ in reply:
                node = self._node(primary[0] or host, int(primary[1]))
                table[start : end + 1] = [node] * (end - start + 1)
            return table
        raise ConnectionError(f"no Redis Cluster node answers: {failure!r}")

    async def aclose(self) -> None:
        nodes, self._nodes = list(self._nodes.values()), {}
        self._slots = [None] * SLOTS
        for node in nodes:
            await node.aclose()


def _slot(key: Any) -> int:
    return key_slot(key.encode() if isinstance(key, str) else key)


def _redirect(error: ResponseError) -> tuple[str, tuple[str, int]] | None:
    """``MOVED 3999 127.0.0.1:6381`` / ``ASK 3999 127.0.0.1:6381`` → kind and address."""
    parts = str(error).split()
    if len(parts) != 3 or parts[0] not in ("MOVED", "ASK"):
        return None
    host, _, port = parts[2].rpartition(":")
    return parts[0], (host, int(port))
