"""A test that fails half way leaves no process running: what it started (in its body or in
a fixture that never reached its teardown) is stopped by the suite's finalizers. Proved on
a pytest run of its own, whose tests start gateways and then fail on purpose."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.processes import _alive, _group_alive

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

FAILING_TESTS = '''
from pathlib import Path

import pytest

from tests.e2e.gateway_process import GatewayProcess

PIDS = Path({pids!r})


def started(gateway):
    with PIDS.open("a") as pids:
        pids.write(f"{{gateway.process.pid}}\\n")
    return gateway


@pytest.fixture
def gateway_then_broken(tmp_path):
    started(GatewayProcess(tmp_path / "fixture").start())
    raise RuntimeError("the fixture breaks after starting its gateway, before any teardown")
    yield


def test_starts_a_gateway_then_fails(tmp_path):
    started(GatewayProcess(tmp_path / "body").start())
    assert False, "on purpose, with no finally to stop the gateway"


def test_starts_two_workers_then_fails(tmp_path, redis_url):
    gateway = started(GatewayProcess(tmp_path / "workers", workers=2, REDIS_URL=redis_url).start(timeout=60))
    gateway.wait_for_log(" ready: mode=", count=2, timeout=60)
    assert False, "on purpose: the workers go with their process group"


def test_uses_a_fixture_that_fails(gateway_then_broken):
    pass
'''


def test_a_test_that_fails_after_starting_gateways_leaves_none_of_them_running(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    inner = tmp_path / "test_fails_on_purpose.py"
    inner.write_text(textwrap.dedent(FAILING_TESTS.format(pids=str(pids))))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), str(inner)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert "2 failed" in run.stdout and "1 error" in run.stdout, run.stdout + run.stderr
    started = [int(line) for line in pids.read_text().split()]
    assert len(started) == 3, run.stdout
    alive = [pid for pid in started if _alive(pid) or _group_alive(pid)]
    assert alive == [], f"left running: {alive}\n{run.stdout}"
