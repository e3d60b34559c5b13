"""A circuit breaker in front of every Redis pool: once Redis is known to be down, a
command fails at once instead of waiting for a timeout.

Redis stopped (connection refused) fails in about a millisecond and needs no help. Redis
unreachable but accepting — frozen, or a peer that vanished without a reset — is what
hurts: each command waits out the 2 s socket timeout, each new connection the connect
timeout, and with ``async_handlers=False`` every later event of that socket queues behind
it. The circuit opens on the first connection-level failure seen at the pool (or by the
prober, ``health.py``) and stays open until the prober gets an answer again; while open,
the pools refuse to hand out connections, so the store answers ``unavailable`` at once.

A false alarm (one slow reply) costs at most one probe interval of refused events.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
from redis.asyncio import BlockingConnectionPool
from redis.exceptions import ConnectionError, TimeoutError

from ...domain.outages import Outage

log = logging.getLogger(__name__)


class RedisCircuit:
    def __init__(self) -> None:
        self._outage = Outage()  # since: the monotonic time it opened
        self.reason = ""
        self._closed: anyio.Event | None = None  # created on first wait, inside the event loop
        self._pools: list[BlockingConnectionPool] = []

    @property
    def is_open(self) -> bool:
        return self._outage.down

    def is_closed(self) -> bool:
        """Redis answers, as far as anyone knows (a method, to be handed out as a callable)."""
        return not self._outage.failures

    def open_for(self) -> float:
        return time.monotonic() - self._outage.since if self._outage.down else 0.0

    def trip(self, reason: str) -> None:
        if self._outage.failed(time.monotonic()):
            self.reason = reason
            log.warning("Redis is unavailable (%s): presence events answer 'unavailable' until it answers again", reason)

    def close(self) -> None:
        if not self._outage.down:
            return
        log.warning("Redis answers again after %.1fs", self.open_for())
        self._outage.recovered()
        self.reason = ""
        if self._closed is not None:
            self._closed.set()
            self._closed = None

    async def recover(self) -> None:
        """Redis answers again, or answers as a new process: the pools' idle connections
        lead to the old one (each would fail its next command), so drop them, then close."""
        for pool in self._pools:
            try:
                await pool.disconnect(inuse_connections=False)
            except Exception as error:  # a connection that fails to close is gone anyway
                log.debug("dropping an idle Redis connection: %r", error)
        self.close()

    def check(self) -> None:
        if self._outage.failures:  # every pool checkout: the attribute, not the property
            raise ConnectionError(f"Redis is unavailable ({self.reason})")

    async def wait_closed(self, timeout: float) -> None:
        """Return once the circuit is closed, or after ``timeout``."""
        if not self._outage.down:
            return
        if self._closed is None:
            self._closed = anyio.Event()
        with anyio.move_on_after(timeout):
            await self._closed.wait()


class CircuitBreakingPool(BlockingConnectionPool):
    """The one place every command, pipeline and pub/sub subscription passes through:
    refused at once while the circuit is open; a failure to connect opens it."""

    def __init__(self, *, circuit: RedisCircuit, **options: Any) -> None:
        super().__init__(**options)
        self.circuit = circuit
        circuit._pools.append(self)

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        self.circuit.check()
        try:
            return await super().get_connection(*args, **kwargs)
        except (ConnectionError, TimeoutError) as error:
            self.circuit.trip(f"{type(error).__name__}: {error}")
            raise
