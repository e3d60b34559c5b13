"""Behind HAProxy: two instances, Redis and PostgreSQL, reached by the stock Node
socket.io-client with its default transports (long-polling, then the WebSocket upgrade),
through deploy/haproxy.cfg — the file an operator deploys and compose.yaml mounts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis

from tests.support import outside_tools, processes
from tests.support.postgres_server import ThrowawayPostgres

from .clients import token_for
from .gateway_process import GatewayProcess, free_port

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
HAPROXY_CONFIG = ROOT / "deploy" / "haproxy.cfg"
AGENT = Path(__file__).parent / "node" / "agent.cjs"
CLIENT_PACKAGE = ROOT / "examples" / "package.json"
# HAProxy reaches the instances from this address; clients come from 127.0.0.1.
PROXY_SOURCE = "127.0.0.2"
# What an instance behind deploy/haproxy.cfg is given, beside its Redis and database
# (compose.yaml gives the same: tests/packaging/test_deploy_files.py).
BEHIND_PROXY = {"PRESENCE_SID_COOKIE": "io", "PRESENCE_TRUSTED_PROXIES": PROXY_SOURCE}


def haproxy_binary() -> str:
    return outside_tools.need(outside_tools.HAPROXY, "haproxy", "/usr/sbin/haproxy")


def node_binary() -> str:
    node = outside_tools.need(outside_tools.NODE, "node")
    if not (ROOT / "examples" / "node_modules" / "socket.io-client").exists():
        outside_tools.missing(outside_tools.EXAMPLE_CLIENT)
    return node


class HAProxy:
    def __init__(self, workdir: Path, gateways: list[GatewayProcess]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "haproxy.log"
        self.env = {**os.environ, **self.settings(self.port, [gateway.port for gateway in gateways])}
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def settings(port: int, gateway_ports: list[int]) -> dict[str, str]:
        """The variables deploy/haproxy.cfg reads."""
        return {
            "HAPROXY_BIND": f"127.0.0.1:{port}",
            "GATEWAY_1": f"127.0.0.1:{gateway_ports[0]}",
            "GATEWAY_2": f"127.0.0.1:{gateway_ports[1]}",
            "GATEWAY_SOURCE": PROXY_SOURCE,
        }

    def start(self) -> HAProxy:
        binary = haproxy_binary()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [binary, "-db", "-f", str(HAPROXY_CONFIG)], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        processes.track(self.process)
        deadline = time.monotonic() + 10
        while True:  # ready once a request through it reaches an instance
            assert self.process.poll() is None, self.log_path.read_text()
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, self.log_path.read_text()
            time.sleep(0.05)  # poll for readiness; bounded by the deadline

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class NodeClients:
    """One Node process holding named sockets; every event it reports, kept in order."""

    def __init__(self, process: anyio.abc.Process) -> None:
        assert process.stdout is not None and process.stdin is not None  # open_process pipes both
        self._stdout, self._stdin = process.stdout, process.stdin
        self.events: list[dict[str, Any]] = []
        self._taken: dict[tuple[str | None, str], int] = {}
        self._changed = anyio.Event()

    async def _read(self) -> None:
        buffered = b""
        async for chunk in self._stdout:
            buffered += chunk
            *lines, buffered = buffered.split(b"\n")
            for line in lines:
                self.events.append(json.loads(line))
            self._changed.set()
            self._changed = anyio.Event()

    async def close_input(self) -> None:
        await self._stdin.aclose()

    async def send(self, **command: Any) -> None:
        await self._stdin.send((json.dumps(command) + "\n").encode())

    def of(self, name: str | None, event: str) -> list[Any]:
        return [e["data"] for e in self.events if e["name"] == name and e["event"] == event]

    async def next(self, name: str | None, event: str, timeout: float = 10.0) -> Any:
        """The next ``event`` of socket ``name`` not taken by an earlier call."""
        index = self._taken.get((name, event), 0)
        with anyio.fail_after(timeout):
            while len(self.of(name, event)) <= index:
                await self._changed.wait()
        self._taken[(name, event)] = index + 1
        return self.of(name, event)[index]

    async def open(self, name: str, url: str, user: str, headers: dict[str, str] | None = None) -> dict:
        await self.send(cmd="open", name=name, url=url, token=token_for(user), headers=headers or {})
        connected = await self.next(name, "connected")
        await self.next(name, "upgrade")  # polling first, then the WebSocket: both must reach the same instance
        return connected


@asynccontextmanager
async def node_clients() -> AsyncIterator[NodeClients]:
    node = node_binary()
    env = {**os.environ, "SOCKETIO_CLIENT_FROM": str(CLIENT_PACKAGE)}
    async with await anyio.open_process([node, str(AGENT)], env=env) as process:
        processes.track(process.pid)
        clients = NodeClients(process)
        async with anyio.create_task_group() as tg:
            tg.start_soon(clients._read)
            await clients.next(None, "ready")  # the agent's own event names no socket
            try:
                yield clients
            finally:
                await clients.close_input()  # the agent closes its sockets and exits
                with anyio.move_on_after(5):
                    await process.wait()
                tg.cancel_scope.cancel()


def on_instance(store: redis.Redis, instance: str, connected: dict) -> bool:
    """Whether the instance's session index holds this socket."""
    member = f"{connected['socketId']}:{connected['userId']}"
    return store.zscore(f"presence:instance:{instance}:sessions", member) is not None


@pytest.fixture
def postgres():
    with ThrowawayPostgres() as server:
        yield server


async def test_stock_clients_through_haproxy_reach_every_instance_and_survive_one_stopping(
    tmp_path: Path, redis_url: str, postgres: ThrowawayPostgres
) -> None:
    haproxy_binary(), node_binary()  # both tools before any instance starts
    shared = {
        "REDIS_URL": redis_url,
        "DATABASE_URL": postgres.url,
        **BEHIND_PROXY,
        "PRESENCE_SOCKETIO_CHANNEL": f"socketio-{uuid.uuid4().hex[:8]}",
    }
    gw1 = GatewayProcess(tmp_path / "gw1", PRESENCE_INSTANCE_ID="gw1", **shared).start()
    gw2 = GatewayProcess(tmp_path / "gw2", PRESENCE_INSTANCE_ID="gw2", **shared).start()
    proxy = HAProxy(tmp_path, [gw1, gw2]).start()
    store = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        async with node_clients() as node:
            # Round robin: two handshakes, two instances; each session sticks to its own.
            tab1 = await node.open("tab1", proxy.url, "alice")
            tab2 = await node.open("tab2", proxy.url, "alice", headers={"X-Forwarded-For": "203.0.113.9"})
            first = "gw1" if on_instance(store, "gw1", tab1) else "gw2"
            second = "gw2" if first == "gw1" else "gw1"
            assert on_instance(store, first, tab1) and on_instance(store, second, tab2)
            gateways = {"gw1": gw1, "gw2": gw2}
            # The client's address, as HAProxy forwarded it; not the proxy's, not a forged one.
            assert store.hget(f"presence:alice:{tab1['socketId']}", "ip") == "127.0.0.1"
            assert store.hget(f"presence:alice:{tab2['socketId']}", "ip") == "127.0.0.1"

            # Cross-instance delivery: a change made on one instance reaches the tab on the other.
            await node.send(cmd="emit", name="tab1", event="presence:update", data={"status": "DND"})
            assert (await node.next("tab2", "presence:updated"))["status"] == "DND"

            # tab1's instance stops under it: tab1 is told, tab2 stays, alice stays DND.
            await anyio.to_thread.run_sync(gateways[first].stop)
            assert (await node.next("tab1", "disconnect"))["reason"] == "io server disconnect"
            await node.send(cmd="reconnect", name="tab1")
            again = await node.next("tab1", "connected")  # through the proxy, to the instance left
            assert again["status"] == "DND"
            assert on_instance(store, second, again)
            await node.send(cmd="emit", name="tab2", event="presence:update", data={"status": "ONLINE"})
            assert (await node.next("tab1", "presence:updated"))["status"] == "ONLINE"
            assert (await node.next("tab2", "presence:updated"))["status"] == "ONLINE"
            assert not node.of("tab2", "disconnect") and not node.of("tab2", "connect_error")
            assert [u["status"] for u in node.of("tab2", "presence:updated")] == ["DND", "ONLINE"]
    finally:
        store.close()
        proxy.stop()
        for gateway in (gw1, gw2):
            gateway.stop()
    for gateway in (gw1, gw2):
        assert gateway.process.returncode == 0, gateway.log()
        assert "Traceback" not in gateway.log(), gateway.log()
        assert "Invalid session" not in gateway.log()


def test_the_readme_node_example_works_twice_in_a_row(gateway_for_example: GatewayProcess) -> None:
    node = node_binary()
    env = {**os.environ, "GATEWAY_URL": gateway_for_example.url, "TOKEN": token_for("node-example")}
    runs = [
        subprocess.run([node, str(ROOT / "examples" / "node-client.mjs")], env=env, capture_output=True, text=True,
                       timeout=30)
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
        assert "status: 'IDLE'" in run.stdout and run.stdout.rstrip().endswith("disconnect io client disconnect")


@pytest.fixture
def gateway_for_example(tmp_path: Path):
    node_binary()
    gateway = GatewayProcess(tmp_path, PRESENCE_OFFLINE_GRACE="5").start()  # the default: runs meet within it
    yield gateway
    gateway.stop()
