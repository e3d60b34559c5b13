"""Cross-instance delivery latency: a user with one socket on instance A and one on B;
A sets a status, B receives ``presence:updated``. Two real gateway processes on a
throwaway Redis, python-socketio clients in this process (their own overhead is included,
so the figures are an upper bound). Run: .venv/bin/python benchmarks/cross_instance.py
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.clients import connected_client  # noqa: E402
from tests.e2e.gateway_process import GatewayProcess  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def measure(a: GatewayProcess, b: GatewayProcess, updates: int) -> list[float]:
    sender = await connected_client(a.url, "bench")
    receiver = await connected_client(b.url, "bench")
    await receiver.round_trip()
    receiver.events.clear()
    receiver._cursor.clear()
    latencies = []
    for n in range(updates):
        status = "ONLINE" if n % 2 else "DND"
        started = time.perf_counter()
        await sender.sio.emit("presence:update", {"status": status})
        update = await receiver.next("presence:updated")
        latencies.append((time.perf_counter() - started) * 1000)
        assert update["status"] == status
    await sender.close()
    await receiver.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        redis = RedisServer(root / "redis").start()
        env = {
            "REDIS_URL": redis.url, "PRESENCE_DATA_DIR": str(root / "data"), "LOG_LEVEL": "WARNING",
            # Load, not the per-socket limits, is measured here.
            "PRESENCE_EVENTS_PER_MINUTE": "100000000",
    "PRESENCE_USER_EVENTS_PER_MINUTE": "100000000", "PRESENCE_CONNECTS_PER_MINUTE_PER_USER": "100000000",
    "PRESENCE_CONNECTS_PER_MINUTE_PER_ADDRESS": "100000000", "PRESENCE_MAX_SOCKETS_PER_USER": "100000",
        }
        a = GatewayProcess(root / "a", **env).start()
        b = GatewayProcess(root / "b", **env).start()
        try:
            latencies = asyncio.run(measure(a, b, args.updates))
        finally:
            a.stop()
            b.stop()
            redis.stop()
    print(f"cross-instance delivery, {len(latencies)} updates (A emits, B receives):")
    print(f"  p50 {statistics.median(latencies):.2f} ms   p99 {percentile(latencies, 99):.2f} ms   max {max(latencies):.2f} ms")


if __name__ == "__main__":
    main()
