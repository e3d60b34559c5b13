"""Several workers on one port, as users deploy the gateway: a plain
``hypercorn 'presence_gateway.entrypoints.asgi:create_app()' --workers 2`` and
``presence-gateway serve --workers 2``.

The kernel hands each new connection to whichever worker accepts it, so a WebSocket
session stays on one worker and works; the requests of a long-polling session would be
scattered, so polling is refused with the reason and the fix instead of failing at random.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from email.message import Message
from pathlib import Path

import anyio
import pytest
import redis
import socketio

from tests.support.redis_server import RedisServer

from .clients import Client, connected_client, token_for
from .gateway_process import GatewayProcess

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

RUNNERS = ["hypercorn", "serve"]
# hypercorn's own ``--workers`` shares one listening socket: the kernel hands a connection
# to whichever worker takes it first, and one made while the others are idle goes to the
# same worker run after run (19 sequential connects of one user all on one worker, 2 runs
# in 3). Connects made together spread: of batches of 4, about 3 in 8 land on one worker.
TABS_AT_ONCE = 4
# Batches until one tab sits on each worker: all of them on one worker has probability
# about (3/8)^12, and 48 attempts stay within one worker's connect budget per user (60).
MAX_BATCHES = 12


def start_workers(workdir: Path, redis_url: str, runner: str, **env: str) -> GatewayProcess:
    gateway = GatewayProcess(
        workdir, workers=2, runner=runner, REDIS_URL=redis_url,
        PRESENCE_SOCKETIO_CHANNEL=f"sio-{uuid.uuid4().hex[:8]}", **env,
    ).start(timeout=60)  # each worker imports everything anew: slow on a busy 2-core machine
    gateway.wait_for_log(" ready: mode=", count=2, timeout=60)  # both workers serve, not just the first
    return gateway


@pytest.fixture(scope="module")
def module_redis(tmp_path_factory: pytest.TempPathFactory):
    server = RedisServer(Path(tmp_path_factory.mktemp("redis-workers"))).start()
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path):
    """A Redis only this test's gateway writes to, so every key left is that gateway's."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=RUNNERS)
def two_workers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, module_redis: RedisServer):
    # One PRESENCE_INSTANCE_ID for both, as a deployment's environment gives it: each
    # worker must still be an instance of its own.
    workdir = Path(tmp_path_factory.mktemp(f"workers-{request.param}"))
    gateway = start_workers(
        workdir, module_redis.url, request.param, PRESENCE_INSTANCE_ID="gw-1", CORS_ORIGINS="http://chat.example"
    )
    yield gateway
    gateway.stop()
    assert "Traceback" not in gateway.log(), gateway.log()


def instance_of(redis_url: str, user_id: str, client: Client) -> str:
    with redis.Redis.from_url(redis_url, decode_responses=True) as r:
        return r.hget(f"presence:{user_id}:{client.sid}", "instance")


async def tabs_on_both_workers(url: str, redis_url: str, user_id: str) -> dict[str, Client]:
    """One tab of the user per worker ({instance: tab}), the only tabs kept open. A tab on a
    worker already covered is closed at once: a run of them on one worker would otherwise
    reach its cap of sockets per user (``PRESENCE_MAX_SOCKETS_PER_USER``) and be refused."""
    by_instance: dict[str, Client] = {}
    for _ in range(MAX_BATCHES):
        batch = await asyncio.gather(*(connected_client(url, user_id) for _ in range(TABS_AT_ONCE)))
        for tab in batch:
            instance = instance_of(redis_url, user_id, tab)
            if instance in by_instance:
                await tab.close()
            else:
                by_instance[instance] = tab
        if len(by_instance) >= 2:
            break
    return by_instance


async def test_websocket_clients_on_two_workers_are_one_user(two_workers: GatewayProcess, module_redis) -> None:
    user = f"ws-{two_workers.runner}"
    by_instance = await tabs_on_both_workers(two_workers.url, module_redis.url, user)
    try:
        assert len(by_instance) == 2, f"{MAX_BATCHES * TABS_AT_ONCE} connections, all on one instance"
        first, second = by_instance.values()

        await first.sio.emit("presence:update", {"status": "DND"})

        update = await second.next("presence:updated")  # delivered across workers
        while update["status"] != "DND":  # the ONLINE of the first tab comes first
            update = await second.next("presence:updated")
        assert update["userId"] == user
    finally:
        for tab in by_instance.values():
            await tab.close()


async def test_the_default_client_is_refused_every_time_with_the_reason_and_the_fix(two_workers: GatewayProcess) -> None:
    """python-socketio's default, like socket.io-client's, starts with long-polling: it gets
    ``connect_error`` with the reason, as for a bad token, every time."""
    for _ in range(5):
        client = Client()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.sio.connect(two_workers.url, auth={"token": token_for("polling")}, wait_timeout=5)

        [refusal] = client.received("connect_error")
        assert "transports: ['websocket']" in refusal["message"] and "sticky" in refusal["message"]
        assert client.received("connected") == []
        await client.close()


def http(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers={"Origin": "http://chat.example"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_a_browser_reads_the_polling_refusal(two_workers: GatewayProcess) -> None:
    status, headers, body = http(two_workers.url + "/socket.io/?EIO=4&transport=polling")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "http://chat.example"  # listed in CORS_ORIGINS
    opened, refusal = body.split(b"\x1e")
    assert opened.startswith(b"0") and json.loads(opened[1:])["upgrades"] == []
    assert refusal.startswith(b"44") and json.loads(refusal[2:])["data"] == {"code": "polling_unavailable"}
    sid = json.loads(opened[1:])["sid"]

    # The session named there exists on no worker: what the client sends next gets the reason too.
    status, headers, body = http(f"{two_workers.url}/socket.io/?EIO=4&transport=polling&sid={sid}", "POST", b"40")
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert headers["Access-Control-Allow-Origin"] == "http://chat.example"
    assert json.loads(body)["code"] == "polling_unavailable"
    # Told to the operator once per worker, not once per request.
    assert 1 <= two_workers.log().count("refusing long-polling") <= 2


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("group", [True, False], ids=["sigterm-to-the-group", "sigterm-to-the-parent"])
async def test_stopped_workers_end_their_sessions_and_leave_no_keys(
    tmp_path: Path, own_redis: RedisServer, runner: str, group: bool
) -> None:
    # A lease renewed every third of a second: one renewal after the release would put
    # the leaving worker back among the instances.
    gateway = start_workers(tmp_path, own_redis.url, runner, PRESENCE_LEASE_TTL="1")
    user = f"stopped-{runner}"
    by_instance = await tabs_on_both_workers(gateway.url, own_redis.url, user)
    idle = idle_http_connections(gateway.port)  # a load balancer's keep-alive pool, say
    try:
        assert len(by_instance) == 2
        took = await anyio.to_thread.run_sync(lambda: gateway.stop(group=group))

        assert gateway.process.returncode == 0
        assert took < 10, f"exit took {took:.1f}s"
        with redis.Redis.from_url(own_redis.url, decode_responses=True) as r:
            # Both workers ended their sessions, released their leases and left: a next
            # start finds no instance to take over ("stopped holding its lease").
            assert list(r.scan_iter("presence:instance:*")) == []
            assert r.zcard("presence:instances") == 0
            assert r.exists(f"presence:sockets:{user}", f"presence:online:{user}") == 0
        assert gateway.log().count("ended ") >= 2 and " sessions and " in gateway.log()
        assert "Traceback" not in gateway.log(), gateway.log()
    finally:
        for connection in idle:
            connection.close()
        for tab in by_instance.values():
            await tab.close()
        gateway.stop(group=True)


def idle_http_connections(port: int, count: int = 6) -> list[socket.socket]:
    """Connections that made one request and stay open, idle, on whichever workers took them."""
    connections = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=5)
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        assert connection.recv(4096).startswith(b"HTTP/1.1 200")
        connections.append(connection)
    return connections


def worker_pids(gateway: GatewayProcess) -> list[int]:
    pid = gateway.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


async def test_a_worker_stopped_alone_ends_its_sessions_and_is_replaced(tmp_path: Path, own_redis: RedisServer) -> None:
    gateway = start_workers(tmp_path, own_redis.url, "hypercorn")
    user = "one-worker-stopped"
    by_instance = await tabs_on_both_workers(gateway.url, own_redis.url, user)
    try:
        assert len(by_instance) == 2
        with redis.Redis.from_url(own_redis.url, decode_responses=True) as r:
            before = {key.split(":")[2] for key in r.scan_iter("presence:instance:*:lease")}
        victim = next(pid for pid in worker_pids(gateway) if any(str(pid) in i.split("-") for i in before))
        [gone] = [i for i in before if str(victim) in i.split("-")]
        os.kill(victim, signal.SIGTERM)

        gateway.wait_for_log(" ready: mode=", count=3, timeout=60)  # hypercorn started a replacement
        survivor = by_instance[next(i for i in before if i != gone)]
        await survivor.round_trip()  # the other worker went on serving
        assert gateway.process.poll() is None
        with redis.Redis.from_url(own_redis.url, decode_responses=True) as r:
            assert list(r.scan_iter(f"presence:instance:{gone}:*")) == []
            assert r.zscore("presence:instances", gone) is None
            assert r.scard(f"presence:sockets:{user}") == sum(1 for t in by_instance.values() if t.sio.connected)
        assert "this worker alone was asked to stop" in gateway.log()
        assert "Traceback" not in gateway.log(), gateway.log()
    finally:
        for tab in by_instance.values():
            await tab.close()
        gateway.stop(group=True)


def late_sigterms(pids: list[int], until: Callable[[], bool], every: float = 0.002) -> int:
    """SIGTERM each of ``pids`` still alive, again and again until ``until()``: what a
    worker gets when systemd signals the process group and hypercorn's parent signals
    it once more, at any moment of its shutdown. Returns how many were sent."""
    sent = 0
    while not until():
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
                sent += 1
            except ProcessLookupError:
                pass
        time.sleep(every)  # paces the signals sent; the loop ends on the processes' exit
    return sent


async def test_sigterms_at_any_moment_of_a_workers_shutdown_end_it_cleanly(tmp_path: Path, own_redis: RedisServer) -> None:
    """However late a SIGTERM comes (even while the event loop closes), the worker ends
    with its sessions ended, exit code 0 and nothing in the log but the shutdown."""
    gateway = start_workers(tmp_path, own_redis.url, "hypercorn")
    user = "signalled"
    by_instance = await tabs_on_both_workers(gateway.url, own_redis.url, user)
    try:
        assert len(by_instance) == 2
        workers = worker_pids(gateway)
        os.killpg(gateway.process.pid, signal.SIGTERM)
        sent = await anyio.to_thread.run_sync(lambda: late_sigterms(workers, lambda: gateway.process.poll() is not None))
        gateway.process.wait(30)

        assert sent > len(workers)
        assert gateway.process.returncode == 0
        with redis.Redis.from_url(own_redis.url, decode_responses=True) as r:
            assert r.exists(f"presence:sockets:{user}", f"presence:online:{user}") == 0
        assert "Traceback" not in gateway.log(), gateway.log()
    finally:
        for tab in by_instance.values():
            await tab.close()
        gateway.stop(group=True)


@pytest.mark.parametrize("runner", RUNNERS)
def test_several_workers_without_redis_refuse_to_start_in_one_line(tmp_path: Path, runner: str) -> None:
    gateway = GatewayProcess(tmp_path, workers=2, runner=runner)
    process = gateway.spawn()
    try:
        process.wait(90)
    finally:
        gateway.stop(group=True)

    log = gateway.log()
    assert "without Redis presence lives in one process" in log and "CACHE_HOST" in log, log
    assert "Traceback" not in log and "Running on" not in log, log
    if runner == "serve":  # refused before any worker starts: one line, exit code 2
        assert process.returncode == 2 and log.count("presence-gateway:") == 1, log
    # (hypercorn 0.18's parent exits 0 even when its workers fail, and each worker says why.)
