"""Child processes of the harness: every one is registered when started and stopped by its
own pid at the end (also on Ctrl-C), and measured through /proc with its descendants, so
a server that serves from a worker child is measured where it works."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_children: list[subprocess.Popen] = []


def raise_open_files_limit() -> tuple[int, int]:
    """Soft limit up to the hard one, for this process and the children it starts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def start(command: list[str], **popen: object) -> subprocess.Popen:
    process = subprocess.Popen(command, **popen)  # type: ignore[call-overload]
    _children.append(process)
    return process


def adopt(process: subprocess.Popen) -> subprocess.Popen:
    """A child started by code we reuse (the test Redis server), stopped with the rest."""
    _children.append(process)
    return process


def stop(process: subprocess.Popen, grace_s: float = 5.0) -> None:
    if process.poll() is None:
        try:
            process.send_signal(signal.SIGTERM)
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process in _children:
        _children.remove(process)


def stop_all() -> None:
    for process in reversed(list(_children)):
        stop(process, grace_s=3.0)


def descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except FileNotFoundError:
                continue
            found.extend(kids)
            queue.extend(kids)
    return found


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass(frozen=True)
class Usage:
    at: float  # monotonic seconds
    cpu_s: float  # user + system of the tree, reaped children included
    rss_kib: int  # resident set of the tree

    def cpu_percent_since(self, earlier: Usage) -> float:
        return 100.0 * (self.cpu_s - earlier.cpu_s) / max(1e-9, self.at - earlier.at)


def usage(pid: int) -> Usage:
    """CPU and RSS of ``pid`` and all its live descendants (plus the CPU of reaped ones)."""
    at = time.monotonic()
    cpu, rss = 0.0, 0
    for index, member in enumerate([pid, *descendants(pid)]):
        try:
            fields = _stat_fields(member)
            ticks = int(fields[11]) + int(fields[12])
            if index == 0:
                ticks += int(fields[13]) + int(fields[14])  # cutime + cstime
            cpu += ticks / CLOCK_TICKS
            rss += _rss_kib(member)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return Usage(at, cpu, rss)
