"""Knows whether Redis answers: for the circuit (``circuit.py``), for ``/readyz``, and to
tell the restorer when Redis may have lost this instance's sessions.

One connection of its own (``probe_client``), outside the circuit, asks ``INFO server`` every half second
with a one-second deadline (INFO touches no key). No answer opens the circuit; the first
answer after that closes it. Redis's ``run_id`` changes with every restart, so a restart
quicker than a probe is noticed too. After an outage or a restart, ``on_back`` is
called: the data may be gone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import anyio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from .circuit import RedisCircuit
from .client import create_redis, create_redis_cluster

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 1.0


def probe_client(url: str, timeout: float = PROBE_TIMEOUT, *, cluster: bool = False) -> Any:
    """One connection, no circuit (the probe is what closes it), every wait bounded."""
    if cluster:
        return create_redis_cluster(url, pool_size=1, socket_timeout=timeout, connect_timeout=timeout)
    return create_redis(url, pool_size=1, pool_timeout=timeout, socket_timeout=timeout, connect_timeout=timeout)


class RedisHealth:
    def __init__(
        self,
        client: Redis,
        circuit: RedisCircuit,
        *,
        on_back: Callable[[], None] = lambda: None,
        on_round_trip: Callable[[float], None] = lambda seconds: None,
        listener: Any = None,
        interval: float = 0.5,
        timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self._client = client
        self.circuit = circuit
        self._listener = listener  # python-socketio's manager: ``subscribed``
        self._on_back = on_back
        self._on_round_trip = on_round_trip  # the probe's round trip, for the latency histogram
        self._interval = interval
        self._timeout = timeout
        self._run_id: str | None = None

    @property
    def available(self) -> bool:
        return not self.circuit.is_open

    def readiness(self) -> dict[str, str]:
        """For ``/readyz``: whether Redis answers (``presence``), and whether this instance
        hears the other instances' emits (``listener``)."""
        report = {"presence": "ok" if self.available else "unavailable"}
        if self._listener is not None:
            report["listener"] = "ok" if self._listener.subscribed else "unavailable"
        return report

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        await self.probe(self._client)
        task_status.started()
        while True:
            await anyio.sleep(self._interval)
            await self.probe(self._client)

    async def probe(self, client: Redis) -> None:
        try:
            started = time.perf_counter()
            with anyio.fail_after(self._timeout):
                info = await client.info("server")
            self._on_round_trip(time.perf_counter() - started)
        except (RedisError, OSError, TimeoutError) as error:
            self.circuit.trip(f"no answer to a probe: {type(error).__name__}: {error}".rstrip(": "))
            return
        run_id = info.get("run_id")
        restarted = self._run_id is not None and run_id != self._run_id
        self._run_id = run_id
        back = self.circuit.is_open or restarted
        if restarted:
            log.warning("Redis restarted (its run_id changed)")
        if back:
            await self.circuit.recover()
            self._on_back()
