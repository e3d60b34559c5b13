"""e2e: a real hypercorn process and real Socket.IO clients over real sockets."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from .gateway_process import GatewayProcess

_users = itertools.count(1)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # python-socketio is asyncio-only


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory):
    process = GatewayProcess(Path(tmp_path_factory.mktemp("gateway"))).start()
    yield process
    process.stop()
    assert "Traceback" not in process.log(), process.log()


@pytest.fixture
def user() -> str:
    """A user id no other test uses, so tests sharing a gateway stay independent."""
    return f"user-{next(_users)}"
