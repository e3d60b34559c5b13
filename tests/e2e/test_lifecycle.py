"""Start, expiry and shutdown of a real gateway process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
import socketio

from .clients import Client, Disconnects, connected_client, token_for
from .gateway_process import GatewayProcess
from .test_guide_flow import wait_for_durable

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

GRACEFUL_TIMEOUT = 2.0  # what serve gives hypercorn (entrypoints/process/serve.py)


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("JWT_SECRET_ACCESS", "PRESENCE_ENV")}
    return subprocess.run(
        [sys.executable, "-m", "presence_gateway.entrypoints.process.cli", *args],
        cwd=cwd, env={**clean, **env}, capture_output=True, text=True, timeout=30,
    )


async def test_a_silent_client_is_expired_and_a_later_ping_brings_it_back(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, PRESENCE_SESSION_TTL="1", PRESENCE_SWEEP_INTERVAL="0.05").start()
    try:
        silent = await connected_client(gateway.url, "half-open")
        assert (await silent.next("presence:updated"))["status"] == "ONLINE"

        assert (await silent.next("presence:updated", timeout=5))["status"] == "OFFLINE"
        await wait_for_durable(gateway, "half-open", ("OFFLINE", None))

        await silent.sio.emit("ping")
        assert (await silent.next("presence:updated"))["status"] == "ONLINE"
        await silent.close()
    finally:
        gateway.stop()
    assert "Traceback" not in gateway.log()


async def test_sigterm_with_clients_connected_exits_promptly_and_records_them_offline(tmp_path: Path) -> None:
    """Promptly: the server closes every socket itself and exits well inside hypercorn's
    graceful timeout, which it would otherwise wait out before cancelling the connections."""
    gateway = GatewayProcess(tmp_path).start()
    clients = [await connected_client(gateway.url, f"stay-{n % 20}") for n in range(50)]
    disconnects = Disconnects(clients)
    for n in range(20):
        await wait_for_durable(gateway, f"stay-{n}", ("ONLINE", None))

    took = await anyio.to_thread.run_sync(gateway.stop)  # the clients keep answering meanwhile

    assert gateway.process.returncode == 0
    assert took < GRACEFUL_TIMEOUT, f"shutdown took {took:.2f}s"
    with anyio.fail_after(5):
        await disconnects.all_closed.wait()
    assert set(disconnects.reasons) == {socketio.AsyncClient.reason.SERVER_DISCONNECT}
    for n in range(20):
        assert gateway.durable_status(f"stay-{n}") == ("OFFLINE", None)
    assert "Traceback" not in gateway.log(), gateway.log()


async def test_users_left_online_by_a_crash_are_offline_after_a_restart(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path).start()
    client = await connected_client(gateway.url, "crashed")
    await wait_for_durable(gateway, "crashed", ("ONLINE", None))
    gateway.process.kill()
    gateway.process.wait()
    await client.close()

    restarted = GatewayProcess(tmp_path).start()
    try:
        assert restarted.durable_status("crashed") == ("OFFLINE", None)
    finally:
        restarted.stop()


async def test_token_command_mints_a_token_the_gateway_accepts(tmp_path: Path) -> None:
    secret = "token-command-secret-long-enough-for-hs256"
    result = cli("token", "--user", "42", "--expires-in", "12h", cwd=tmp_path, JWT_SECRET_ACCESS=secret)
    assert result.returncode == 0, result.stderr

    gateway = GatewayProcess(tmp_path, JWT_SECRET_ACCESS=secret).start()
    try:
        client = await Client().connect(gateway.url, {"token": result.stdout.strip()})
        assert (await client.next("connected"))["userId"] == "42"
        await client.close()
    finally:
        gateway.stop()


def test_token_uses_the_secret_serve_generated_and_refuses_elsewhere(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path / "app")
    del gateway.env["JWT_SECRET_ACCESS"], gateway.env["PRESENCE_DATA_DIR"]  # the development default
    gateway.data_dir = tmp_path / "app" / "data"
    gateway.start()
    gateway.stop()
    secret = (tmp_path / "app" / "data" / "jwt-secret").read_text().strip()

    token = cli("token", "--user", "7", cwd=tmp_path / "app")
    elsewhere = cli("token", "--user", "7", cwd=tmp_path)

    from presence_gateway.adapters.jwt.verifier import JwtTokenVerifier

    assert JwtTokenVerifier(secret).identify_now(token.stdout.strip()).user_id == "7"
    assert elsewhere.returncode == 2 and elsewhere.stdout == ""
    assert "JWT_SECRET_ACCESS is not set" in elsewhere.stderr and str(tmp_path / "data") in elsewhere.stderr
    assert not (tmp_path / "data").exists(), "a second secret was made"


def test_production_without_a_secret_refuses_to_start(tmp_path: Path) -> None:
    result = cli("serve", "--port", "1", cwd=tmp_path, PRESENCE_ENV="production")

    assert result.returncode == 2
    assert "JWT_SECRET_ACCESS" in result.stderr


@pytest.mark.parametrize(
    ("auth", "refusal"),
    [
        ({}, "missing token"),
        ({"token": "anything"}, "invalid token"),
        ({"token": token_for("42")}, "invalid token"),  # signed, but not with this gateway's secret
    ],
    ids=["no-token", "garbage", "another-secret"],
)
async def test_with_the_generated_development_secret_a_client_without_a_token_it_signed_is_refused(
    tmp_path: Path, auth: dict, refusal: str
) -> None:
    gateway = GatewayProcess(tmp_path)
    del gateway.env["JWT_SECRET_ACCESS"]  # development: serve generates a secret in the data directory
    gateway.start()
    try:
        assert (gateway.data_dir / "jwt-secret").exists()
        client = Client()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(gateway.url, auth)
        assert client.received("connect_error") == [{"message": refusal}]
    finally:
        gateway.stop()
