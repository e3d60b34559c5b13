"""Two gateway instances behind Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_MASTER) go on
through a failover: the sockets stay, the sessions are on the new primary, and changes
cross instances again once it has settled."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import anyio
import pytest
import redis

from tests.fakes import known
from tests.support.redis_sentinel import RedisSentinel

from .clients import Client, connected_client
from .gateway_process import GatewayProcess

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture
def sentinel(tmp_path: Path):
    setup = RedisSentinel(tmp_path / "sentinel").start()
    yield setup
    setup.stop()


async def update_seen(sender: Client, watcher: Client, status: str, gateways, timeout: float = 20.0) -> dict:
    """Set ``status`` on ``sender`` until ``watcher`` sees it: an update sent at the moment
    the old primary drops its clients may be answered ``unavailable``, or stored while its
    publish is lost with the old primary's connections (docs/redis.md); set another status
    and this one again, since setting the status the user already has changes nothing."""
    mark = len(watcher.received("presence:updated"))
    other = "ONLINE" if status != "ONLINE" else "DND"

    def seen() -> dict | None:
        return next((u for u in watcher.received("presence:updated")[mark:] if u["status"] == status), None)

    deadline = time.monotonic() + timeout
    retry = False
    while seen() is None:
        assert time.monotonic() < deadline, "\n".join(
            [f"{status} not seen; the sender got {sender.received('error')}"] + [g.log()[-4000:] for g in gateways]
        )
        if retry:  # make it a change again
            await sender.sio.emit("presence:update", {"status": other})
        await sender.sio.emit("presence:update", {"status": status})
        retry = True
        try:
            await watcher.wait_until(lambda: seen() is not None, timeout=1.0)
        except TimeoutError:
            continue
    return known(seen())


async def test_two_instances_follow_a_failover(tmp_path: Path, sentinel: RedisSentinel) -> None:
    env = {
        "REDIS_SENTINELS": sentinel.sentinels,
        "REDIS_SENTINEL_MASTER": sentinel.master,
        "PRESENCE_SOCKETIO_CHANNEL": f"socketio-{uuid.uuid4().hex[:8]}",
        "PRESENCE_DATA_DIR": str(tmp_path / "shared-data"),
    }
    a = GatewayProcess(tmp_path / "a", **env).start()
    b = GatewayProcess(tmp_path / "b", **env).start()
    try:
        on_a = await connected_client(a.url, "x")
        on_b = await connected_client(b.url, "x")
        assert (await update_seen(on_a, on_b, "DND", (a, b)))["userId"] == "x"

        new = await anyio.to_thread.run_sync(sentinel.failover)

        assert (await update_seen(on_a, on_b, "INVISIBLE", (a, b)))["userId"] == "x"
        assert (await update_seen(on_b, on_a, "ONLINE", (a, b)))["userId"] == "x"
        with redis.Redis(host="127.0.0.1", port=new.port, decode_responses=True) as direct:
            assert direct.scard("presence:sockets:x") == 2  # both sessions, on the new primary
            assert direct.get("presence:online:x") == "true"
        await on_a.close()
        await on_b.close()
    finally:
        for instance in (a, b):
            instance.stop()
    for instance in (a, b):
        assert "Traceback" not in instance.log(), instance.log()
