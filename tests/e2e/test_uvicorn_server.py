"""``presence-gateway serve --server uvicorn``: the opt-in second server serves the same
app — the guide's flow over both transports, delivery across two instances on one Redis,
metrics on their own port, and the gateway's own stop (every socket told first)."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

import anyio
import pytest
import socketio

from .clients import Client, Disconnects, connected_client, token_for
from .gateway_process import GatewayProcess, free_port, scrape

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture(scope="module")
def uvicorn_gateway(tmp_path_factory: pytest.TempPathFactory):
    process = GatewayProcess(Path(tmp_path_factory.mktemp("uvicorn")), runner="uvicorn").start()
    yield process
    process.stop()
    assert "Traceback" not in process.log(), process.log()


@pytest.mark.parametrize("transports", [["websocket"], ["polling", "websocket"]], ids=["websocket", "polling-then-upgrade"])
async def test_the_guides_flow_under_uvicorn(uvicorn_gateway, transports) -> None:
    user = f"uv-{transports[0]}"
    client = await Client().connect(uvicorn_gateway.url, {"token": token_for(user)}, transports)
    watcher = await connected_client(uvicorn_gateway.url, f"{user}-watcher")
    try:
        assert (await client.next("presence:updated"))["status"] == "ONLINE"
        assert await client.next("connected") == {"userId": user, "socketId": client.sid, "status": "ONLINE"}
        await client.round_trip()  # ping -> pong
        reply = await watcher.call("presence:subscribe", {"userIds": [user]})
        assert reply["presence"][0]["status"] == "ONLINE", reply
        assert await client.call("presence:update", {"status": "DND"}) == {"ok": True}
        await watcher.wait_until(lambda: any(
            p.get("userId") == user and p.get("status") == "DND" for p in watcher.received("presence:updated")
        ))
        if transports[0] == "polling":
            assert client.sio.transport() == "websocket"  # the upgrade went through
    finally:
        await client.close()
        await watcher.close()


async def test_two_instances_under_uvicorn_on_one_redis_deliver_to_each_other(tmp_path: Path, redis_url: str) -> None:
    env = {"REDIS_URL": redis_url, "PRESENCE_SOCKETIO_CHANNEL": "socketio-uvicorn"}
    one = GatewayProcess(tmp_path / "one", runner="uvicorn", PRESENCE_DATA_DIR=str(tmp_path / "data"), **env).start()
    two = GatewayProcess(tmp_path / "two", runner="uvicorn", PRESENCE_DATA_DIR=str(tmp_path / "data"), **env).start()
    clients: list[Client] = []
    try:
        watcher = await connected_client(two.url, "uv-cross-watcher")
        clients.append(watcher)
        reply = await watcher.call("presence:subscribe", {"userIds": ["uv-cross"]})
        assert reply["presence"][0]["status"] == "OFFLINE", reply
        mover = await connected_client(one.url, "uv-cross")
        clients.append(mover)
        await watcher.wait_until(lambda: any(
            p.get("userId") == "uv-cross" and p.get("status") == "ONLINE" for p in watcher.received("presence:updated")
        ))
        await mover.call("presence:update", {"status": "DND"})
        await watcher.wait_until(lambda: any(
            p.get("userId") == "uv-cross" and p.get("status") == "DND" for p in watcher.received("presence:updated")
        ))
    finally:
        for client in clients:
            await client.close()
        one.stop()
        two.stop()
    for instance in (one, two):
        assert instance.process.returncode == 0
        assert "Traceback" not in instance.log(), instance.log()


async def test_metrics_answer_on_their_own_port_under_uvicorn(tmp_path: Path) -> None:
    metrics_port = free_port()
    gateway = GatewayProcess(tmp_path, runner="uvicorn", PRESENCE_METRICS_PORT=str(metrics_port)).start()
    try:
        client = await connected_client(gateway.url, "uv-metrics")
        try:
            samples = await anyio.to_thread.run_sync(scrape, f"http://127.0.0.1:{metrics_port}/metrics")
            assert samples[("presence_connects_total", ())] == 1
        finally:
            await client.close()
        with pytest.raises(urllib.error.HTTPError) as refused:
            await anyio.to_thread.run_sync(urllib.request.urlopen, f"{gateway.url}/metrics")
        assert refused.value.code == 404
    finally:
        gateway.stop()


async def test_sigterm_under_uvicorn_tells_every_socket_and_exits_promptly(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, runner="uvicorn").start()
    clients = [await connected_client(gateway.url, f"uv-stay-{n}") for n in range(20)]
    disconnects = Disconnects(clients)

    took = await anyio.to_thread.run_sync(gateway.stop)

    assert gateway.process.returncode == 0, gateway.log()
    assert took < 2.0, f"shutdown took {took:.2f}s"
    with anyio.fail_after(5):
        await disconnects.all_closed.wait()
    assert set(disconnects.reasons) == {socketio.AsyncClient.reason.SERVER_DISCONNECT}
    assert gateway.durable_status("uv-stay-0") == ("OFFLINE", None)
    assert "Traceback" not in gateway.log(), gateway.log()


def test_uvicorn_refuses_several_workers_in_one_line(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, runner="uvicorn", workers=2)
    done = subprocess.run(gateway.command, env=gateway.env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "presence-gateway: --server uvicorn serves one process; --workers 2 is hypercorn's (the default server)"
    ], done.stderr
