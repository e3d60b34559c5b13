"""Socket events a second through the presence store on a three-primary Redis Cluster:
this gateway's slot-routing pipelined client against redis-py's asyncio ``RedisCluster``,
with one Redis (the pipelined client) for reference.

Why this exists: on a cluster the socket events could go through redis-py's ``RedisCluster``
(it routes by slot, runs scripts, follows MOVED) or through ``cluster_events.py`` (one
pipelined connection per primary). Both keep one round trip per event; this measures what
each costs the gateway's single core.

A cycle is a user's connect, ping and disconnect (REGISTER, REGISTER again, END: three
scripts), ``--concurrency`` users cycling at once, in one process (one core), for
``--seconds``; the figure is events (scripts) a second, median of ``--runs``. The servers
are throwaway ones from tests/support, on free ports.

Run: .venv/bin/python benchmarks/cluster_events.py [--seconds 5] [--concurrency 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from presence_gateway.adapters.redis.client import create_redis, create_redis_cluster  # noqa: E402
from presence_gateway.adapters.redis.cluster_events import ClusterPipelinedRedis  # noqa: E402
from presence_gateway.adapters.redis.keys import RedisKeys  # noqa: E402
from presence_gateway.adapters.redis.pipelined import PipelinedRedis  # noqa: E402
from presence_gateway.adapters.redis.presence_store import RedisPresenceStore  # noqa: E402
from presence_gateway.domain.ports import SessionMeta  # noqa: E402
from presence_gateway.domain.statuses import default_registry  # noqa: E402
from tests.support.redis_cluster import RedisCluster  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

META = SessionMeta(device="web", connected_at=0.0, ip="127.0.0.1")


async def run(url: str, events_client: str, seconds: float, concurrency: int) -> float:
    cluster = url.startswith("redis+cluster://")
    # RedisCluster refuses past its pool
    client = (create_redis_cluster if cluster else create_redis)(url, pool_size=concurrency + 8)
    if events_client == "pipelined":
        events = ClusterPipelinedRedis(url) if cluster else PipelinedRedis(url)
    else:
        events = None  # redis-py's client runs the scripts itself
    store = RedisPresenceStore(
        client, instance="bench", session_ttl=90.0, hidden_statuses=default_registry().seen_offline(),
        keys=RedisKeys(cluster), events=events,
    )
    await store.load_scripts()
    done = 0
    deadline = time.monotonic() + seconds

    async def user(n: int) -> None:
        nonlocal done
        cycle = 0
        while time.monotonic() < deadline:
            cycle += 1
            uid, sid = f"user-{n}", f"s{cycle}"
            await store.register(uid, sid, META, 1e9)
            await store.touch(uid, sid, META, 1e9)
            await store.end(uid, sid)
            done += 3

    for n in range(concurrency):  # warm: slot map, connections
        await store.register(f"user-{n}", "warm", META, 1e9)
        await store.end(f"user-{n}", "warm")
    started = time.monotonic()
    await asyncio.gather(*(user(n) for n in range(concurrency)))
    rate = done / (time.monotonic() - started)
    await client.aclose()
    if events is not None:
        await events.aclose()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        cluster = RedisCluster(Path(workdir) / "cluster").start()
        single = RedisServer(Path(workdir) / "single").start()
        try:
            cases = [
                ("cluster, pipelined per primary", "redis+cluster://" + cluster.nodes, "pipelined"),
                ("cluster, redis-py RedisCluster", "redis+cluster://" + cluster.nodes, "redis-py"),
                ("one Redis, pipelined", single.url, "pipelined"),
            ]
            for name, url, kind in cases:
                rates = []
                for _ in range(args.runs):
                    cluster.flush()
                    rates.append(asyncio.run(run(url, kind, args.seconds, args.concurrency)))
                print(f"{name:34s} {statistics.median(rates):8.0f} events/s  (runs: {', '.join(f'{r:.0f}' for r in rates)})")
        finally:
            single.stop()
            cluster.stop()


if __name__ == "__main__":
    main()
