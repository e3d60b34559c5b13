"""What an operator sees: start-up refusals in one line, the version, JSON logs without
secrets, one line saying what the instance is, and a clean stop that settles what it owns."""

from __future__ import annotations

import json
import uuid
from importlib.metadata import version
from pathlib import Path

import pytest
import redis
import socketio

from presence_gateway.adapters.jwt.minter import mint_token
from tests.support.redis_server import RedisServer

from .clients import Client, connected_client, token_for
from .gateway_process import SECRET, GatewayProcess, free_port
from .test_guide_flow import wait_for_durable
from .test_lifecycle import cli

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


def one_line_refusal(result, *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    refusal = [line for line in lines if line.startswith("presence-gateway: ")]
    assert len(refusal) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in refusal[0], refusal[0]


def test_a_second_embedded_process_or_a_taken_port_is_refused_in_one_line(tmp_path: Path) -> None:
    first = GatewayProcess(tmp_path).start()
    try:
        same_data = cli("serve", "--port", str(free_port()), cwd=tmp_path, PRESENCE_DATA_DIR=str(first.data_dir))
        same_port = cli("serve", "--port", str(first.port), cwd=tmp_path, PRESENCE_DATA_DIR=str(tmp_path / "other"))
    finally:
        first.stop()

    one_line_refusal(same_data, "another gateway process is serving from", "CACHE_HOST")
    one_line_refusal(same_port, f"cannot listen on 127.0.0.1:{first.port}", "PORT")
    assert first.process.returncode == 0


def test_version_is_the_installed_one(tmp_path: Path) -> None:
    result = cli("--version", cwd=tmp_path)

    assert result.returncode == 0
    assert result.stdout.strip() == f"presence-gateway {version('presence-gateway')}"


def test_libpq_sslmode_is_accepted_and_require_is_enforced(tmp_path: Path) -> None:
    """Unknown modes and the mapping itself: tests/unit/test_operations_units.py."""
    from tests.support.postgres_server import shared_postgres_url

    url = shared_postgres_url()  # a server without TLS, as CI's is
    separator = "&" if "?" in url else "?"

    prefer = cli("db", "current", cwd=tmp_path, DATABASE_URL=f"{url}{separator}sslmode=prefer")
    require = cli("serve", "--port", str(free_port()), cwd=tmp_path, DATABASE_URL=f"{url}{separator}sslmode=require")

    assert prefer.returncode in (0, 1) and "revision" in prefer.stdout + prefer.stderr, prefer.stderr
    assert "unexpected keyword" not in prefer.stderr
    one_line_refusal(require, "cannot be used", "SSL")


async def test_json_logs_name_the_instance_and_never_show_a_secret_or_a_token(tmp_path: Path) -> None:
    redis_password = f"redis-password-{uuid.uuid4().hex[:8]}"
    server = RedisServer(tmp_path / "redis").start()
    try:
        with redis.Redis.from_url(server.url) as admin:
            admin.config_set("requirepass", redis_password)
        url = f"redis://:{redis_password}@127.0.0.1:{server.port}/0"
        gateway = GatewayProcess(tmp_path / "gw", LOG_FORMAT="json", REDIS_URL=url, PRESENCE_INSTANCE_ID="gw-json-1")
        gateway.start()
        good = token_for("json-user")
        forged = mint_token("not-the-secret-but-long-enough-for-hs256", "json-user", 3600)
        try:
            client = await connected_client(gateway.url, "json-user")
            await client.sio.emit("presence:update", {"status": "NOT-A-STATUS"})
            await client.next("error")
            await client.close()
            refused = Client()
            with pytest.raises(socketio.exceptions.ConnectionError):
                await refused.connect(gateway.url, {"token": forged})
        finally:
            gateway.stop()
    finally:
        server.stop()

    log = gateway.log()
    entries = [json.loads(line) for line in log.splitlines() if line.strip()]  # every line is one object
    ready = [entry for entry in entries if entry["message"].startswith("presence-gateway ")]
    assert len(ready) == 1, log
    start = ready[0]
    assert start["mode"] == "redis" and start["instance_id"] == "gw-json-1"
    assert start["database"].startswith("sqlite+aiosqlite:///") and start["statuses_file"] == "built-in"
    assert start["audience"] == "open" and start["environment"] == "development"
    assert start["listening"] == f"http://127.0.0.1:{gateway.port}"
    assert start["redis"] == f"redis://:***@127.0.0.1:{server.port}/0"
    for secret in (SECRET, redis_password, good, forged, good.split(".")[2], forged.split(".")[2]):
        assert secret not in log


async def test_a_clean_stop_writes_users_in_their_offline_grace_offline(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, PRESENCE_OFFLINE_GRACE="60").start()
    client = await connected_client(gateway.url, "lingering")
    await wait_for_durable(gateway, "lingering", ("ONLINE", None))
    await client.close()  # the grace runs for a minute: still ONLINE

    gateway.stop()

    assert gateway.process.returncode == 0
    assert gateway.durable_status("lingering") == ("OFFLINE", None)
    restarted = GatewayProcess(tmp_path).start()
    restarted.stop()
    assert "that a previous run left online" not in restarted.log()


async def test_the_last_instance_to_stop_settles_every_grace_and_the_first_leaves_them(
    tmp_path: Path, redis_url: str
) -> None:
    shared = {"REDIS_URL": redis_url, "PRESENCE_OFFLINE_GRACE": "60", "PRESENCE_DATA_DIR": str(tmp_path / "data"),
              "PRESENCE_SOCKETIO_CHANNEL": f"socketio-{uuid.uuid4().hex[:8]}"}
    a = GatewayProcess(tmp_path / "a", **shared).start()
    b = GatewayProcess(tmp_path / "b", **shared).start()
    on_a = await connected_client(a.url, "left-on-a")
    on_b = await connected_client(b.url, "left-on-b")
    for gateway, user in ((a, "left-on-a"), (b, "left-on-b")):
        await wait_for_durable(gateway, user, ("ONLINE", None))
    await on_a.close()
    await on_b.close()
    with redis.Redis.from_url(redis_url, decode_responses=True) as r:
        await _wait_keys(r, {"presence:leaving:left-on-a", "presence:leaving:left-on-b"})

        a.stop()
        assert set(r.scan_iter("presence:leaving:*")) == {"presence:leaving:left-on-a", "presence:leaving:left-on-b"}
        assert a.durable_status("left-on-a") == ("ONLINE", None), "b is serving: it settles the grace when due"
        b.stop()

        assert list(r.scan_iter("presence:leaving:*")) == []
    assert (a.process.returncode, b.process.returncode) == (0, 0)
    assert a.durable_status("left-on-a") == ("OFFLINE", None)
    assert a.durable_status("left-on-b") == ("OFFLINE", None)
    for gateway in (a, b):
        assert "Traceback" not in gateway.log(), gateway.log()


async def _wait_keys(r: redis.Redis, keys: set[str], timeout: float = 5.0) -> None:
    import anyio

    with anyio.fail_after(timeout):
        while set(r.scan_iter("presence:leaving:*")) != keys:
            await anyio.sleep(0.02)
