"""The JavaScript client's package (``clients/js``) as the e2e tests run it: built and
type-checked once per module that needs it, its node test files run in a session of their
own so the gateways and browsers they start stop with them, whatever happens.

Without Node.js, or without the package's ``node_modules`` (``npm ci --prefix clients/js``,
which ``make test`` runs), a test is skipped naming what to install, and fails where tools
are required (CI).
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
GATEWAY = Path(sys.executable).with_name("presence-gateway")


def run(command: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
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


def build(*modules: str) -> dict[str, str]:
    """``npm run build`` and ``typecheck``; the environment the node tests run in. Each of
    ``modules`` (a devDependency such as ``playwright-core``) must be installed too."""
    npm = outside_tools.need(outside_tools.NODE, "npm")
    outside_tools.need(outside_tools.NODE, "node")
    for module in ("socket.io-client", "typescript", *modules):
        if not (PACKAGE / "node_modules" / module).is_dir():
            outside_tools.missing(outside_tools.JS_CLIENT)
    env = {**os.environ, "PRESENCE_GATEWAY_BIN": str(GATEWAY)}
    for script in ("build", "typecheck"):
        done = run([npm, "run", "--silent", script], env, timeout=180)
        assert done.returncode == 0, f"npm run {script} failed:\n{done.stdout}"
    return env


def run_test_file(test_file: str, env: dict[str, str], timeout: float = 240) -> None:
    """``node --test`` on one file of ``clients/js/test``: it passes, and ran at least one
    test and skipped none (a test that skips for want of a tool must fail here)."""
    done = run(["node", "--test", "--test-reporter=spec", f"test/{test_file}"], env, timeout=timeout)
    assert done.returncode == 0, f"node --test test/{test_file} failed:\n{done.stdout}"
    passed = re.search(r"^\u2139 pass (\d+)$", done.stdout, re.MULTILINE)
    assert passed and int(passed.group(1)) > 0, f"no JS test ran:\n{done.stdout}"
    assert "\u2139 skipped 0" in done.stdout and "\u2139 fail 0" in done.stdout, done.stdout
