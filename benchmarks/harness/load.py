"""The Node load client (benchmarks/node/scenarios.mjs), run as a child: its SAMPLE lines
are handed to the scenario, which measures the server at that moment and answers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import procs

ROOT = Path(__file__).resolve().parents[2]
LOAD_DIR = ROOT / "benchmarks" / "node"
SCENARIOS = LOAD_DIR / "scenarios.mjs"
NODE_FOLDERS = (LOAD_DIR, ROOT / "benchmarks" / "peers" / "node")


class LoadFailed(RuntimeError):
    pass


def ensure_node_modules() -> None:
    """``npm ci`` where node_modules is missing (the lock files are committed)."""
    npm = shutil.which("npm")
    for folder in NODE_FOLDERS:
        if (folder / "node_modules").is_dir():
            continue
        if npm is None:
            sys.exit(f"{folder.relative_to(ROOT)} needs npm (Node 18 or newer): install Node.js")
        print(f"npm ci in {folder.relative_to(ROOT)} ...", file=sys.stderr, flush=True)
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=folder, check=True)


@dataclass
class LoadRun:
    result: dict | None = None
    lines: dict[str, list] = field(default_factory=dict)  # IDS, HELD, PROBE … parsed as JSON
    exit_code: int | None = None
    timed_out: bool = False

    @property
    def client_cpu_s(self) -> float:
        return float((self.result or {}).get("clientCpuS") or 0.0)


class Reply:
    """The answer to one SAMPLE line; sent once, by the scenario or after it returns."""

    def __init__(self, node: subprocess.Popen) -> None:
        self._node = node
        self.sent = False

    def __call__(self) -> None:
        if not self.sent:
            self.sent = True
            assert self._node.stdin is not None
            self._node.stdin.write("go\n")
            self._node.stdin.flush()


OnSample = Callable[[str, int, Reply], None]


def node_command(scenario: str, url: str, **options: object) -> list[str]:
    command = [shutil.which("node") or "node", str(SCENARIOS), "--scenario", scenario, "--url", url]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            command.append(flag)
        elif value not in (None, False):
            command += [flag, str(value)]
    return command


def run(
    command: list[str], secret: str, on_sample: OnSample | None = None, timeout_s: float = 300.0,
    outcome: LoadRun | None = None,
) -> LoadRun:
    """``outcome`` is filled as lines arrive, so a SAMPLE handler can read an earlier IDS line."""
    node = procs.start(
        command, cwd=LOAD_DIR, env={**os.environ, "JWT_SECRET_ACCESS": secret},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
    )
    outcome = outcome or LoadRun()

    def give_up() -> None:
        outcome.timed_out = True
        node.kill()

    watchdog = threading.Timer(timeout_s, give_up)
    watchdog.start()
    try:
        assert node.stdout is not None
        for raw in node.stdout:
            kind, _, rest = raw.rstrip("\n").partition(" ")
            if kind == "SAMPLE":
                label, _, count = rest.partition(" ")
                reply = Reply(node)
                if on_sample is not None:
                    on_sample(label, int(count or 0), reply)
                reply()
            elif kind == "RESULT":
                outcome.result = json.loads(rest)
            elif kind in ("IDS", "HELD", "PROBE"):
                outcome.lines.setdefault(kind, []).append(json.loads(rest))
            elif raw.strip():
                print(f"[load stdout] {raw.rstrip()}", file=sys.stderr)
        outcome.exit_code = node.wait()
    finally:
        watchdog.cancel()
        procs.stop(node, grace_s=2.0)
    if outcome.timed_out:
        raise LoadFailed(f"the load ({' '.join(command[2:6])}) did not finish within {timeout_s:.0f} s")
    if outcome.exit_code != 0 or outcome.result is None:
        raise LoadFailed(f"the load ({' '.join(command[2:6])}) exited with {outcome.exit_code} and no result")
    return outcome


class Holder:
    """A `hold` client process for the capacity scenario: it connects its sockets, keeps
    them pinging, and answers `probe` commands until told to exit."""

    def __init__(self, command: list[str], secret: str) -> None:
        self.process = procs.start(
            command, cwd=LOAD_DIR, env={**os.environ, "JWT_SECRET_ACCESS": secret},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )

    def _next(self, wanted: str, timeout_s: float) -> dict:
        result: dict = {}

        def read() -> None:
            assert self.process.stdout is not None
            for raw in self.process.stdout:
                kind, _, rest = raw.rstrip("\n").partition(" ")
                if kind == wanted:
                    result.update(json.loads(rest))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout_s)
        if not result:
            raise LoadFailed(f"no {wanted} from the capacity client within {timeout_s:.0f} s")
        return result

    def held(self, timeout_s: float = 300.0) -> dict:
        return self._next("HELD", timeout_s)

    def probe(self, count: int, gap_ms: int, timeout_s: float = 90.0) -> dict:
        """The client ends a probe after 60 s, so this waits a little longer than that."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"probe {count} {gap_ms}\n")
        self.process.stdin.flush()
        return self._next("PROBE", timeout_s)

    def close(self) -> float:
        """Ask it to exit; its CPU seconds (from its RESULT, else /proc)."""
        cpu = procs.usage(self.process.pid).cpu_s if self.process.poll() is None else 0.0
        try:
            assert self.process.stdin is not None
            self.process.stdin.write("exit\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        procs.stop(self.process, grace_s=10.0)
        return cpu
