"""Watchers: what a snapshot of 1000 users costs, and what one status change watched by
1000 sockets costs.

Two real gateway processes on a throwaway Redis and one SQLite file, python-socketio
clients in this process (their own overhead is in the latencies, so those are upper
bounds; the CPU figures are read from the gateways' /proc entries and are the servers'
alone).

* snapshot: 1000 target users, each with a durable record, 100 of them connected (on
  instance B); one socket on A subscribes to all 1000 (and unsubscribes between rounds):
  time from emit to ack. The HTTP query of the same 1000 is timed too, and the use case
  in this process on the same Redis and SQLite file (no transport), with its two reads.
* fan-out: 1000 sockets on A each watch user X; X changes status on B; time from X's
  emit until the first and the last watcher has the update, and the CPU each gateway
  spent per change, against the same changes with nobody watching.

Run: .venv/bin/python benchmarks/watchers.py [--targets 1000] [--watchers 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import socketio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from presence_gateway.adapters.open_policy import OpenAudience  # noqa: E402
from presence_gateway.adapters.redis.client import create_redis  # noqa: E402
from presence_gateway.adapters.redis.presence_store import RedisPresenceStore  # noqa: E402
from presence_gateway.adapters.sql.engine import create_engine, sqlite_url  # noqa: E402
from presence_gateway.adapters.sql.status_repository import SqlStatusRepository  # noqa: E402
from presence_gateway.domain.statuses import default_registry  # noqa: E402
from presence_gateway.service_layer.durable_writer import DurableWriter  # noqa: E402
from presence_gateway.service_layer.watching import WatchService  # noqa: E402
from tests.e2e.clients import connected_client, token_for  # noqa: E402
from tests.e2e.gateway_process import GatewayProcess  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def cpu_seconds(gateway: GatewayProcess) -> float:
    fields = Path(f"/proc/{gateway.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def summary(samples: list[float]) -> str:
    return f"p50 {statistics.median(samples):.1f} ms   p99 {percentile(samples, 99):.1f} ms   max {max(samples):.1f} ms"


# ---------------------------------------------------------------- snapshot


def write_records(data_dir: Path, targets: list[str]) -> None:
    """Durable records as the gateway leaves them: every target was seen once."""
    with sqlite3.connect(data_dir / "presence.sqlite3") as db:
        db.executemany(
            "INSERT INTO user_presence (user_id, status, chosen_status, last_seen_at, updated_at) "
            "VALUES (?, 'OFFLINE', NULL, '2026-11-26 12:00:00.000000', '2026-11-26 12:00:00.000000')",
            [(t,) for t in targets],
        )


def http_query(url: str, viewer: str, user_ids: list[str]) -> dict:
    request = urllib.request.Request(
        url + "/api/v1/presence/query",
        data=json.dumps({"userIds": user_ids}).encode(),
        headers={"Authorization": f"Bearer {token_for(viewer)}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


async def snapshot(a: GatewayProcess, b: GatewayProcess, count: int, rounds: int) -> tuple[list[float], list[float], dict]:
    targets = [f"t{n}" for n in range(count)]
    write_records(a.data_dir, targets)
    online = [await connected_client(b.url, t) for t in targets[:100]]
    viewer = await connected_client(a.url, "snapshot-viewer")
    socket_ms, http_ms = [], []
    for n in range(rounds + 3):
        started = time.perf_counter()
        reply = await viewer.call("presence:subscribe", {"userIds": targets}, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        assert len(reply["presence"]) == count, reply
        assert sum(p["status"] == "ONLINE" for p in reply["presence"]) == min(100, count)
        await viewer.call("presence:unsubscribe", {"userIds": targets}, timeout=30)
        started = time.perf_counter()
        answer = await asyncio.to_thread(http_query, a.url, "snapshot-viewer", targets)
        http_elapsed = (time.perf_counter() - started) * 1000
        assert len(answer["presence"]) == count
        if n >= 3:  # warm-up rounds: imports, caches, prepared statements
            socket_ms.append(elapsed)
            http_ms.append(http_elapsed)
    parts = await in_process(a.env["REDIS_URL"], a.data_dir, count, rounds)
    for client in [viewer, *online]:
        await client.close()
    return socket_ms, http_ms, parts


async def in_process(redis_url: str, data_dir: Path, count: int, rounds: int) -> dict[str, list[float]]:
    """The same snapshot without a socket or HTTP in the way: the use case on the same
    Redis and SQLite file, and its two reads alone."""
    redis = create_redis(redis_url)
    store = RedisPresenceStore(redis, instance="bench", session_ttl=90.0, hidden_statuses=default_registry().seen_offline())
    engine = create_engine(sqlite_url(data_dir / "presence.sqlite3"))
    writer = DurableWriter(SqlStatusRepository(engine))
    watch = WatchService(registry=default_registry(), store=store, durable=writer, policy=OpenAudience())
    targets = [f"t{n}" for n in range(count)]
    timings: dict[str, list[float]] = {"use case": [], "Redis": [], "database": []}
    steps = {
        "use case": lambda: watch.query("snapshot-viewer", targets),
        "Redis": lambda: store.states(targets),
        "database": lambda: writer.get_many(targets),
    }
    try:
        for n in range(rounds + 3):
            for name, step in steps.items():
                started = time.perf_counter()
                await step()
                if n >= 3:
                    timings[name].append((time.perf_counter() - started) * 1000)
    finally:
        await engine.dispose()
        await redis.aclose()
    return timings


# ---------------------------------------------------------------- fan-out


class Watcher:
    """A lean client: counts updates of one user, nothing else."""

    def __init__(self, arrivals: list[float], done: asyncio.Event, expected: list[int]) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("presence:updated", self._updated)
        self._arrivals, self._done, self._expected = arrivals, done, expected

    async def _updated(self, update: dict) -> None:
        if update["userId"] == "x":
            self._arrivals.append(time.perf_counter())
            if len(self._arrivals) == self._expected[0]:
                self._done.set()


async def changes(target, watchers: int, arrivals: list[float], done: asyncio.Event, expected: list[int], flips: int,
                  gateways: list[GatewayProcess]) -> tuple[list[float], list[float], list[float]]:
    """``flips`` status changes of x, each waited for; returns first/last delivery (ms) and
    CPU seconds per change of each gateway."""
    first, last = [], []
    cpu_before = [cpu_seconds(g) for g in gateways]
    for n in range(flips):
        arrivals.clear()
        done.clear()
        expected[0] = watchers
        status = "DND" if n % 2 == 0 else "ONLINE"
        target.events.clear()
        target._cursor.clear()
        started = time.perf_counter()
        await target.sio.emit("presence:update", {"status": status})
        if watchers:
            await asyncio.wait_for(done.wait(), 30)
            first.append((arrivals[0] - started) * 1000)
            last.append((arrivals[-1] - started) * 1000)
        else:
            await target.next("presence:updated")
    cpu = [(cpu_seconds(g) - before) / flips for g, before in zip(gateways, cpu_before, strict=True)]
    return first, last, cpu


async def fan_out(a: GatewayProcess, b: GatewayProcess, watchers: int, flips: int) -> dict:
    target = await connected_client(b.url, "x")
    arrivals: list[float] = []
    done = asyncio.Event()
    expected = [0]
    quiet = await changes(target, 0, arrivals, done, expected, flips, [a, b])

    clients = [Watcher(arrivals, done, expected) for _ in range(watchers)]
    gate = asyncio.Semaphore(50)

    async def join(n: int, client: Watcher) -> None:
        async with gate:
            await client.sio.connect(a.url, auth={"token": token_for(f"watcher-{n}")}, transports=["websocket"], wait_timeout=10)
            reply = await client.sio.call("presence:subscribe", {"userIds": ["x"]}, timeout=10)
            assert reply["presence"][0]["userId"] == "x", reply

    await asyncio.gather(*(join(n, c) for n, c in enumerate(clients)))
    first, last, cpu = await changes(target, watchers, arrivals, done, expected, flips, [a, b])
    await asyncio.gather(*(c.sio.disconnect() for c in clients))
    await target.close()
    return {"quiet_cpu": quiet[2], "first": first, "last": last, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000, help="users in one snapshot (1000)")
    parser.add_argument("--rounds", type=int, default=30, help="snapshots to time (30)")
    parser.add_argument("--watchers", type=int, default=1000, help="sockets watching the changing user (1000)")
    parser.add_argument("--flips", type=int, default=100, help="status changes to time (100)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        redis = RedisServer(root / "redis").start()
        env = {
            "REDIS_URL": redis.url,
            "PRESENCE_DATA_DIR": str(root / "data"),
            "LOG_LEVEL": "WARNING",
            "PRESENCE_WATCH_MAX_TARGETS": str(max(args.targets, 1000)),
            "PRESENCE_MAX_IDS_PER_CALL": str(max(args.targets, 1000)),
            # Load, not the per-socket limits, is measured here.
            "PRESENCE_EVENTS_PER_MINUTE": "100000000",
    "PRESENCE_USER_EVENTS_PER_MINUTE": "100000000", "PRESENCE_CONNECTS_PER_MINUTE_PER_USER": "100000000",
    "PRESENCE_CONNECTS_PER_MINUTE_PER_ADDRESS": "100000000",
            "PRESENCE_MAX_SOCKETS_PER_USER": "100000",
        }
        a = GatewayProcess(root / "a", **env).start()
        b = GatewayProcess(root / "b", **env).start()
        try:
            socket_ms, http_ms, parts = asyncio.run(snapshot(a, b, args.targets, args.rounds))
            fan = asyncio.run(fan_out(a, b, args.watchers, args.flips))
        finally:
            a.stop()
            b.stop()
            redis.stop()
    print(f"snapshot of {args.targets} users (100 online, every one with a durable record), {len(socket_ms)} rounds:")
    print(f"  presence:subscribe → ack   {summary(socket_ms)}")
    print(f"  POST /api/v1/presence/query {summary(http_ms)}")
    print(f"  the use case in-process    {summary(parts['use case'])}")
    print(f"    of which Redis (1 trip)  {summary(parts['Redis'])}")
    print(f"    of which SQLite (1 query) {summary(parts['database'])}")
    print(f"one status change watched by {args.watchers} sockets on instance A, made on B, {args.flips} changes:")
    print(f"  first watcher has it       {summary(fan['first'])}")
    print(f"  last watcher has it        {summary(fan['last'])}")
    a_cpu, b_cpu = (cpu * 1000 for cpu in fan["cpu"])
    qa_cpu, qb_cpu = (cpu * 1000 for cpu in fan["quiet_cpu"])
    print(f"  gateway CPU per change     A (the watchers') {a_cpu:.1f} ms, B (the user's) {b_cpu:.1f} ms")
    print(f"  with nobody watching       A {qa_cpu:.1f} ms, B {qb_cpu:.1f} ms")
    per_socket = (a_cpu - qa_cpu) * 1000 / max(args.watchers, 1)
    print(f"  fan-out on A               {per_socket:.1f} µs of CPU per watching socket")


if __name__ == "__main__":
    main()
