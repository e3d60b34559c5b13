"""Programs from outside the project some tests drive (HAProxy, Chromium, Node.js): found
on the machine, or the test is skipped with one reason naming the tool and the one command
that installs it.

A laptop without them still passes ``make test``. CI sets ``PRESENCE_TEST_REQUIRE_TOOLS=1``
(``.ci/run`` does, after installing them): there a missing tool fails the test, so a run
never passes by skipping.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

REQUIRE = "PRESENCE_TEST_REQUIRE_TOOLS"

HAPROXY = ("HAProxy", "apt-get install -y haproxy")
CHROMIUM = ("Chromium", "apt-get install -y chromium")
NODE = ("Node.js and npm", "apt-get install -y nodejs npm")
EXAMPLE_CLIENT = ("the stock socket.io-client", "npm ci --prefix examples")
DEMO_CLIENT = ("the demo page's Socket.IO client", "npm ci --prefix web")
JS_CLIENT = ("the JavaScript client's packages", "npm ci --prefix clients/js")


def required() -> bool:
    return os.environ.get(REQUIRE, "").strip().lower() in ("1", "true", "yes")


def missing(tool: tuple[str, str]) -> NoReturn:
    """Skip (fail where tools are required) with the tool's name and its install command."""
    name, install = tool
    reason = f"{name} not installed: {install}"
    if required():
        pytest.fail(f"{reason} ({REQUIRE}=1: a missing tool fails)", pytrace=False)
    pytest.skip(reason)


def find(*candidates: str) -> str | None:
    """The first candidate on PATH, or given as an absolute path to an executable."""
    for candidate in candidates:
        if os.path.isabs(candidate):
            if os.access(candidate, os.X_OK):
                return candidate
        elif found := shutil.which(candidate):
            return found
    return None


def need(tool: tuple[str, str], *candidates: str) -> str:
    """The path of the first candidate found, else :func:`missing`."""
    return find(*candidates) or missing(tool)
