"""What the metrics cost: per socket event, per proxied request, per scrape.

Why this exists: the hot path (connect, ping, presence:update, disconnect) must not pay
for being observed. Events increment plain integers (``SocketCounts``); this compares
that with a labelled prometheus_client counter, and times what a scrape and the ASGI
layers for a trusted proxy and a metrics port add per HTTP request or handshake.

    .venv/bin/python benchmarks/metrics_cost.py

Figures are in nanoseconds per operation, best of five runs; compare ratios from one run.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import timeit
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter

from presence_gateway.entrypoints.http.forwarded import TrustedForwarded
from presence_gateway.entrypoints.http.metrics import MetricsPort, exposition
from presence_gateway.entrypoints.sockets.counts import SocketCounts
from presence_gateway.entrypoints.wiring.containers import build_container
from presence_gateway.entrypoints.wiring.settings import ServerSettings, Settings, TokenSettings


def per_op(statement: str, namespace: dict, number: int) -> float:
    return min(timeit.repeat(statement, globals=namespace, number=number, repeat=5)) / number * 1e9


async def per_call(app, scope: dict, number: int = 100_000) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(number):
            await app(scope, None, None)
        best = min(best, (time.perf_counter() - started) / number * 1e9)
    return best


async def layers() -> dict[str, float]:
    async def app(scope, receive, send) -> None:
        return None

    direct = {"type": "http", "client": ("127.0.0.1", 5), "server": ("127.0.0.1", 3000), "headers": [(b"host", b"x")]}
    proxied = {**direct, "client": ("127.0.0.2", 5), "headers": [(b"host", b"x"), (b"x-forwarded-for", b"192.0.2.7")]}
    base = await per_call(app, direct)
    trusted = TrustedForwarded(app, ["127.0.0.2"])
    return {
        "TrustedForwarded, request from the proxy": await per_call(trusted, proxied) - base,
        "TrustedForwarded, request without the header": await per_call(trusted, direct) - base,
        "MetricsPort, request on the public port": await per_call(MetricsPort(app, 9100, CollectorRegistry()), direct) - base,
    }


def main() -> None:
    counts = SocketCounts()
    labelled = Counter("events", "events", ["event", "outcome"], registry=CollectorRegistry())
    bound = labelled.labels("ping", "ok")
    print(f"{'SocketCounts increment (what an event pays)':<55}{per_op('c.pings += 1', {'c': counts}, 1_000_000):>10.0f} ns")
    labelled_inc = per_op("l.labels('ping', 'ok').inc()", {"l": labelled}, 100_000)
    print(f"{'prometheus labels(...).inc() (not used)':<55}{labelled_inc:>10.0f} ns")
    print(f"{'prometheus pre-bound child .inc() (not used)':<55}{per_op('b.inc()', {'b': bound}, 1_000_000):>10.0f} ns")
    for name, cost in asyncio.run(layers()).items():
        print(f"{name:<55}{cost:>10.0f} ns")
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(
            tokens=TokenSettings(secret="benchmark-secret-that-is-long-enough"),
            server=ServerSettings(data_dir=Path(data)),
        )
        registry = build_container(settings).metrics()  # the registry /metrics serves
        scrape = min(timeit.repeat(lambda: exposition(registry), number=200, repeat=5)) / 200 * 1e6
    print(f"{'one scrape of /metrics (embedded, idle)':<55}{scrape:>10.0f} µs")


if __name__ == "__main__":
    main()
