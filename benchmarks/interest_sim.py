"""A fleet simulated on one real Redis: how many messages each instance takes in, and what
Redis spends per change and holds in memory, for four ways of routing changes between
gateway instances (docs/scaling.md, "Routing by interest").

Each simulated instance is one raw Redis connection that subscribes as an instance would
and counts what it receives (one thread reads them all); no sockets, no gateway. The users
form communities; each user is watched by 50-200 others, most of them in the user's
community. An instance's interest is the users with a socket on it and the users its
sockets watch. Two placements of the users' sockets: at random (a load balancer that
knows nothing of friendships) and by community (a balancer keyed by team or guild: each
community on two instances).

Routes measured, each from an empty Redis:

* ``broadcast``: today's — every instance subscribes to one channel, every change is
  published there once.
* ``bucket``: a channel per user bucket (64, the cluster layout's default): an instance
  subscribes to the buckets holding any user of its interest; it still drops the rest.
* ``per-user``: a channel per user, subscribed to by the instances interested in that
  user (the gateway's routing): one PUBLISH per change, delivered only where needed.
* ``registry``: a set of interested instances per user; the publishing script reads it
  and publishes once per instance to that instance's channel (one round trip as well).

Run: .venv/bin/python benchmarks/interest_sim.py [--quick] (about 20 s quick, 2 min full);
prints a table and writes docs/interest_sim.json. It starts its own redis-server on a free
port and stops it by its pid.
"""

from __future__ import annotations

import argparse
import json
import random
import selectors
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

import hiredis
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.redis_capacity import RedisStats, replay  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

FIGURES = ROOT / "docs" / "interest_sim.json"
BUCKETS = 64
CHUNK = 1000  # channels per SUBSCRIBE, as the gateway sends them
# A change as it crosses instances today: python-socketio's message, 366 bytes.
MESSAGE = b'{"method":"emit","event":"presence:updated","data":[{"userId":"%s","status":"DND",' + b"x" * 250 + b"}]}"
REGISTRY_SCRIPT = """
local members = redis.call('SMEMBERS', KEYS[1])
for _, instance in ipairs(members) do redis.call('PUBLISH', 'sim:inst:' .. instance, ARGV[1]) end
return #members
"""


@dataclass
class Fleet:
    instances: int
    users: int
    community: int
    placement: str
    home: list[int] = field(default_factory=list)  # user → the instance of their socket
    interest: list[set[int]] = field(default_factory=list)  # user → interested instances

    @classmethod
    def build(cls, instances: int, users: int, community: int, placement: str, seed: int) -> Fleet:
        rng = random.Random(seed)
        fleet = cls(instances, users, community, placement)
        communities = users // community
        per_community = max(1, instances // communities)
        for user in range(users):
            if placement == "random":
                fleet.home.append(rng.randrange(instances))
            else:
                c = user // community
                fleet.home.append((c * per_community + rng.randrange(per_community)) % instances)
        for user in range(users):
            c, interested = user // community, {fleet.home[user]}
            base = c * community
            for _ in range(rng.randint(50, 200)):
                watcher = base + rng.randrange(community) if rng.random() < 0.85 else rng.randrange(users)
                interested.add(fleet.home[watcher])
            fleet.interest.append(interested)
        return fleet

    def per_instance(self) -> list[list[int]]:
        """Instance → the users it is interested in."""
        users: list[list[int]] = [[] for _ in range(self.instances)]
        for user, interested in enumerate(self.interest):
            for instance in interested:
                users[instance].append(user)
        return users


class Subscribers:
    """One connection per simulated instance, all read by one thread, counting messages
    and subscription confirmations per connection."""

    def __init__(self, port: int, count: int) -> None:
        self.socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
        self.readers = [hiredis.Reader() for _ in range(count)]
        self.messages = [0] * count
        self.confirmed = [0] * count
        self._selector = selectors.DefaultSelector()
        for index, sock in enumerate(self.socks):
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ, index)
        self._closed = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed:
            for key, _ in self._selector.select(0.05):
                index = key.data
                try:
                    data = self.socks[index].recv(1 << 20)
                except (BlockingIOError, OSError):
                    continue
                if not data:
                    self._selector.unregister(key.fileobj)
                    continue
                reader = self.readers[index]
                reader.feed(data)
                while (reply := reader.gets()) is not False:
                    kind = reply[0]
                    if kind == b"message":
                        self.messages[index] += 1
                    elif kind == b"subscribe":
                        self.confirmed[index] += 1

    def send(self, index: int, commands: Iterable[bytes]) -> None:
        sock = self.socks[index]
        sock.setblocking(True)
        sock.sendall(b"".join(commands))
        sock.setblocking(False)

    def drop(self, index: int) -> None:
        """The instance dies: its connection closes, as a killed process's does."""
        self._selector.unregister(self.socks[index])
        self.socks[index].close()

    def wait(self, counter: Callable[[], int], total: int, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while counter() < total:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: {counter()} of {total}")
            time.sleep(0.01)  # the reader thread counts; bounded by the deadline

    def close(self) -> None:
        self._closed = True
        self._thread.join()
        for sock in self.socks:
            try:
                sock.close()
            except OSError:
                pass


def subscribe_commands(channels: list[bytes]) -> list[bytes]:
    return [hiredis.pack_command(("SUBSCRIBE", *channels[i : i + CHUNK])) for i in range(0, len(channels), CHUNK)]


def instance_name(index: int) -> str:
    """As long as a gateway's instance id (host name and a random part)."""
    return f"gateway-{index:03d}-{index * 2654435761 % 2**32:08x}"


def user_channel(user: int) -> bytes:
    return b"sim:u:%d" % user


def bucket_channel(user: int) -> bytes:
    return b"sim:b:%d" % (user % BUCKETS)


def run_route(server: RedisServer, fleet: Fleet, route: str, changes: list[int]) -> dict[str, object]:
    stats = RedisStats(server.url)
    client = redis.Redis.from_url(server.url)
    client.flushall()
    client.config_resetstat()
    subs = Subscribers(server.port, fleet.instances)
    try:
        interested = fleet.per_instance()
        base_memory = stats.used_memory()
        before = stats.snapshot()
        subscriptions = 0
        sha = ""
        if route == "broadcast":
            for i in range(fleet.instances):
                subs.send(i, subscribe_commands([b"sim:all"]))
            subscriptions = fleet.instances
        elif route == "bucket":
            for i, users in enumerate(interested):
                channels = sorted({bucket_channel(u) for u in users})
                subs.send(i, subscribe_commands(channels))
                subscriptions += len(channels)
        elif route == "per-user":
            for i, users in enumerate(interested):
                subs.send(i, subscribe_commands([user_channel(u) for u in users]))
                subscriptions += len(users)
        else:  # registry: the sets, then one channel per instance
            sha = client.script_load(REGISTRY_SCRIPT)
            writes = [
                hiredis.pack_command(("SADD", b"sim:i:%d" % user, *[instance_name(i) for i in instances]))
                for user, instances in enumerate(fleet.interest)
            ]
            replay(server.port, writes)
            for i in range(fleet.instances):
                subs.send(i, subscribe_commands([b"sim:inst:" + instance_name(i).encode()]))
            subscriptions = sum(len(s) for s in fleet.interest)
        expected_confirm = fleet.instances if route == "registry" or route == "broadcast" else subscriptions
        subs.wait(lambda: sum(subs.confirmed), expected_confirm, 120, "subscriptions confirmed")
        setup = stats.snapshot()
        memory = stats.used_memory() - base_memory

        commands, expected = [], 0
        for user in changes:
            message = MESSAGE % str(user).encode()
            if route == "broadcast":
                commands.append(hiredis.pack_command(("PUBLISH", b"sim:all", message)))
                expected += fleet.instances
            elif route == "bucket":
                commands.append(hiredis.pack_command(("PUBLISH", bucket_channel(user), message)))
                expected += sum(1 for users in interested if bucket_channel(user) in _buckets(users))
            elif route == "per-user":
                commands.append(hiredis.pack_command(("PUBLISH", user_channel(user), message)))
                expected += len(fleet.interest[user])
            else:
                commands.append(hiredis.pack_command(("EVALSHA", sha, 1, b"sim:i:%d" % user, message)))
                expected += len(fleet.interest[user])
        start = stats.snapshot()
        replay(server.port, commands)
        subs.wait(lambda: sum(subs.messages), expected, 300, f"{route} deliveries")
        end = stats.snapshot()
        needed = sum(len(fleet.interest[user]) for user in changes)
        intake = [m / len(changes) for m in subs.messages]

        death = {}
        if route in ("per-user", "registry"):
            death = instance_death(server, stats, subs, fleet, route, interested)
        cpu_setup = setup["cpu"] - before["cpu"]
        return {
            "route": route,
            "subscriptions": subscriptions,
            "setup_redis_cpu_s": round(cpu_setup, 3),
            "setup_us_per_subscription": round(1e6 * cpu_setup / max(1, subscriptions), 3),
            "interest_memory_bytes": memory,
            "memory_per_subscription": round(memory / max(1, subscriptions), 1),
            "changes": len(changes),
            "redis_cpu_us_per_change": round(1e6 * (end["cpu"] - start["cpu"]) / len(changes), 2),
            "deliveries": sum(subs.messages),
            "deliveries_per_change": round(sum(subs.messages) / len(changes), 2),
            "needed_per_change": round(needed / len(changes), 2),
            "intake_min": round(min(intake), 4),
            "intake_median": round(median(intake), 4),
            "intake_max": round(max(intake), 4),
            **death,
        }
    finally:
        subs.close()
        client.close()


_bucket_cache: dict[int, set[bytes]] = {}


def _buckets(users: list[int]) -> set[bytes]:
    key = id(users)
    if key not in _bucket_cache:
        _bucket_cache[key] = {bucket_channel(u) for u in users}
    return _bucket_cache[key]


def instance_death(
    server: RedisServer, stats: RedisStats, subs: Subscribers, fleet: Fleet, route: str, interested: list[list[int]]
) -> dict[str, object]:
    """Instance 0 dies. Its channel subscriptions go with its connection; a registry's
    entries stay until someone removes them (here: one SREM per entry, pipelined)."""
    client = redis.Redis.from_url(server.url)
    connected = int(client.info("clients")["connected_clients"])
    before_memory = stats.used_memory()
    before = stats.snapshot()
    subs.drop(0)
    if route == "registry":
        replay(server.port, [hiredis.pack_command(("SREM", b"sim:i:%d" % u, instance_name(0))) for u in interested[0]])
    else:
        deadline = time.monotonic() + 10
        while int(client.info("clients")["connected_clients"]) >= connected and time.monotonic() < deadline:
            time.sleep(0.01)  # Redis notices the close on its next read
    client.close()
    after = stats.snapshot()
    return {
        "death_entries": len(interested[0]),
        "death_redis_cpu_ms": round(1e3 * (after["cpu"] - before["cpu"]), 2),
        "death_memory_freed": before_memory - stats.used_memory(),
        "death_needs_cleanup": route == "registry",
    }


def subscribe_cost(server: RedisServer, count: int, repeats: int) -> dict[str, float]:
    """One instance subscribing ``count`` new channels in chunks of CHUNK and waiting for
    the last confirmation, as a watch of ``count`` ids does; the wall time includes this
    client's parsing of the confirmations on a shared machine."""
    stats = RedisStats(server.url)
    walls, cpus = [], []
    for repeat in range(repeats):
        subs = Subscribers(server.port, 1)
        try:
            before = stats.snapshot()
            at = time.perf_counter()
            subs.send(0, subscribe_commands([b"sim:once:%d:%d" % (repeat, i) for i in range(count)]))
            subs.wait(lambda s=subs: s.confirmed[0], count, 60, "subscribe")
            walls.append(time.perf_counter() - at)
            cpus.append(stats.snapshot()["cpu"] - before["cpu"])
        finally:
            subs.close()
    return {"channels": count, "wall_ms": round(1e3 * median(walls), 2), "redis_cpu_ms": round(1e3 * median(cpus), 2)}


def listener_cost(server: RedisServer, count: int) -> dict[str, float]:
    """What an instance's own listener spends on ``count`` channels, as the gateway's
    manager subscribes (redis-py's asyncio pub/sub, SUBSCRIBE of CHUNK channels, each
    confirmation read with ``get_message``): its CPU per channel subscribed, and the
    memory per channel of the manager's bookkeeping and redis-py's (tracemalloc)."""
    import asyncio
    import tracemalloc

    import redis.asyncio

    async def run() -> dict[str, float]:
        client = redis.asyncio.Redis.from_url(server.url)
        pubsub = client.pubsub(ignore_subscribe_messages=False)
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        users = [f"{n:08d}-0000-4000-8000-000000000000" for n in range(count)]
        interest = {user: f"socketio:user:{user}" for user in users}  # the manager's _interest
        heard = {channel.encode() for channel in interest.values()}  # and its _heard
        cpu = time.process_time()
        channels = list(interest.values())
        for start in range(0, count, CHUNK):
            await pubsub.subscribe(*channels[start : start + CHUNK])
        confirmed = 0
        while confirmed < count:
            message = await pubsub.get_message(timeout=1.0)
            if message is not None and message["type"] == "subscribe":
                confirmed += 1
        spent = time.process_time() - cpu
        memory = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        del heard
        await pubsub.aclose()
        await client.aclose()
        return {"channels": count, "cpu_us_per_channel": round(1e6 * spent / count, 2),
                "bytes_per_channel": round(memory / count, 1)}

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 instances, 4 000 users (a check, not the figures)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    instances, users, community, changes_n = (20, 4_000, 400, 2_000) if args.quick else (100, 20_000, 400, 10_000)
    storm = 20_000 if args.quick else 200_000
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis").start()
        try:
            version = redis.Redis.from_url(server.url).info("server")["redis_version"]
            results = []
            for placement in ("random", "community"):
                fleet = Fleet.build(instances, users, community, placement, seed=11)
                changes = [rng.randrange(users) for _ in range(changes_n)]
                for route in ("broadcast", "bucket", "per-user", "registry"):
                    row = {"placement": placement, **run_route(server, fleet, route, changes)}
                    results.append(row)
                    print(json.dumps(row), flush=True)
            costs = [subscribe_cost(server, 1000, 5), subscribe_cost(server, storm, 1)]
            listener = listener_cost(server, storm // 2)
        finally:
            server.stop()
    figures = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "redis": version,
        "instances": instances,
        "users": users,
        "community": community,
        "changes": changes_n,
        "routes": results,
        "subscribe": costs,
        "listener": listener,
    }
    print(table(figures))
    if not args.no_write and not args.quick:
        FIGURES.write_text(json.dumps(figures, indent=1) + "\n")


def table(figures: dict) -> str:
    lines = [
        f"{figures['instances']} instances, {figures['users']} users in communities of {figures['community']}, "
        f"{figures['changes']} changes, Redis {figures['redis']}, measured {figures['measured_at']}",
        "",
        "| placement | route | Redis CPU µs/change | deliveries/change (needed) | intake per instance, "
        "share of all changes: min / median / max | subscriptions | interest memory | B per subscription "
        "| setup µs per subscription | an instance dies: entries, Redis CPU, memory freed |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in figures["routes"]:
        death = (
            f"{r['death_entries']}, {r['death_redis_cpu_ms']} ms, {r['death_memory_freed'] / 1024:.0f} KiB"
            + (" (after an SREM each)" if r["death_needs_cleanup"] else " (by Redis, at the close)")
            if "death_entries" in r else "—"
        )
        lines.append(
            f"| {r['placement']} | {r['route']} | {r['redis_cpu_us_per_change']} | {r['deliveries_per_change']} "
            f"({r['needed_per_change']}) | {r['intake_min']:.1%} / {r['intake_median']:.1%} / {r['intake_max']:.1%} "
            f"| {r['subscriptions']} | {r['interest_memory_bytes'] / 2**20:.1f} MiB | {r['memory_per_subscription']} "
            f"| {r['setup_us_per_subscription']} | {death} |"
        )
    lines.append("")
    for c in figures["subscribe"]:
        lines.append(
            f"- one instance subscribing {c['channels']} new channels ({CHUNK} per SUBSCRIBE): "
            f"{c['wall_ms']} ms to the last confirmation, {c['redis_cpu_ms']} ms of Redis CPU"
        )
    c = figures["listener"]
    lines.append(
        f"- the instance's own side (redis-py's pub/sub, as the gateway's listener reads it), {c['channels']} "
        f"channels: {c['cpu_us_per_channel']} µs of its CPU per channel subscribed, "
        f"{c['bytes_per_channel']:.0f} B per channel of bookkeeping"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
