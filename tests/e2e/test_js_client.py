"""The JavaScript client's own suite (``clients/js``, node's test runner) as part of
``make test``: each of its test files is one test here, run against real gateways the
Node side starts (``.venv``'s ``presence-gateway``), with a Redis database of its own for
the two-instance tests.

The package is built and type-checked once first (``npm run build``, ``npm run typecheck``:
``tsc`` over the sources and a typed usage file). Without Node.js, or without the
package's ``node_modules`` (``npm ci --prefix clients/js``, which ``make test`` runs), the
tests are skipped naming what to install, and fail where tools are required (CI).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import outside_tools, processes

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "js"
TEST_FILES = sorted(path.name for path in (PACKAGE / "test").glob("*.test.mjs"))
GATEWAY = Path(sys.executable).with_name("presence-gateway")


def _run(command: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """In a session of its own, so the gateways it starts stop with it, whatever happens."""
    process = subprocess.Popen(
        command,
        cwd=PACKAGE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    processes.track(process, group=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)  # its own group: the runner and its gateways
        output, _ = process.communicate()
        pytest.fail(f"{' '.join(command)} did not finish within {timeout} s:\n{output}")
    return subprocess.CompletedProcess(command, process.returncode, output, "")


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    npm = outside_tools.need(outside_tools.NODE, "npm")
    outside_tools.need(outside_tools.NODE, "node")
    if (
        not (PACKAGE / "node_modules" / "socket.io-client").is_dir()
        or not (PACKAGE / "node_modules" / "typescript").is_dir()
    ):
        outside_tools.missing(outside_tools.JS_CLIENT)
    env = {**os.environ, "PRESENCE_GATEWAY_BIN": str(GATEWAY)}
    for script in ("build", "typecheck"):
        done = _run([npm, "run", "--silent", script], env, timeout=180)
        assert done.returncode == 0, f"npm run {script} failed:\n{done.stdout}"
    return env


@pytest.mark.parametrize("test_file", TEST_FILES)
def test_js_client(built: dict[str, str], redis_url: str, test_file: str) -> None:
    env = {**built, "PRESENCE_TEST_REDIS_URL": redis_url}
    done = _run(["node", "--test", "--test-reporter=spec", f"test/{test_file}"], env, timeout=240)
    assert done.returncode == 0, f"node --test test/{test_file} failed:\n{done.stdout}"
    # No JS test may pass by being skipped (the two-instance ones need the Redis given here),
    # nor a file by running none (a skipped suite counts no test at all).
    passed = re.search(r"^\u2139 pass (\d+)$", done.stdout, re.MULTILINE)
    assert passed and int(passed.group(1)) > 0, f"no JS test ran:\n{done.stdout}"
    assert "\u2139 skipped 0" in done.stdout and "\u2139 fail 0" in done.stdout, done.stdout
