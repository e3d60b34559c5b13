"""What each scenario does, which servers it applies to, and the figures it yields.

A scenario's runner starts the server kind fresh, drives it with the Node load client and
returns one `Outcome`: flat figures keyed as the scenario's `Metric`s, the CPU seconds the
load client used, and the warning/error lines of the gateway's log. `memory`, `ping` and
`cpu` share one server start per run (the `idle` group: memory first, on a fresh process)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from . import load
from .gateway_log import notable_log_lines
from .servers import GATEWAY_KINDS, BenchDatabase, Stack, running

PING_P99_LIMIT_MS = 50.0
CLEANUP_LIMIT_S = 30.0
CLEANUP_POLL_S = 0.005

FULL = dict(
    storm=2000, concurrency=100, cleanup=2000, idle=1000, pings=2000, cpu_seconds=10,
    cross_rate=500, cross_seconds=5, watchers=1000, changes=20,
    hold_size=5000, probe_count=200, probe_gap_ms=25, capacity_at=15000, capacity_max=None, held=15000,
)
QUICK = dict(
    storm=300, concurrency=50, cleanup=300, idle=200, pings=300, cpu_seconds=3,
    cross_rate=200, cross_seconds=2, watchers=100, changes=5,
    hold_size=500, probe_count=40, probe_gap_ms=20, capacity_at=1000, capacity_max=1000, held=1000,
)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    better: str = ""  # "higher", "lower", or "" (context, no direction)
    digits: int = 1


@dataclass
class Outcome:
    values: dict[str, float | None]
    client_cpu_s: float
    log_lines: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    detail: dict = field(default_factory=dict)


@dataclass
class Context:
    root: Path
    secret: str
    database: BenchDatabase | None
    size: dict
    nofile: int
    counter: int = 0

    def workdir(self, name: str) -> Path:
        self.counter += 1
        return self.root / f"{self.counter:03d}-{name}"


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    definition: str
    servers: tuple[str, ...]
    metrics: tuple[Metric, ...]
    runner: Callable[[Context, str], Outcome]
    group: str = ""  # scenarios of one group share one server start per run
    single_run: bool = False  # measured once per server, whatever --runs says
    client_cpu_phase: str = ""  # in a group: the load client's CPU of this scenario's phase


def _logs(stack: Stack) -> Counter:
    total: Counter = Counter()
    if stack.kind in GATEWAY_KINDS:
        for path in stack.logs:
            total += notable_log_lines(path)
    return total


def _failures(kind: str, failures: dict | None) -> list[str]:
    return [f"{kind}: {count} x {message}" for message, count in (failures or {}).items()]


# ---------------------------------------------------------------- connect storms


def _storm(transports: str) -> Callable[[Context, str], Outcome]:
    def run(ctx: Context, kind: str) -> Outcome:
        size = ctx.size
        with running(kind, ctx.workdir(f"storm-{kind}"), ctx.secret, ctx.database) as stack:
            usage: dict = {}
            command = load.node_command(
                "storm", stack.main.url, clients=size["storm"], concurrency=size["concurrency"],
                transports=transports, prefix="st", sync=True,
            )
            on_sample = lambda label, _n, _reply: usage.__setitem__(label, stack.main.usage())  # noqa: E731
            outcome = load.run(command, ctx.secret, on_sample)
            r = outcome.result
            cpu = usage["done"].cpu_s - usage["start"].cpu_s if {"done", "start"} <= usage.keys() else None
            values = {
                "per_s": r["perSecond"], "p50": r["connectMs"]["p50"], "p99": r["connectMs"]["p99"],
                "failed": r["requested"] - r["connected"], "server_cpu": cpu,
            }
            notes = _failures(kind, r["failures"])
            if transports == "default":
                values["on_ws"] = r["onWebsocketAtEnd"]
            return Outcome(values, outcome.client_cpu_s, _logs(stack), notes)

    return run


STORM_METRICS = (
    Metric("per_s", "connects/s", "higher"),
    Metric("p50", "time to `connected` p50 ms", "lower", 2),
    Metric("p99", "time to `connected` p99 ms", "lower", 2),
    Metric("failed", "clients that did not connect", "lower", 0),
    Metric("server_cpu", "server CPU s during the storm", "lower", 2),
)


# ---------------------------------------------------------------- cleanup

_COUNT_KEYS = """
local hashes, members = 0, 0
local h = tonumber(ARGV[1])
for i = 1, h do hashes = hashes + redis.call('EXISTS', KEYS[i]) end
for i = h + 1, #KEYS do members = members + redis.call('SCARD', KEYS[i]) end
return {hashes, members}
"""


def run_cleanup(ctx: Context, kind: str) -> Outcome:
    with running(kind, ctx.workdir(f"cleanup-{kind}"), ctx.secret, ctx.database) as stack:
        assert stack.redis is not None
        client = redis.Redis(host="127.0.0.1", port=stack.redis.port)
        count_keys = client.register_script(_COUNT_KEYS)
        state: dict = {}
        live = load.LoadRun()

        def keys_left(keys: list[str], hashes: int) -> int:
            found_hashes, found_members = count_keys(keys=keys, args=[hashes])
            return int(found_hashes) + int(found_members)

        def on_sample(label: str, _n: int, reply: load.Reply) -> None:
            if label != "close":
                return
            ids = live.lines["IDS"][0]
            users = sorted({user for user, _sid in ids})
            keys = [f"presence:{user}:{sid}" for user, sid in ids] + [f"presence:sockets:{user}" for user in users]
            state["before"] = keys_left(keys, len(ids))
            cpu_before = stack.main.usage()
            started = time.monotonic()
            reply()  # the clients close all at once now
            left = state["before"]
            while left and time.monotonic() - started < CLEANUP_LIMIT_S:
                time.sleep(CLEANUP_POLL_S)  # a poll of Redis, bounded by CLEANUP_LIMIT_S
                left = keys_left(keys, len(ids))
            state["seconds"] = time.monotonic() - started if left == 0 else None
            state["server_cpu"] = stack.main.usage().cpu_s - cpu_before.cpu_s
            state["left"] = left

        command = load.node_command(
            "cleanup", stack.main.url, clients=ctx.size["cleanup"], concurrency=ctx.size["concurrency"], prefix="cu", sync=True
        )
        outcome = load.run(command, ctx.secret, on_sample, outcome=live)
        client.close()
        r = outcome.result
        notes = _failures(kind, r["failures"])
        if state.get("before") != 2 * r["connected"]:
            notes.append(f"{kind}: {state.get('before')} socket keys before the close, expected {2 * r['connected']}")
        values = {key: state.get(key) for key in ("seconds", "left", "before", "server_cpu")}
        return Outcome(values, outcome.client_cpu_s, _logs(stack), notes)


CLEANUP_METRICS = (
    Metric("seconds", "seconds until every socket key is gone", "lower", 3),
    Metric("left", f"socket keys left after {CLEANUP_LIMIT_S:.0f} s", "lower", 0),
    Metric("before", "socket keys before the close (hashes + set members)", "", 0),
    Metric("server_cpu", "server CPU s from the close until the keys were gone", "lower", 3),
)


# ---------------------------------------------------------------- idle: memory, ping, cpu


def run_idle(ctx: Context, kind: str) -> Outcome:
    size = ctx.size
    with running(kind, ctx.workdir(f"idle-{kind}"), ctx.secret, ctx.database) as stack:
        usage: dict = {}
        command = load.node_command(
            "idle", stack.main.url, clients=size["idle"], concurrency=size["concurrency"], pings=size["pings"],
            cpu_seconds=size["cpu_seconds"], prefix="id", sync=True,
        )
        outcome = load.run(command, ctx.secret, lambda label, _n, _r: usage.__setitem__(label, stack.main.usage()))
        r = outcome.result
        connected = r["connected"]
        grown = usage["idle_ready"].rss_kib - usage["baseline"].rss_kib
        load_run = r["cpuLoad"]
        values = {
            "kib_per_conn": grown / connected if connected else None,
            "rss_idle": usage["idle_ready"].rss_kib / 1024,
            "connected": connected,
            "ping_p50": r["ping"]["ms"]["p50"], "ping_p99": r["ping"]["ms"]["p99"], "ping_max": r["ping"]["ms"]["max"],
            "ping_failed": r["ping"]["requested"] - r["ping"]["ms"]["n"],
            "cpu_pct": usage["cpu_end"].cpu_percent_since(usage["cpu_start"]),
            "pings_per_s": load_run["sent"] / load_run["wallS"] if load_run["wallS"] else None,
            "pongs_pct": 100.0 * load_run["received"] / load_run["sent"] if load_run["sent"] else None,
        }
        notes = _failures(kind, r["connectFailures"]) + _failures(kind, r["ping"]["failures"])
        if r["upgraded"] < connected:
            notes.append(f"{kind}: only {r['upgraded']}/{connected} idle clients on websocket")
        detail = {"clientCpu": {"connect": r["connectCpuS"], "ping": r["ping"]["cpuS"], "cpuLoad": load_run["cpuS"]}}
        return Outcome(values, outcome.client_cpu_s, _logs(stack), notes, detail)


MEMORY_METRICS = (
    Metric("kib_per_conn", "KiB RSS per idle websocket connection", "lower"),
    Metric("rss_idle", "RSS with them connected MiB", "lower"),
    Metric("connected", "idle clients connected", "", 0),
)
PING_METRICS = (
    Metric("ping_p50", "ping → pong p50 ms", "lower", 2),
    Metric("ping_p99", "ping → pong p99 ms", "lower", 2),
    Metric("ping_max", "ping → pong max ms", "lower", 2),
    Metric("ping_failed", "pings unanswered in 5 s", "lower", 0),
)
CPU_METRICS = (
    Metric("cpu_pct", "server CPU % of one core", "lower"),
    Metric("pings_per_s", "pings sent per second", "", 0),
    Metric("pongs_pct", "pongs received %", "higher", 1),
)


# ---------------------------------------------------------------- cross-instance


def run_cross(ctx: Context, kind: str) -> Outcome:
    size = ctx.size
    # The gateway measures how long its event loop is held (PRESENCE_LOOP_MONITOR): a
    # durable write or anything else that holds it delays every socket.
    monitor = {"PRESENCE_LOOP_MONITOR": "1"}
    with running(kind, ctx.workdir(f"cross-{kind}"), ctx.secret, ctx.database, instances=2, gateway_env=monitor) as stack:
        one, two = stack.instances
        command = load.node_command(
            "cross", one.url, url2=two.url, rate=size["cross_rate"], seconds=size["cross_seconds"], prefix="cx"
        )
        if kind in GATEWAY_KINDS:
            for instance in stack.instances:
                _loop_figures(instance.url, reset=True)
        outcome = load.run(command, ctx.secret)
        r = outcome.result
        sent = r["sent"] or 1
        values = {
            "other_p50": r["other"]["p50"], "other_p99": r["other"]["p99"],
            "other_pct": 100.0 * r["other"]["delivered"] / sent,
            "own_p50": r["own"]["p50"], "own_p99": r["own"]["p99"], "own_pct": 100.0 * r["own"]["delivered"] / sent,
            "rate": r["rateAchieved"],
        }
        if kind in GATEWAY_KINDS:
            stalls = [_loop_figures(instance.url) for instance in stack.instances]
            values["loop_max"] = max(f.get("max_ms", 0.0) for f in stalls)
            values["loop_p99"] = max(f.get("p99_ms", 0.0) for f in stalls)
        return Outcome(values, outcome.client_cpu_s, _logs(stack))


def _loop_figures(url: str, reset: bool = False) -> dict:
    """The gateway's event-loop stall figures since the last reset (GET /debug/loop)."""
    with urllib.request.urlopen(f"{url}/debug/loop{'?reset=1' if reset else ''}", timeout=5) as response:
        return json.loads(response.read())


CROSS_METRICS = (
    Metric("other_p50", "to the socket on the other instance p50 ms", "lower", 2),
    Metric("other_p99", "to the socket on the other instance p99 ms", "lower", 2),
    Metric("other_pct", "delivered to the other instance %", "higher", 1),
    Metric("own_p50", "back to the sender's own socket p50 ms", "lower", 2),
    Metric("own_p99", "back to the sender's own socket p99 ms", "lower", 2),
    Metric("own_pct", "delivered back to the sender %", "higher", 1),
    Metric("rate", "updates sent per second", "", 0),
    Metric("loop_max", "longest event-loop stall ms (gateway instances, loop monitor on)", "lower", 2),
    Metric("loop_p99", "event-loop stall p99 ms (gateway instances)", "lower", 2),
)


# ---------------------------------------------------------------- fan-out to watchers


def run_fanout(ctx: Context, kind: str) -> Outcome:
    size = ctx.size
    with running(kind, ctx.workdir(f"fanout-{kind}"), ctx.secret, ctx.database) as stack:
        command = load.node_command(
            "fanout", stack.main.url, clients=size["watchers"], concurrency=size["concurrency"], changes=size["changes"],
            watch="subscribe" if kind in GATEWAY_KINDS else "room", prefix="fo",
        )
        outcome = load.run(command, ctx.secret)
        r = outcome.result
        values = {
            "last_p50": r["last"]["p50"], "last_p99": r["last"]["p99"], "first_p50": r["first"]["p50"],
            "complete_pct": 100.0 * r["complete"] / r["changes"], "watchers": r["watchers"],
        }
        notes = _failures(kind, r["connectFailures"]) + _failures(f"{kind} subscribe", r["refused"])
        return Outcome(values, outcome.client_cpu_s, _logs(stack), notes)


FANOUT_METRICS = (
    Metric("last_p50", "until the last watcher has it p50 ms", "lower", 1),
    Metric("last_p99", "until the last watcher has it p99 ms", "lower", 1),
    Metric("first_p50", "until the first watcher has it p50 ms", "lower", 1),
    Metric("complete_pct", "changes every watcher received %", "higher", 0),
    Metric("watchers", "watchers connected", "", 0),
)


# ---------------------------------------------------------------- capacity


NOFILE_SPARE = 1000


def capacity_steps(size: dict, nofile: int) -> list[int]:
    """Multiples of the holder size the open-files limit leaves room for (1000 spare)."""
    step = size["hold_size"]
    limit = size["capacity_max"] or min(nofile - NOFILE_SPARE, 60_000)
    return [n for n in range(step, limit + 1, step)] or [step]


SETTLE_MIN_S = 2.0
SETTLE_MAX_S = 30.0
PROBES_PER_STEP = 2


def _probe_passed(probe: dict) -> bool:
    p99 = probe["ms"]["p99"]
    return p99 is not None and p99 < PING_P99_LIMIT_MS and not probe["failures"]


def _settle(holder: load.Holder) -> float:
    """Wait until the connect storm's tail is worked off — 10 pings in a row each answered
    under the p99 limit — at least SETTLE_MIN_S, at most SETTLE_MAX_S: the figure is about
    holding idle sockets, not about the storm that brought them."""
    started = time.monotonic()
    time.sleep(SETTLE_MIN_S)
    while time.monotonic() - started < SETTLE_MAX_S:
        check = holder.probe(10, 0)
        if not check["failures"] and check["ms"]["max"] is not None and check["ms"]["max"] < PING_P99_LIMIT_MS:
            break
        time.sleep(1.0)  # the server is still busy; look again, bounded by SETTLE_MAX_S
    return time.monotonic() - started


def run_capacity(ctx: Context, kind: str) -> Outcome:
    size = ctx.size
    steps: list[dict] = []
    client_cpu = 0.0
    with running(kind, ctx.workdir(f"capacity-{kind}"), ctx.secret, ctx.database) as stack:
        holders: list[load.Holder] = []
        try:
            total = 0
            for index, target in enumerate(capacity_steps(size, ctx.nofile)):
                holder = load.Holder(load.node_command(
                    "hold", stack.main.url, clients=size["hold_size"], concurrency=size["concurrency"],
                    prefix=f"cap{index}", ping_every=30_000,
                ), ctx.secret)
                holders.append(holder)
                try:
                    held = holder.held()
                    total += held["connected"]
                    settle_s = _settle(holder)
                    for attempt in range(PROBES_PER_STEP):  # noqa: B007 (counted after the loop) a second probe when the first fails: noise
                        before = stack.main.usage()
                        probe = holder.probe(size["probe_count"], size["probe_gap_ms"])
                        after = stack.main.usage()
                        if _probe_passed(probe):
                            break
                except load.LoadFailed as error:  # a saturated server fails the step, not the run
                    steps.append({"target": target, "connected": total, "ok": False, "error": str(error)})
                    break
                ms = probe["ms"]
                ok = total >= 0.99 * target and _probe_passed(probe)
                steps.append({
                    "target": target, "connected": total, "connect_s": held["connectS"], "failures": held["failures"],
                    "settle_s": settle_s, "probes": attempt + 1,
                    "p50": ms["p50"], "p99": ms["p99"], "max": ms["max"], "probe_failures": probe["failures"],
                    "cpu_pct": after.cpu_percent_since(before), "rss_mib": after.rss_kib / 1024, "ok": ok,
                })
                print(f"[bench]   capacity {kind}: {total}/{target} held, ping p99 {ms['p99']} ms, "
                      f"CPU {steps[-1]['cpu_pct']:.0f} %, RSS {steps[-1]['rss_mib']:.0f} MiB", flush=True,
                      file=__import__("sys").stderr)
                if not ok:
                    break
        finally:
            for holder in holders:
                client_cpu += holder.close()
        logs = _logs(stack)
    passed = [s for s in steps if s["ok"]]
    at = next((s for s in steps if s["target"] == size["capacity_at"]), None)
    values = {
        "max_held": passed[-1]["connected"] if passed else 0,
        "at_rss": at["rss_mib"] if at else None, "at_p99": at["p99"] if at else None,
        "at_cpu": at["cpu_pct"] if at else None,
    }
    notes = [f"{kind}: step {s['target']}: {s.get('failures') or s.get('error')}" for s in steps
             if s.get("failures") or s.get("error")]
    return Outcome(values, client_cpu, logs, notes, {"steps": steps})


def capacity_metrics(at: int) -> tuple[Metric, ...]:
    return (
        Metric("max_held", f"most idle sockets held with ping p99 < {PING_P99_LIMIT_MS:.0f} ms", "higher", 0),
        Metric("at_rss", f"RSS at {at} MiB", "lower", 0),
        Metric("at_p99", f"ping p99 at {at} ms", "lower", 2),
        Metric("at_cpu", f"CPU % at {at} (pings every 30 s)", "lower", 1),
    )


# ---------------------------------------------------------------- many idle connections at once


def run_held(ctx: Context, kind: str) -> Outcome:
    """``held`` idle sockets in client processes of ``hold_size`` each (one Node process
    would be the bottleneck), pinging every 30 s; once settled, RSS, and CPU and ping
    p99 over a probe window in which every client process probes in turn."""
    size = ctx.size
    target, per = size["held"], size["hold_size"]
    client_cpu = 0.0
    with running(kind, ctx.workdir(f"held-{kind}"), ctx.secret, ctx.database) as stack:
        holders: list[load.Holder] = []
        try:
            connected, failures = 0, {}
            for index, start in enumerate(range(0, target, per)):
                holder = load.Holder(load.node_command(
                    "hold", stack.main.url, clients=min(per, target - start), concurrency=size["concurrency"],
                    prefix=f"held{index}", ping_every=30_000,
                ), ctx.secret)
                holders.append(holder)
                held = holder.held()
                connected += held["connected"]
                failures.update(held["failures"] or {})
            settle_s = _settle(holders[-1])
            before = stack.main.usage()
            samples, lost = [], 0
            for holder in holders:
                probe = holder.probe(max(1, size["probe_count"] // len(holders)), size["probe_gap_ms"])
                samples.append(probe["ms"])
                lost += sum((probe["failures"] or {}).values())
            after = stack.main.usage()
        finally:
            for holder in holders:
                client_cpu += holder.close()
        logs = _logs(stack)
    p99s = [ms["p99"] for ms in samples if ms["p99"] is not None]
    values = {
        "held": connected, "rss_mib": after.rss_kib / 1024, "kib_per_conn": after.rss_kib / max(1, connected),
        "cpu_pct": after.cpu_percent_since(before), "ping_p99": max(p99s) if p99s else None,
        "ping_failed": lost, "settle_s": settle_s,
    }
    return Outcome(values, client_cpu, logs, _failures(kind, failures))


HELD_METRICS = (
    Metric("held", "idle websocket sockets held", "", 0),
    Metric("rss_mib", "RSS with them held MiB", "lower", 0),
    Metric("kib_per_conn", "RSS per held socket KiB (the whole process ÷ sockets)", "lower", 1),
    Metric("cpu_pct", "server CPU % of one core while sampled (pings every 30 s)", "lower", 1),
    Metric("ping_p99", "ping → pong p99 ms while sampled (worst client process)", "lower", 2),
    Metric("ping_failed", "probe pings unanswered", "lower", 0),
    Metric("settle_s", "seconds until 10 pings in a row came back fast", "lower", 1),
)


# ---------------------------------------------------------------- the list

ALL_SINGLE = ("gateway", "embedded", "uvicorn", "node", "bare")
REDIS_ONLY = ("gateway", "uvicorn", "node", "bare")


def scenarios(size: dict, nofile: int = 1024) -> list[Scenario]:
    s = size
    steps = capacity_steps(size, nofile)
    beyond = steps[-1] + s["hold_size"]
    why_stop = (f"the next, {beyond}, would not leave {NOFILE_SPARE} descriptors spare under the open-files limit "
                f"of {nofile}" if not s["capacity_max"] else "the quick run stops there")
    return [
        Scenario("storm_ws", "Connect storm, websocket only",
                 f"{s['storm']} clients connect, {s['concurrency']} at a time, transport websocket only; each counts "
                 "when its `connected` greeting arrives (so the server's Redis writes are in the time).",
                 ALL_SINGLE, STORM_METRICS, _storm("websocket")),
        Scenario("storm_polling", "Connect storm, default transports (polling, then upgrade)",
                 f"The same {s['storm']} clients with socket.io-client's default transports, as a browser: an HTTP "
                 "long-polling handshake first, then the upgrade to websocket.",
                 ALL_SINGLE, (*STORM_METRICS, Metric("on_ws", "on websocket when the last one connected", "", 0)),
                 _storm("default")),
        Scenario("cleanup", "Cleanup after a mass disconnect",
                 f"{s['cleanup']} connected websocket clients all close at once; the harness polls Redis every "
                 f"{CLEANUP_POLL_S * 1000:.0f} ms (one Lua call counting the `presence:{{u}}:{{sid}}` hashes and the "
                 f"members of `presence:sockets:{{u}}`) until none is left, for at most {CLEANUP_LIMIT_S:.0f} s.",
                 REDIS_ONLY, CLEANUP_METRICS, run_cleanup),
        Scenario("memory", "Idle memory per websocket connection",
                 f"RSS of the server (its process tree) after warm-up, then with {s['idle']} idle websocket clients "
                 "connected and settled 2 s; the clients offer permessage-deflate (Node's `ws` default), and each "
                 "server answers as configured by default (see the settings).",
                 ALL_SINGLE, MEMORY_METRICS, run_idle, group="idle", client_cpu_phase="connect"),
        Scenario("ping", "Ping round trip",
                 f"{s['pings']} `ping` → `pong` round trips, one at a time, over the {s['idle']} idle websocket "
                 "clients in turn (same server start as the memory figure, right after it).",
                 ALL_SINGLE, PING_METRICS, run_idle, group="idle", client_cpu_phase="ping"),
        Scenario("cpu", "Server CPU under steady pings",
                 f"The {s['idle']} idle websocket clients each emit `ping` once per second (spread evenly) for "
                 f"{s['cpu_seconds']} s; server CPU from /proc/PID/stat (utime+stime of the process tree) over that "
                 "window, in % of one core.",
                 ALL_SINGLE, CPU_METRICS, run_idle, group="idle", client_cpu_phase="cpuLoad"),
        Scenario("cross", "Cross-instance delivery",
                 f"Two instances of the same server on one Redis; user X has socket A on instance 1 and socket B on "
                 f"instance 2. A emits `presence:update` alternating DND/ONLINE open loop at {s['cross_rate']}/s for "
                 f"{s['cross_seconds']} s; time from each emit until B (and A itself) receives the matching "
                 "`presence:updated` (the k-th arrival matches the oldest unmatched send of that status). The "
                 "gateway runs on PostgreSQL and, in its own column, on Redis plus one SQLite file both instances "
                 "share (`DATABASE_URL=sqlite:///…`).",
                 ("gateway", "gateway-sqlite", "uvicorn", "node", "bare"), CROSS_METRICS, run_cross),
        Scenario("fanout", "One change watched by many sockets",
                 f"{s['watchers']} sockets watch user X (the gateway: each `presence:subscribe` to X, the README's "
                 "watcher API; the peers: they are sockets in room `user:X`, the only way they offer); X's own socket "
                 f"changes status {s['changes']} times (DND/ONLINE), 100 ms apart; time from the emit until the last "
                 "watcher has the change.",
                 ALL_SINGLE, FANOUT_METRICS, run_fanout),
        Scenario("held", f"{s['held']} idle websocket connections in one process",
                 f"{s['held']} websocket sockets connect from client processes of {s['hold_size']} each (one Node "
                 "process would be the bottleneck), each emitting the guide's `ping` every 30 s (first at a random "
                 f"point), so {s['held'] // 30} pings a second reach the server. Once 10 pings in a row come back "
                 f"under {PING_P99_LIMIT_MS:.0f} ms (as in the capacity scenario), each client process in turn sends "
                 f"{s['probe_count']} probe pings in all, one at a time {s['probe_gap_ms']} ms apart: server CPU "
                 "(process tree) over that window, RSS at its end, and the worst client process's ping p99. The "
                 f"server's open-files limit must exceed {s['held']} (the harness raises the soft limit to the hard "
                 "one).",
                 REDIS_ONLY, HELD_METRICS, run_held),
        Scenario("capacity", "Idle connections one process holds",
                 f"Client processes of {s['hold_size']} websocket sockets each are added one at a time; every socket "
                 "emits the guide's `ping` every 30 s (first at a random point). After each step the harness waits "
                 f"until 10 pings in a row come back under {PING_P99_LIMIT_MS:.0f} ms (at least {SETTLE_MIN_S:.0f} s, "
                 f"at most {SETTLE_MAX_S:.0f} s: the connect storm's tail is not what this measures), then "
                 f"{s['probe_count']} probe pings, one at a time {s['probe_gap_ms']} ms apart, give the ping p99 (a "
                 "second probe when the first fails, as one scheduling hiccup of a shared machine fails a probe); "
                 f"stepping stops at the first step that fails (p99 ≥ {PING_P99_LIMIT_MS:.0f} ms, a lost probe, or "
                 f"under 99 % connected). Steps here: {', '.join(str(n) for n in steps)} ({why_stop}). "
                 "CPU % is over the probe window.",
                 REDIS_ONLY, capacity_metrics(s["capacity_at"]), run_capacity, single_run=True),
    ]
