"""Connection benchmark: the gateway measured the way the Node socket.io 4 reference was.

Why this exists: the figures we compare against came from a Node socket.io 4 server
driven by socket.io-client 4. They only compare if our gateway is driven by the same
client, in the same phases, on the same machine, so the load is the Node script in
benchmarks/node/load.mjs and this file only runs the gateway and watches it:

* starts ``presence-gateway serve`` on a free loopback port, with a temporary data
  directory and a random secret, and waits for GET /healthz;
* runs the Node script; when it prints ``SAMPLE <label> <n>`` this reads the gateway's
  VmRSS and CPU time from /proc/PID (the served process is the server itself: there
  is no worker child) and answers on its stdin, so the sample is taken while the
  clients are in a known state;
* stops the gateway with SIGTERM while the last clients are still connected, and
  times how long it takes to exit;
* prints the figures, and the warnings and errors the gateway logged.

The client and the server share the machine's cores, so these are figures for the
pair, not the server alone; the phase table shows how the CPU time was split.

Run: .venv/bin/python benchmarks/connections.py [--deflate] [--clients N] [--idle N]
(stdlib only; ``npm install`` runs in benchmarks/node first if node_modules is missing).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from harness import servers  # noqa: E402
from harness.gateway_log import notable_log_lines  # noqa: E402

NODE_DIR = ROOT / "benchmarks" / "node"
LOAD_SCRIPT = NODE_DIR / "load.mjs"
HEALTH_DEADLINE_S = 30.0
STOP_DEADLINE_S = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# ---------------------------------------------------------------- options, setup


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deflate", action="store_true", help="serve with PRESENCE_WS_DEFLATE=true")
    parser.add_argument("--clients", type=int, default=2000, help="clients in the connect-rate phase (2000)")
    parser.add_argument("--concurrency", type=int, default=100, help="clients connecting at a time (100)")
    parser.add_argument("--idle", type=int, default=1000, help="idle clients for memory and ping (1000)")
    parser.add_argument("--pings", type=int, default=2000, help="ping round trips to time (2000)")
    parser.add_argument("--updates", type=int, default=1000, help="presence updates to time (1000)")
    parser.add_argument("--transports", choices=["default", "websocket"], default="default",
                        help="default: polling then upgrade, as a browser; websocket: websocket only")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up on the load after this many seconds")
    parser.add_argument("--log", type=Path, help="copy the gateway's log here")
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    args = parser.parse_args(argv)
    for name in ("clients", "concurrency", "idle", "pings", "updates"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def ensure_node_modules() -> None:
    if (NODE_DIR / "node_modules" / "socket.io-client").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("benchmarks/node needs npm (Node 18 or newer) to install socket.io-client")
    print("installing socket.io-client in benchmarks/node ...", flush=True)
    subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)


def source_state() -> str:
    """The commit measured, ``-dirty`` when the work tree differs: figures move with the code."""
    try:
        done = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() or "unknown"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------- the gateway process


@dataclass
class Sample:
    label: str
    open_sockets: int
    rss_kib: int
    cpu_s: float


@dataclass
class Gateway:
    process: subprocess.Popen
    port: int
    log_path: Path
    samples: dict[str, Sample] = field(default_factory=dict)
    stop_s: float | None = None
    killed: bool = False
    peak_rss_kib: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _status(self, key: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
        raise KeyError(key)

    def _cpu_s(self) -> float:
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime

    def children(self) -> list[str]:
        tasks = Path(f"/proc/{self.process.pid}/task")
        return [pid for task in tasks.iterdir() for pid in (task / "children").read_text().split()]

    def sample(self, label: str, open_sockets: int) -> Sample:
        taken = Sample(label, open_sockets, self._status("VmRSS"), self._cpu_s())
        self.samples[label] = taken
        return taken

    def stop(self) -> None:
        """SIGTERM to our own child only; time until it exits (SIGKILL it past the deadline)."""
        if self.process.poll() is not None:
            return
        self.peak_rss_kib = self._status("VmHWM")
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.killed = True
            self.process.kill()
            self.process.wait()
        self.stop_s = time.monotonic() - started


def start_gateway(args: argparse.Namespace, workdir: Path, secret: str) -> Gateway:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CACHE_HOST", "REDIS_URL")}
    env.update(
        PRESENCE_ENV="development",
        PRESENCE_DATA_DIR=str(workdir / "data"),
        JWT_SECRET_ACCESS=secret,
        PORT=str(port),
        PRESENCE_WS_DEFLATE="true" if args.deflate else "false",
        # The delivery phase sends --updates events from one socket: past the per-socket
        # budget they would be refused. The budget is still spent (its cost is measured).
        PRESENCE_EVENTS_PER_MINUTE="100000000",
        PRESENCE_USER_EVENTS_PER_MINUTE="100000000",
        PRESENCE_CONNECTS_PER_MINUTE_PER_USER="100000000",
        PRESENCE_CONNECTS_PER_MINUTE_PER_ADDRESS="100000000",
    )
    command = [str(Path(sys.executable).with_name("presence-gateway")), "serve", "--port", str(port)]
    log_path = workdir / "gateway.log"
    with log_path.open("wb") as log_file:  # the child keeps its own descriptor
        process = subprocess.Popen(
            command,
            cwd=workdir,  # so that no developer's ./.env is read
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return Gateway(process, port, log_path)


def wait_healthy(gateway: Gateway) -> None:
    servers.wait_healthy("the gateway", gateway.url, gateway.process, HEALTH_DEADLINE_S)


def engineio_handshake_error(gateway: Gateway) -> str | None:
    """One polling handshake, as the first request of a browser client; None when it works."""
    try:
        with urllib.request.urlopen(f"{gateway.url}/socket.io/?EIO=4&transport=polling", timeout=5.0) as response:
            body = response.read(200)
            return None if body.startswith(b"0{") else f"unexpected handshake body {body[:80]!r}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code} on the engine.io handshake"
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        return f"engine.io handshake failed: {error}"


# ---------------------------------------------------------------- the load


@dataclass
class LoadRun:
    setup_error: str | None = None  # the load never ran: why
    result: dict | None = None
    shutdown: dict | None = None
    exit_code: int | None = None
    timed_out: bool = False


def run_load(args: argparse.Namespace, gateway: Gateway, secret: str) -> LoadRun:
    command = [
        "node", str(LOAD_SCRIPT), "--sync", "--url", gateway.url,
        "--clients", str(args.clients), "--concurrency", str(args.concurrency),
        "--idle", str(args.idle), "--pings", str(args.pings), "--updates", str(args.updates),
    ]
    if args.transports != "default":
        command += ["--transports", args.transports]
    node = subprocess.Popen(
        command, cwd=NODE_DIR, env={**os.environ, "JWT_SECRET_ACCESS": secret},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
    )
    run = LoadRun()

    def give_up() -> None:
        run.timed_out = True
        node.kill()

    watchdog = threading.Timer(args.timeout, give_up)
    watchdog.start()
    try:
        for line in node.stdout:
            handle_line(line.rstrip("\n"), gateway, node, run)
        run.exit_code = node.wait()
    finally:
        watchdog.cancel()
        if node.poll() is None:
            node.kill()
            node.wait()
    return run


def handle_line(line: str, gateway: Gateway, node: subprocess.Popen, run: LoadRun) -> None:
    kind, _, rest = line.partition(" ")
    if kind == "SAMPLE":
        label, _, count = rest.partition(" ")
        if gateway.process.poll() is None:
            gateway.sample(label, int(count))
        if label == "shutdown":  # the clients are still connected: stop the server under them
            gateway.stop()
        node.stdin.write("go\n")
        node.stdin.flush()
    elif kind == "RESULT":
        run.result = json.loads(rest)
    elif kind == "SHUTDOWN":
        run.shutdown = json.loads(rest)
    elif line:
        print(f"[load stdout] {line}")


# ---------------------------------------------------------------- report

def _ms(summary: dict) -> str:
    if not summary or not summary.get("n"):
        return "n/a"
    return f"{summary['p50']:.2f} / {summary['p99']:.2f}  (n={summary['n']}, max {summary['max']:.1f})"


def _failures(name: str, failures: dict) -> list[str]:
    return [f"{name}: {count} x {message}" for message, count in failures.items()]


def figures(args: argparse.Namespace, gateway: Gateway, run: LoadRun) -> list[tuple[str, str]]:
    r, s = run.result, gateway.samples
    idle, ping, delivery, connect = r["idle"], r["ping"], r["delivery"], r["connect"]
    rows = [
        (f"connects/s ({connect['connected']}/{connect['requested']} clients, {connect['concurrency']} at a time)",
         f"{connect['perSecond']:.1f}  ({connect['elapsedS']:.2f} s)"),
        ("  connect latency p50 / p99 ms", _ms(connect["connectMs"])),
        ("  on websocket when the last one connected", f"{connect['onWebsocketAtEnd']}/{connect['connected']}"),
        (f"ping round trip p50 / p99 ms (over {idle['connected']} idle)", _ms(ping["ms"])),
        ("delivery to the user's other socket p50 / p99 ms", _ms(delivery["ms"])),
    ]
    if "baseline" in s and "idle_ready" in s and idle["connected"]:
        grown = s["idle_ready"].rss_kib - s["baseline"].rss_kib
        rows += [
            (f"RSS baseline -> {idle['connected']} idle ({idle['upgraded']} on websocket) MiB",
             f"{s['baseline'].rss_kib / 1024:.1f} -> {s['idle_ready'].rss_kib / 1024:.1f}"),
            ("KiB per idle connection", f"{grown / idle['connected']:.1f}"),
        ]
    if "idle_closed" in s:
        rows.append(("RSS after the idle clients left MiB", f"{s['idle_closed'].rss_kib / 1024:.1f}"))
    if "connect_done" in s:
        rows.append((f"RSS with {s['connect_done'].open_sockets} connected MiB", f"{s['connect_done'].rss_kib / 1024:.1f}"))
    if gateway.peak_rss_kib:
        rows.append(("peak RSS (VmHWM) MiB", f"{gateway.peak_rss_kib / 1024:.1f}"))
    return rows


def phase_rows(gateway: Gateway, run: LoadRun) -> list[tuple[str, str, str, str]]:
    s, r = gateway.samples, run.result
    spans = [("idle connect+settle", "baseline", "idle_ready", "idle"), ("ping", "idle_ready", "after_ping", "ping"),
             ("delivery", "after_ping", "after_delivery", "delivery"), ("connect rate", "idle_closed", "connect_done", "connect")]
    rows = []
    for name, start, end, key in spans:
        if start in s and end in s:
            server_cpu = s[end].cpu_s - s[start].cpu_s
            rows.append((name, f"{r[key]['wallS']:.2f}", f"{server_cpu:.2f}", f"{r[key]['clientCpuS']:.2f}"))
    return rows


def problems(gateway: Gateway, run: LoadRun) -> list[str]:
    found = [run.setup_error] if run.setup_error else []
    if run.timed_out:
        found.append("the load did not finish within --timeout and was stopped")
    if run.exit_code not in (0, None):
        found.append(f"the load script exited with {run.exit_code}")
    if run.result:
        r = run.result
        found += _failures("warmup", r["warmup"]["failures"]) + _failures("idle connect", r["idle"]["failures"])
        found += _failures("ping", r["ping"]["failures"]) + _failures("delivery", r["delivery"]["failures"])
        found += _failures("connect", r["connect"]["failures"])
        if r["idle"]["upgraded"] < r["idle"]["connected"]:
            found.append(f"only {r['idle']['upgraded']}/{r['idle']['connected']} idle clients upgraded to websocket")
    if run.shutdown and run.shutdown["sawDisconnect"] < run.shutdown["open"]:
        found.append(f"only {run.shutdown['sawDisconnect']}/{run.shutdown['open']} clients saw the server go within 5 s")
    if gateway.killed:
        found.append(f"the gateway did not exit within {STOP_DEADLINE_S:.0f} s of SIGTERM and was killed")
    elif gateway.process.returncode not in (0, None):
        found.append(f"the gateway exited with {gateway.process.returncode}")
    return found


def print_table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    for row in [header, *rows]:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip())


def report(args: argparse.Namespace, gateway: Gateway, run: LoadRun, source: str) -> None:
    cores = os.cpu_count()
    transports = "polling, then websocket" if args.transports == "default" else "websocket only"
    print(f"\npresence-gateway connections: deflate {'on' if args.deflate else 'off'}, transports {transports}"
          f"; client and server share {cores} CPUs; source {source}")
    if run.result:
        print_table("figures", ("figure", "value"), figures(args, gateway, run))
        print_table("phases (server and client CPU seconds over the same wall time)",
                    ("phase", "wall s", "server CPU s", "client CPU s"), phase_rows(gateway, run))
    if gateway.stop_s is not None:
        open_at_stop = gateway.samples["shutdown"].open_sockets if "shutdown" in gateway.samples else 0
        seen = f", {run.shutdown['sawDisconnect']} saw it" if run.shutdown else ""
        print(f"\nSIGTERM -> exit: {gateway.stop_s:.2f} s with {open_at_stop} clients connected{seen}"
              f" (exit code {gateway.process.returncode})")
    found = problems(gateway, run)
    print("\nproblems:" if found else "\nproblems: none")
    for item in found:
        print(f"  - {item}")
    print_log_summary(gateway)
    if gateway.killed or run.setup_error:
        print_log_tail(gateway.log_path)


def print_log_tail(log_path: Path, lines: int = 8) -> None:
    print(f"last {lines} lines of the gateway log:")
    for line in log_path.read_text(errors="replace").splitlines()[-lines:]:
        print(f"  | {line[:200]}")


def print_log_summary(gateway: Gateway) -> None:
    notable = notable_log_lines(gateway.log_path)
    if not notable:
        print("gateway log: no warnings or errors")
        return
    print(f"gateway log: {sum(notable.values())} warning/error lines, {len(notable)} distinct:")
    for line, count in notable.most_common(12):
        print(f"  {count:>6} x {line[:160]}")


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # keep our lines in order with node's stderr
    ensure_node_modules()
    secret = secrets.token_urlsafe(32)
    source = source_state()  # before the gateway starts, as it imports the code then
    with tempfile.TemporaryDirectory(prefix="presence-bench-") as tmp:
        workdir = Path(tmp)
        gateway = start_gateway(args, workdir, secret)
        run = LoadRun()
        try:
            wait_healthy(gateway)
            if gateway.children():
                print(f"note: the gateway {gateway.process.pid} has children {gateway.children()}; RSS is its own only")
            handshake = engineio_handshake_error(gateway)
            if handshake:
                run.setup_error = f"the gateway is healthy but Socket.IO does not work: {handshake}"
            else:
                print(f"gateway pid {gateway.process.pid} on {gateway.url}; running the load ...", flush=True)
                run = run_load(args, gateway, secret)
        except RuntimeError as error:  # the gateway did not come up
            run.setup_error = f"the gateway did not start: {error}"
        finally:
            gateway.stop()
            if args.log:
                shutil.copyfile(gateway.log_path, args.log)
        report(args, gateway, run, source)
        if args.json and run.result:
            args.json.write_text(json.dumps({"result": run.result, "shutdown": run.shutdown,
                                             "stop_s": gateway.stop_s}, indent=2))
    if run.setup_error:
        return 2
    return 0 if run.result and run.exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
