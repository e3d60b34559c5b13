"""What one Redis primary spends per socket event, per online user, per delivered change;
and from that, on paper, what a million and ten million users need (docs/scaling.md).

Everything runs against a throwaway redis-server on a free port (never a shared one),
through the gateway's own store, built by its container as `presence-gateway serve`
builds it — so the figures are those of the scripts and key layout this checkout has.

* Socket events (connect, ping, status update, disconnect, and the sweeper's end of the
  offline grace): Redis's own CPU per operation (INFO CPU user+sys delta ÷ operations, and
  INFO commandstats µs per EVALSHA), hence events/s per Redis core; and the p99 of each
  call as the client loop sees it. The Python client on a 2-core machine, not Redis, bounds
  one loop, so the client latency is reported apart. Two client shapes: one instance with
  64 calls in flight on its one connection (the gateway's pipelined client writes a loop
  turn's commands together), and 16 instances with 4 in flight each (smaller writes, as
  many instances each sending a little).
* Memory: INFO used_memory delta over N users with one session, with a remembered status,
  then a second and third session each.
* Pub/sub: Redis CPU per change published by the gateway's own broadcaster (the Socket.IO
  channel message and the presence:updates message, of their real size), with k = 1, 4,
  16 subscribed instances (raw connections read by one thread); and the CPU one real
  `presence-gateway serve` process spends receiving changes of users it does not serve.

Run: .venv/bin/python benchmarks/redis_capacity.py [--users 20000] [--seconds 3]
     (or `make capacity`); writes docs/scaling.json and the measured tables of
     docs/scaling.md. About a minute and a half.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import hiredis
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.capacity_model import Costs, Load, one_channel_users, plan, receive_wall_users  # noqa: E402
from benchmarks.harness.procs import usage  # noqa: E402
from presence_gateway.domain.ports import SessionMeta  # noqa: E402
from presence_gateway.domain.presence import Choice, PresenceChanged  # noqa: E402
from presence_gateway.entrypoints.wiring.containers import build_container, layer_of  # noqa: E402
from presence_gateway.entrypoints.wiring.settings import RedisSettings, ServerSettings, Settings  # noqa: E402
from tests.e2e.gateway_process import GatewayProcess  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

DOC = ROOT / "docs" / "scaling.md"
FIGURES = ROOT / "docs" / "scaling.json"
SHAPES = {"one instance, 64 in flight": (1, 64), "16 instances, 4 in flight each": (16, 4)}
SUBSCRIBERS = (1, 4, 16)


# ---------------------------------------------------------------- Redis's own accounts


class RedisStats:
    """Redis's CPU and per-command counters, read before and after a phase."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)

    def snapshot(self) -> dict[str, float]:
        cpu = self.client.info("cpu")
        stats = self.client.info("commandstats")
        snap = {
            "cpu": float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
            "cpu_main": float(cpu.get("used_cpu_user_main_thread", 0)) + float(cpu.get("used_cpu_sys_main_thread", 0)),
            "at": time.perf_counter(),
        }
        for name, values in stats.items():
            command = name.removeprefix("cmdstat_")
            snap[f"{command}.calls"] = float(values["calls"])
            snap[f"{command}.usec"] = float(values["usec"])
        return snap

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float], command: str, ops: int) -> dict[str, float]:
        calls = after.get(f"{command}.calls", 0) - before.get(f"{command}.calls", 0)
        usec = after.get(f"{command}.usec", 0) - before.get(f"{command}.usec", 0)
        cpu = after["cpu"] - before["cpu"]
        wall = after["at"] - before["at"]
        return {
            "ops": ops,
            "wall_s": wall,
            "client_ops_per_s": ops / wall,
            "redis_cpu_us_per_op": 1e6 * cpu / ops,
            "redis_busy": cpu / wall,
            f"{command}_calls": calls,
            f"{command}_usec_per_call": usec / calls if calls else 0.0,
            f"{command}_usec_per_op": usec / ops,
            "events_per_core_s": ops / cpu if cpu > 0 else float("inf"),
        }

    def used_memory(self) -> int:
        """``used_memory`` less the clients' buffers (the load's connections are not what a
        user costs), once it holds still: a dict being rehashed holds both tables a while."""

        def read() -> int:
            memory = self.client.info("memory")
            return int(memory["used_memory"]) - int(memory.get("mem_clients_normal", 0))

        last = read()
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            time.sleep(0.1)  # Redis's cron runs every 100 ms
            now = read()
            if now == last:
                break
            last = now
        return last


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


# ---------------------------------------------------------------- the gateway's store


class Instance:
    """One gateway's presence store, built by the container as serve builds it."""

    cluster_keys = False  # the key layout Redis Cluster needs (--cluster-keys)

    def __init__(self, url: str, name: str) -> None:
        settings = Settings(
            redis=RedisSettings(url=url, cluster_keys=self.cluster_keys), server=ServerSettings(instance_id=name)
        )
        self.container = build_container(settings, jwt_secret="capacity")
        self.store = self.container.presence_store()
        self.registry = self.container.registry()
        self.offline_grace = self.container.settings().timing.offline_grace
        self.session_ttl = self.container.settings().timing.session_ttl

    async def start(self) -> None:
        await self.store.load_scripts()

    async def close(self) -> None:
        await layer_of(self.container, "redis_events")().aclose()
        await layer_of(self.container, "redis")().aclose()


class Recorder:
    """Keeps every command the store sends through its pipelined client, packed as sent,
    so the same commands can be replayed faster than a Python loop makes them."""

    def __init__(self, instance: Instance) -> None:
        events = layer_of(instance.container, "redis_events")()
        self._execute = events.execute
        self.phase = ""
        self.packed: dict[str, list[bytes]] = {}
        events.execute = self  # the instance attribute shadows the method evalsha calls

    async def __call__(self, *args):
        self.packed.setdefault(self.phase, []).append(hiredis.pack_command(args))
        return await self._execute(*args)


def replay(port: int, commands: list[bytes], depth: int = 500) -> int:
    """Send ``commands`` on one raw connection, two batches of ``depth`` in flight, so
    Redis always has work; returns how many replies were errors."""
    errors = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        reader = hiredis.Reader()
        batches = [commands[i : i + depth] for i in range(0, len(commands), depth)]
        pending: list[int] = []

        def read(count: int) -> None:
            nonlocal errors
            while count:
                reply = reader.gets()
                if reply is False:
                    reader.feed(sock.recv(1 << 20))
                    continue
                if isinstance(reply, hiredis.ReplyError):
                    errors += 1
                count -= 1

        for batch in batches:
            sock.sendall(b"".join(batch))
            pending.append(len(batch))
            if len(pending) > 1:
                read(pending.pop(0))
        for count in pending:
            read(count)
    return errors


def user_id() -> str:
    return str(uuid.uuid4())  # a JWT `sub` as many identity providers write it


def session_id() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, as python-engineio's sids


def meta() -> SessionMeta:
    return SessionMeta(device="web", connected_at=time.time(), ip="203.0.113.7")


async def drive(instances: list[Instance], work: dict[int, list], call, in_flight: int, seconds: float | None):
    """Run ``call(instance, item)`` over each instance's items, ``in_flight`` at a time per
    instance; once through (seconds None) or cycling until ``seconds`` pass."""
    latencies: list[float] = []
    deadline = None if seconds is None else time.perf_counter() + seconds
    done = 0

    async def worker(instance: Instance, items) -> None:
        nonlocal done
        perf = time.perf_counter
        for item in items:
            if deadline is not None and perf() > deadline:
                return
            started = perf()
            await call(instance, item)
            latencies.append(perf() - started)
            done += 1

    tasks = []
    for index, instance in enumerate(instances):
        source = work[index]
        shared = itertools.cycle(source) if seconds is not None else iter(source)
        tasks += [worker(instance, shared) for _ in range(in_flight)]
    await asyncio.gather(*tasks)
    return done, latencies


async def measure_events(url: str, port: int, stats: RedisStats, users: int, seconds: float) -> dict:
    results: dict[str, dict] = {}
    recorded: dict[str, list[bytes]] = {}
    for shape, (count, in_flight) in SHAPES.items():
        stats.client.flushall()
        instances = [Instance(url, f"capacity-{n}") for n in range(count)]
        for instance in instances:
            await instance.start()
        await seed_epoch(instances[0])
        recorder = Recorder(instances[0]) if not recorded else None
        registry = instances[0].registry
        per = users // count
        work = {n: [(user_id(), session_id(), meta()) for _ in range(per)] for n in range(count)}
        ttl = instances[0].session_ttl
        grace = instances[0].offline_grace
        flip = itertools.cycle(["DND", "ONLINE"])

        async def connect(instance, item):
            await instance.store.register(item[0], item[1], item[2], time.time() + ttl)  # noqa: B023 (run within this iteration)

        async def ping(instance, item):
            await instance.store.touch(item[0], item[1], item[2], time.time() + ttl)  # noqa: B023 (run within this iteration)

        async def update(instance, item):
            status = registry.choosable(next(flip))  # noqa: B023 (run within this iteration)
            now = time.time()
            await instance.store.choose(
                item[0], item[1], item[2], _choice(status), now + ttl, registry.decays_at(status.name, now)  # noqa: B023 (run within this iteration)
            )

        async def disconnect(instance, item):
            await instance.store.end(item[0], item[1], time.time() + grace)  # noqa: B023 (run within this iteration)

        shape_results = {}
        for name, call, timed in (
            ("connect", connect, None), ("ping", ping, seconds), ("update", update, seconds),
            ("disconnect", disconnect, None),
        ):
            if recorder is not None:
                recorder.phase = name
            before = stats.snapshot()
            ops, latencies = await drive(instances, work, call, in_flight, timed)
            after = stats.snapshot()
            figures = RedisStats.delta(before, after, "evalsha", ops)
            figures["client_p50_ms"] = 1e3 * percentile(latencies, 0.50)
            figures["client_p99_ms"] = 1e3 * percentile(latencies, 0.99)
            shape_results[name] = figures
            print(f"  {shape:32} {name:10} {figures['redis_cpu_us_per_op']:6.1f} µs Redis CPU/op"
                  f" ({figures['evalsha_usec_per_call']:4.1f} in the script)"
                  f"  {figures['events_per_core_s']:8.0f}/s per core  client {figures['client_ops_per_s']:6.0f}/s"
                  f"  p99 {figures['client_p99_ms']:.2f} ms  Redis busy {100 * figures['redis_busy']:.0f} %", flush=True)

        # The sweeper ends each user's grace once it is due: one claim per batch, then one
        # script call per user, in the pipeline the sweeper uses.
        before = stats.snapshot()
        settled = 0
        for instance in instances[:1]:  # any instance's sweeper settles every due grace
            while True:
                batch = await instance.store.settle_due_graces(time.time() + grace + 1, 1000)
                if not batch:
                    break
                settled += len(batch)
        after = stats.snapshot()
        figures = RedisStats.delta(before, after, "evalsha", max(1, settled))
        figures["client_p99_ms"] = None
        figures["client_p50_ms"] = None
        shape_results["grace settled (sweeper)"] = figures
        print(f"  {shape:32} {'settle':10} {figures['redis_cpu_us_per_op']:6.1f} µs Redis CPU/op"
              f" ({figures['evalsha_usec_per_call']:4.1f} in the script)  {settled} users, batches of 1000", flush=True)
        results[shape] = shape_results
        if recorder is not None:
            recorded = recorder.packed
        for instance in instances:
            await instance.close()

    # The commands the one-instance run sent, again, as fast as Redis takes them: on a
    # 2-core machine the Python loop above leaves Redis mostly idle, and an idle Redis
    # pays its wake-ups over fewer commands. Same scripts, keys and arguments, same order.
    # How busy Redis gets then depends on what else the machine runs: it is reported.
    shape = "the same commands replayed at full speed"
    stats.client.flushall()
    instance = Instance(url, "capacity-0")
    await seed_epoch(instance)
    await instance.close()
    results[shape] = {}
    for name in ("connect", "ping", "update", "disconnect"):
        commands = recorded.get(name, [])
        before = stats.snapshot()
        errors = await asyncio.to_thread(replay, port, commands)
        after = stats.snapshot()
        figures = RedisStats.delta(before, after, "evalsha", len(commands))
        figures["errors"] = errors
        figures["client_p50_ms"] = figures["client_p99_ms"] = None
        results[shape][name] = figures
        print(f"  {shape:32} {name:10} {figures['redis_cpu_us_per_op']:6.1f} µs Redis CPU/op"
              f" ({figures['evalsha_usec_per_call']:4.1f} in the script)"
              f"  {figures['events_per_core_s']:8.0f}/s per core  Redis busy {100 * figures['redis_busy']:.0f} %"
              f"  errors {errors}", flush=True)
    return results


def _choice(status) -> Choice:
    return Choice(status.name, status.remembered)


async def seed_epoch(instance: Instance) -> None:
    """As a gateway's first start does: the store learns the remembered statuses (none
    here), so a user with no status hash is known to have chosen nothing."""

    async def nothing():
        return
        yield

    await instance.store.seed_choices(nothing())


# ---------------------------------------------------------------- memory


async def measure_memory(url: str, stats: RedisStats, users: int) -> dict:
    stats.client.flushall()
    instance = Instance(url, "capacity-memory")
    await instance.start()
    await seed_epoch(instance)
    store, registry, ttl = instance.store, instance.registry, instance.session_ttl
    people = [(user_id(), [session_id(), session_id(), session_id()]) for _ in range(users)]
    dnd = registry.choosable("DND")
    steps: dict[str, int] = {"empty": stats.used_memory()}

    async def each(fn):
        sem = asyncio.Semaphore(64)

        async def one(person):
            async with sem:
                await fn(person)

        await asyncio.gather(*(one(p) for p in people))

    await each(lambda p: store.register(p[0], p[1][0], meta(), time.time() + ttl))
    steps["one session"] = stats.used_memory()
    await each(lambda p: store.choose(p[0], p[1][0], meta(), _choice(dnd), time.time() + ttl, None))
    steps["remembered status"] = stats.used_memory()
    await each(lambda p: store.register(p[0], p[1][1], meta(), time.time() + ttl))
    steps["second session"] = stats.used_memory()
    await each(lambda p: store.register(p[0], p[1][2], meta(), time.time() + ttl))
    steps["third session"] = stats.used_memory()
    await instance.close()
    names = list(steps)
    per = {names[i]: (steps[names[i]] - steps[names[i - 1]]) / users for i in range(1, len(names))}
    figures = {
        "users": users,
        "used_memory": steps,
        "bytes_user_one_session": per["one session"],
        "bytes_remembered_status": per["remembered status"],
        "bytes_second_session": per["second session"],
        "bytes_third_session": per["third session"],
        "bytes_user_with_status": per["one session"] + per["remembered status"],
        "keys_after": stats.client.dbsize(),
    }
    print(f"  memory: {figures['bytes_user_one_session']:.0f} B per online user (one session),"
          f" +{figures['bytes_remembered_status']:.0f} B with a remembered status,"
          f" +{figures['bytes_second_session']:.0f} / +{figures['bytes_third_session']:.0f} B"
          f" per second / third session", flush=True)
    return figures


# ---------------------------------------------------------------- pub/sub


class Subscribers:
    """``count`` raw connections subscribed to ``channels`` (as gateway instances routing by
    interest subscribe to the channels of the users they need), read by one thread that
    counts the messages (hiredis parses; nothing else is done with them)."""

    def __init__(self, port: int, channels: list[str], count: int) -> None:
        self.received = [0] * count
        self.sample: bytes | None = None
        self._socks = []
        subscribe = b"".join(
            hiredis.pack_command(("SUBSCRIBE", *channels[i : i + 1000])) for i in range(0, len(channels), 1000)
        )
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(subscribe)
            self._socks.append(sock)
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        import selectors

        selector = selectors.DefaultSelector()
        readers = []
        for index, sock in enumerate(self._socks):
            sock.setblocking(False)
            readers.append(hiredis.Reader())
            selector.register(sock, selectors.EVENT_READ, index)
        while not self._stop:
            for key, _ in selector.select(0.1):
                index = key.data
                try:
                    data = key.fileobj.recv(1 << 20)
                except BlockingIOError:
                    continue
                reader = readers[index]
                reader.feed(data)
                while True:
                    reply = reader.gets()
                    if reply is False:
                        break
                    if reply[0] == b"message":
                        self.received[index] += 1
                        if self.sample is None:
                            self.sample = reply[2]
        selector.close()

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while min(self.received) < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)  # a reader thread's count; bounded by the deadline
        return True

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        for sock in self._socks:
            sock.close()


async def measure_pubsub(url: str, port: int, stats: RedisStats, changes: int) -> dict:
    instance = Instance(url, "capacity-publisher")
    settings = instance.container.settings()
    broadcaster = instance.container.broadcaster()
    await layer_of(instance.container, "redis_events")().execute("PING")  # connected before the first publish
    results: dict = {"changes": changes, "subscribers": {}}
    sample = None
    users = [f"{n:08d}-0000-4000-8000-000000000000" for n in range(changes)]
    keys = layer_of(instance.container, "keys")()
    channels = [keys.user_channel(settings.redis.socketio_channel, user) for user in users]
    for k in SUBSCRIBERS:
        subscribers = Subscribers(port, channels, k)
        while stats.client.pubsub_numsub(channels[-1])[0][1] < k:
            await asyncio.sleep(0.01)  # the readers' SUBSCRIBE reaching Redis
        before = stats.snapshot()
        for n, user in enumerate(users):
            change = PresenceChanged(user, "DND", "DND", "ONLINE", "ONLINE", time.time())
            await broadcaster.publish(change)
            if n % 100 == 99:
                await asyncio.sleep(0)  # the pipelined client writes a loop turn's publishes together
        await asyncio.sleep(0)
        delivered = await asyncio.to_thread(subscribers.wait_for, changes)
        after = stats.snapshot()
        sample = sample or subscribers.sample
        subscribers.close()
        publishes = after.get("publish.calls", 0) - before.get("publish.calls", 0)
        figures = RedisStats.delta(before, after, "publish", changes)
        figures["publishes_per_change"] = publishes / changes
        figures["all_delivered"] = delivered
        results["subscribers"][str(k)] = figures
        print(f"  pub/sub: {k:2} instances subscribed: {figures['redis_cpu_us_per_op']:.1f} µs Redis CPU per change"
              f" ({figures['publishes_per_change']:.0f} PUBLISH each, {figures['publish_usec_per_call']:.2f} µs per"
              f" PUBLISH in commandstats), every change delivered: {delivered}", flush=True)
    await instance.close()
    results["socketio_message_bytes"] = len(sample or b"")
    results["socketio_message"] = (sample or b"").decode()
    results["updates_message_bytes"] = len(
        json.dumps({"userId": "x" * 36, "status": "DND", "previous": "ONLINE",
                    "timestamp": "2026-01-01T00:00:00.000Z", "instance": "host-12345-abcdef"}, separators=(",", ":"))
    )
    ks = [int(k) for k in results["subscribers"]]
    cpu = [results["subscribers"][str(k)]["redis_cpu_us_per_op"] for k in ks]
    slope, intercept = _fit(ks, cpu)
    results["fit_us_per_change"] = {"fixed": intercept, "per_subscriber": slope}
    print(f"  pub/sub fit: {intercept:.2f} µs + {slope:.2f} µs per subscribed instance, per change", flush=True)
    return results, sample


def _fit(xs: list[int], ys: list[float]) -> tuple[float, float]:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return slope, my - slope * mx


def measure_receive(url: str, port: int, message: bytes, workdir: Path, rate: int, seconds: float) -> dict:
    """One real gateway process on this Redis; changes of users it does not serve arrive
    on its Socket.IO channel at ``rate``/s: its CPU per change received."""
    gateway = GatewayProcess(workdir / "gateway", CACHE_HOST="127.0.0.1", CACHE_PORT=str(port), LOG_LEVEL="WARNING")
    gateway.start()
    try:
        pid = gateway.process.pid
        metrics = f"{gateway.url}/metrics"

        def received() -> int:
            text = urllib.request.urlopen(metrics, timeout=5).read().decode()
            found = re.search(r'presence_pubsub_messages_total\{channel="socketio",direction="in"\} (\S+)', text)
            return int(float(found.group(1))) if found else 0

        time.sleep(1.0)  # let the start-up work (seeding, first sweeps) pass before measuring idle
        idle_start = usage(pid)
        time.sleep(1.0)
        idle = usage(pid)
        idle_rate = (idle.cpu_s - idle_start.cpu_s) / (idle.at - idle_start.at)
        publisher = redis.Redis.from_url(url)
        first = received()
        total = int(rate * seconds)
        chunk = max(1, rate // 50)
        start = usage(pid)
        began = time.monotonic()
        sent = 0
        while sent < total:
            with publisher.pipeline(transaction=False) as pipe:
                for _ in range(min(chunk, total - sent)):
                    pipe.publish("socketio", message)
                pipe.execute()
            sent += min(chunk, total - sent)
            pause = began + sent / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # pacing the publisher at the stated rate
        deadline = time.monotonic() + 30
        while received() - first < total and time.monotonic() < deadline:
            time.sleep(0.05)  # until the gateway's own counter has them all
        end = usage(pid)
        got = received() - first
        busy = end.cpu_s - start.cpu_s - idle_rate * (end.at - start.at)
        figures = {
            "rate_per_s": rate,
            "sent": total,
            "received": got,
            "gateway_cpu_us_per_change": 1e6 * busy / max(1, got),
            "gateway_cpu_share_at_rate": busy / (end.at - start.at),
            "idle_cpu_share": idle_rate,
        }
        print(f"  gateway receiving others' changes at {rate}/s: {figures['gateway_cpu_us_per_change']:.1f} µs CPU"
              f" per change ({got}/{total} received)", flush=True)
        return figures
    finally:
        gateway.stop()


# ---------------------------------------------------------------- report


def environment(redis_url: str) -> dict:
    info = redis.Redis.from_url(redis_url).info("server")
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    source = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "source": source.strip(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "redis_server": info["redis_version"],
        "redis_py": redis.__version__,
        "load_average_at_start": list(os.getloadavg()),
    }


def highest(figures: dict, op: str) -> float:
    """An operation's Redis CPU, the highest any client shape measured, in seconds."""
    return max(shape[op]["redis_cpu_us_per_op"] for shape in figures["events"].values() if op in shape) / 1e6


def costs_from(figures: dict, instance_figures: dict) -> Costs:
    fit = figures["pubsub"]["fit_us_per_change"]
    memory = figures["memory"]
    return Costs(
        connect_s=highest(figures, "connect"),
        ping_s=highest(figures, "ping"),
        update_s=highest(figures, "update"),
        disconnect_s=highest(figures, "disconnect"),
        settle_s=highest(figures, "grace settled (sweeper)"),
        publish_s=max(0.0, fit["fixed"]) / 1e6,
        publish_per_subscriber_s=max(0.0, fit["per_subscriber"]) / 1e6,
        user_bytes=memory["bytes_user_with_status"],
        extra_session_bytes=(memory["bytes_second_session"] + memory["bytes_third_session"]) / 2,
        sockets_per_instance=instance_figures["sockets"],
        instance_cpu_at_capacity=instance_figures["cpu"],
        receive_s=figures["receive"]["gateway_cpu_us_per_change"] / 1e6,
    )


def benchmark_instance() -> dict:
    """The per-instance figures of docs/benchmarks.md: its capacity scenario (idle sockets
    held with pings every 30 s, the CPU and RSS there) and its steady-ping CPU scenario."""
    data = json.loads((ROOT / "docs" / "benchmarks.json").read_text())
    figures = data["figures"]
    capacity = figures["capacity"]["gateway"][0]["values"]
    cpu_runs = sorted(run["values"]["cpu_pct"] / run["values"]["pings_per_s"] for run in figures["cpu"]["gateway"])
    memory_runs = sorted(run["values"]["kib_per_conn"] for run in figures["memory"]["gateway"])
    return {
        "date": data["environment"]["date"],
        "sockets": int(capacity["max_held"]),
        "cpu": capacity["at_cpu"] / 100,
        "rss_mib": capacity["at_rss"],
        "p99_ms": capacity["at_p99"],
        "cpu_ms_per_ping": 10 * cpu_runs[len(cpu_runs) // 2],  # % of a core per ping/s → ms
        "kib_per_socket": memory_runs[len(memory_runs) // 2],
    }


def write_doc(figures: dict, costs: Costs) -> None:
    from benchmarks.capacity_report import measured_section, plan_section

    text = DOC.read_text()
    for marker, body in (("measured", measured_section(figures)), ("plan", plan_section(figures, costs))):
        start, end = f"<!-- {marker}: generated by benchmarks/redis_capacity.py -->", f"<!-- end {marker} -->"
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        text = f"{before}{start}\n{body}\n{end}{after}"
    DOC.write_text(text)


def render() -> None:
    """The page again from docs/scaling.json, without measuring."""
    figures = json.loads(FIGURES.read_text())
    write_doc(figures, Costs(**figures["costs"]))
    print(f"wrote {DOC.relative_to(ROOT)} from {FIGURES.relative_to(ROOT)}")


async def main_async(args: argparse.Namespace) -> None:
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="redis-capacity-") as tmp:
        server = RedisServer(Path(tmp) / "redis").start()
        try:
            figures: dict = {
                "environment": environment(server.url), "users": args.users, "seconds": args.seconds,
                "cluster_keys": args.cluster_keys,
            }
            stats = RedisStats(server.url)
            print(f"Redis {figures['environment']['redis_server']} on port {server.port}", flush=True)
            figures["events"] = await measure_events(server.url, server.port, stats, args.users, args.seconds)
            figures["memory"] = await measure_memory(server.url, stats, args.users)
            figures["pubsub"], sample = await measure_pubsub(server.url, server.port, stats, args.changes)
            stats.client.flushall()
            figures["receive"] = measure_receive(server.url, server.port, sample, Path(tmp), args.rate, args.seconds)
            stats.client.close()
        finally:
            server.stop()
    figures["environment"]["load_average_at_end"] = list(os.getloadavg())
    figures["elapsed_s"] = round(time.monotonic() - began, 1)
    instance = benchmark_instance()
    figures["instance"] = instance
    costs = costs_from(figures, instance)
    figures["costs"] = asdict(costs)
    figures["plans"] = {str(n): asdict(plan(Load(users=n), costs)) for n in (1_000_000, 10_000_000)}
    figures["limits"] = {
        "receive_half_core_users": receive_wall_users(Load(users=1), costs),
        "one_channel_users": one_channel_users(Load(users=1), costs),
    }
    if args.write:
        FIGURES.write_text(json.dumps(figures, indent=1) + "\n")
        write_doc(figures, costs)
        print(f"wrote {FIGURES.relative_to(ROOT)} and {DOC.relative_to(ROOT)}")
    print(f"done in {figures['elapsed_s']} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20000, help="users per phase (default 20000)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of the timed phases (default 3)")
    parser.add_argument("--changes", type=int, default=20000, help="changes published per subscriber count")
    parser.add_argument("--rate", type=int, default=4000, help="changes/s sent to the real gateway (default 4000)")
    parser.add_argument("--cluster-keys", action="store_true", help="the key layout of PRESENCE_REDIS_CLUSTER_KEYS")
    parser.add_argument("--no-write", dest="write", action="store_false", help="print only")
    parser.add_argument("--render", action="store_true", help="write the page from docs/scaling.json, measure nothing")
    args = parser.parse_args()
    if args.render:
        render()
        return
    Instance.cluster_keys = args.cluster_keys
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
