"""Every process a test starts, stopped by its id in a finalizer, whatever way the test ends.

The helpers that start a process (gateways, redis-server, PostgreSQL, HAProxy, Node, whose
tests' gateways share its group and whose Chromium exits with it) call :func:`track` with
it. The process belongs to whoever was running when it started: the fixture being set up
(any scope) or, outside fixtures, the test itself.
:class:`Finalizers` (the plugin ``tests/conftest.py`` registers) stops what a fixture started once that fixture is
finalized, and what a test started once the test is torn down: a test that fails half
way, before its own ``finally`` or with no ``finally`` at all, still leaves nothing
running. A process started in its own session (``start_new_session=True``) is stopped
with its whole process group, so a gateway's workers go with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

# Whose processes are being started now: a fixture's key while it is set up, else the test's.
TEST = "test"
RUN = "run"
_owners: list[object] = []


@dataclass
class Tracked:
    pid: int
    group: bool
    stop_signal: int
    popen: subprocess.Popen[Any] | None = None
    owner: object = TEST
    started: float = field(default_factory=time.monotonic)

    def alive(self) -> bool:
        if self.popen is not None:
            leader = self.popen.poll() is None
        else:
            leader = _alive(self.pid)
        return leader or (self.group and _group_alive(self.pid))

    def stop(self, timeout: float = 10.0) -> None:
        for sig in (self.stop_signal, signal.SIGKILL):
            if not self.alive():
                return
            _signal(self.pid, sig, self.group)
            deadline = time.monotonic() + timeout
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.02)  # waiting for an exit, bounded by the deadline


_tracked: list[Tracked] = []


def _reap(pid: int) -> bool:
    """True once ``pid`` (a child of ours) has exited and been collected."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True  # not ours to wait for, or collected already: ask the kernel below
    return done == pid


def _alive(pid: int) -> bool:
    if _reap(pid) and not os.path.exists(f"/proc/{pid}"):
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    if os.path.isdir("/proc"):  # a group of zombies only is not running
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        fields = stat.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[2]) == pgid and fields[0] != "Z":
                    return True
        return False
    return True


def _signal(pid: int, sig: int, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def track(
    process: subprocess.Popen[Any] | int, *, group: bool = False, stop_signal: int = signal.SIGTERM
) -> None:
    """Stop ``process`` (a Popen or a pid) when its owner ends; ``group`` when it was
    started with ``start_new_session=True`` (its pid is its process group's id)."""
    popen = process if isinstance(process, subprocess.Popen) else None
    pid = process.pid if isinstance(process, subprocess.Popen) else process
    owner = _owners[-1] if _owners else TEST
    _tracked.append(Tracked(pid, group, stop_signal, popen, owner))


def owned_by(owner: object) -> list[Tracked]:
    return [tracked for tracked in _tracked if tracked.owner is owner or tracked.owner == owner]


def stop_owned_by(owner: object) -> None:
    """Stop, newest first, every process ``owner`` started that still runs."""
    for tracked in reversed(owned_by(owner)):
        tracked.stop()
        _tracked.remove(tracked)


def stop_all() -> None:
    for tracked in reversed(list(_tracked)):
        tracked.stop()
    _tracked.clear()


@contextmanager
def for_the_run() -> Iterator[None]:
    """What starts inside is the whole run's (a server shared by every test), stopped at its end."""
    setting_up(RUN)
    try:
        yield
    finally:
        set_up(RUN)


def setting_up(owner: object) -> None:
    _owners.append(owner)


def set_up(owner: object) -> None:
    if _owners and _owners[-1] is owner:
        _owners.pop()


class Finalizers:
    """The pytest plugin. Registered, not a conftest's hooks: a conftest's
    ``pytest_fixture_setup`` is not called for session fixtures, which belong to the root."""

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef, request: pytest.FixtureRequest
    ) -> Generator[None, object, object]:
        """What a fixture starts is its own: stopped when the fixture is finalized, after
        its own teardown (which stops it gracefully when the fixture gets that far)."""
        owner = object()
        fixturedef.addfinalizer(lambda: stop_owned_by(owner))
        setting_up(owner)
        try:
            return (yield)
        finally:
            set_up(owner)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Iterator[None]:
        """What the test body starts is stopped at its teardown, pass or fail."""
        try:
            return (yield)
        finally:
            item.addfinalizer(lambda: stop_owned_by(TEST))

    def pytest_sessionfinish(self) -> None:
        stop_all()  # started in a teardown, say: nothing outlives the run
