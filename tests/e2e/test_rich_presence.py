"""Rich presence over real sockets: a user's web tab goes idle while their phone stays
active, and a watcher (on the other instance) sees the devices change, not the user go
away, until the phone goes idle too; every update carries a growing seq."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import socketio

from presence_gateway.adapters.presence_payload import iso_timestamp
from presence_gateway.domain.rich_presence import parse_timestamp

from .clients import Client, connected_client, token_for
from .gateway_process import GatewayProcess
from .test_load_balancer import node_binary

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def device_client(url: str, user_id: str, device: str) -> Client:
    client = await Client().connect(url, {"token": token_for(user_id), "device": device})
    await client.next("connected")
    return client


@pytest.fixture(params=["two-instances", "embedded"])
def instances(request: pytest.FixtureRequest, tmp_path: Path):
    """Sweeping twice a second: a custom status clears itself at its expiry on the real clock."""
    sweeping = {"PRESENCE_SWEEP_INTERVAL": "0.5"}
    if request.param == "embedded":
        gateway = GatewayProcess(tmp_path / "one", **sweeping).start()
        started = [gateway]
        yield gateway, gateway
    else:
        redis_url = request.getfixturevalue("redis_url")
        env = {"REDIS_URL": redis_url, "PRESENCE_SOCKETIO_CHANNEL": f"socketio-{uuid.uuid4().hex[:8]}", **sweeping}
        env["PRESENCE_DATA_DIR"] = str(tmp_path / "shared-data")
        started = [GatewayProcess(tmp_path / "a", **env).start(), GatewayProcess(tmp_path / "b", **env).start()]
        yield started[0], started[1]
    for gateway in started:
        gateway.stop()
        assert "Traceback" not in gateway.log(), gateway.log()


@dataclass
class Watched:
    """User A with a web socket on one instance and a mobile socket on the other, and a
    watcher of A on the other; every ``seq`` the watcher got about A, in order."""

    user: str
    web: Client
    mobile: Client
    watcher: Client
    seqs: list[int]
    entry: dict

    async def seen(self, timeout: float = 5.0) -> dict:
        update = await self.watcher.next("presence:updated", timeout)
        while update["userId"] != self.user:  # the watcher's own, as a socket of its user
            update = await self.watcher.next("presence:updated", timeout)
        self.seqs.append(update["seq"])
        return update

    def seq_grew_strictly(self) -> bool:
        return all(later > earlier for earlier, later in zip(self.seqs, self.seqs[1:], strict=False))


@asynccontextmanager
async def watched(one: GatewayProcess, two: GatewayProcess) -> AsyncIterator[Watched]:
    user = f"rich-{uuid.uuid4().hex[:6]}"
    clients = [
        await device_client(one.url, user, "web"), await device_client(two.url, user, "mobile"),
        await connected_client(two.url, f"{user}-watcher"),
    ]
    try:
        (entry,) = (await clients[2].call("presence:subscribe", {"userIds": [user]}))["presence"]
        yield Watched(user, clients[0], clients[1], clients[2], [entry["seq"]], entry)
    finally:
        for client in clients:
            await client.close()


async def test_an_idle_tab_does_not_make_a_user_with_an_active_phone_idle(instances) -> None:
    one, _ = instances
    async with watched(*instances) as a:
        user, web, mobile, watcher, seqs, entry, seen = a.user, a.web, a.mobile, a.watcher, a.seqs, a.entry, a.seen
        assert (entry["status"], entry["devices"], entry["customStatus"]) == (
            "ONLINE", {"web": "ONLINE", "mobile": "ONLINE"}, None,
        )

        assert await web.call("presence:update", {"status": "IDLE"}) == {"ok": True}
        update = await seen()
        assert (update["status"], update["devices"]) == ("ONLINE", {"web": "IDLE", "mobile": "ONLINE"})

        await mobile.call("presence:update", {"status": "IDLE"})
        update = await seen()
        assert (update["status"], update["devices"]) == ("IDLE", {"web": "IDLE", "mobile": "IDLE"})

        await mobile.call("presence:update", {"status": "DND"})
        update = await seen()
        assert (update["status"], update["devices"]) == ("DND", {"web": "IDLE", "mobile": "ONLINE"})
        await web.call("presence:update", {"status": "ONLINE"})  # from the other socket: DND no more
        update = await seen()
        assert (update["status"], update["devices"]) == ("ONLINE", {"web": "ONLINE", "mobile": "ONLINE"})
        await web.call("presence:update", {"status": "DND"})
        update = await seen()
        assert (update["status"], update["devices"]) == ("DND", {"web": "ONLINE", "mobile": "ONLINE"})

        await mobile.call("presence:update", {"status": "INVISIBLE"})
        update = await seen()
        assert (update["status"], update["devices"], update["customStatus"]) == ("OFFLINE", {}, None)

        # A second socket of a user others see as offline tells the watcher nothing.
        extra = await device_client(one.url, user, "web")
        await extra.close()
        await watcher.round_trip()
        about_user = [u for u in watcher.received("presence:updated") if u["userId"] == user]
        assert len(about_user) == len(seqs) - 1
        assert a.seq_grew_strictly(), seqs


async def test_an_invalid_device_is_refused_at_connect(instances) -> None:
    one, _ = instances
    client = Client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(one.url, {"token": token_for("bad-device"), "device": "Phone 1"})
    assert any("invalid device" in str(payload) for name, payload in client.events if name == "connect_error"), client.events


async def test_devices_custom_status_and_seq_as_a_watcher_on_the_other_instance_sees_them(instances) -> None:
    async with watched(*instances) as a:
        web, mobile = a.web, a.mobile

        async def seen(timeout: float = 5.0) -> tuple[str, dict, object]:
            update = await a.seen(timeout)
            return update["status"], update["devices"], update["customStatus"]

        await web.call("presence:update", {"status": "IDLE"})
        assert await seen() == ("ONLINE", {"web": "IDLE", "mobile": "ONLINE"}, None)
        await mobile.call("presence:update", {"status": "IDLE"})
        assert await seen() == ("IDLE", {"web": "IDLE", "mobile": "IDLE"}, None)

        expires_at = iso_timestamp(time.time() + 3)
        lunch = {"text": "lunch", "emoji": "🍜", "expiresAt": expires_at}
        assert await web.call("presence:update", {"customStatus": lunch}) == {"ok": True}
        assert await seen() == ("IDLE", {"web": "IDLE", "mobile": "IDLE"}, lunch)
        # Cleared by a sweeper at its expiry, with nobody doing anything.
        assert await seen(timeout=3 + 10) == ("IDLE", {"web": "IDLE", "mobile": "IDLE"}, None)
        assert time.time() >= parse_timestamp(expires_at, "expiresAt")

        await web.call("presence:update", {"status": "DND"})
        assert await seen() == ("DND", {"web": "ONLINE", "mobile": "IDLE"}, None)
        await web.call("presence:update", {"status": "ONLINE"})
        assert await seen() == ("ONLINE", {"web": "ONLINE", "mobile": "IDLE"}, None)
        await mobile.call("presence:update", {"status": "DND"})
        assert await seen() == ("DND", {"web": "ONLINE", "mobile": "ONLINE"}, None)

        await mobile.call("presence:update", {"customStatus": {"text": "on call"}})
        on_call = {"text": "on call", "emoji": None, "expiresAt": None}  # every key, null when not set
        assert await seen() == ("DND", {"web": "ONLINE", "mobile": "ONLINE"}, on_call)
        await web.call("presence:update", {"status": "INVISIBLE"})
        assert await seen() == ("OFFLINE", {}, None)

        assert a.seq_grew_strictly(), a.seqs


def test_the_rich_presence_example_of_the_docs_runs(tmp_path: Path) -> None:
    node = node_binary()
    gateway = GatewayProcess(tmp_path / "example", PRESENCE_SWEEP_INTERVAL="0.5").start()
    try:
        env = {**os.environ, "GATEWAY_URL": gateway.url, "TOKEN": token_for("42"), "WATCHER_TOKEN": token_for("7")}
        run = subprocess.run(
            [node, str(EXAMPLES / "rich-presence.mjs")], env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        gateway.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    seen = [line.rsplit(" ", 1)[0] for line in lines if line.startswith("42 ")]
    assert seen[:3] == [
        '42 ONLINE {"web":"ONLINE","mobile":"ONLINE"} null',
        '42 ONLINE {"web":"IDLE","mobile":"ONLINE"} null',
        '42 IDLE {"web":"IDLE","mobile":"IDLE"} null',
    ]
    assert '"text":"lunch","emoji":"🍜"' in seen[3] and seen[4] == '42 IDLE {"web":"IDLE","mobile":"IDLE"} null'
    seqs = [int(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("42 ")]
    assert seqs == sorted(set(seqs))
    assert lines[-1].startswith('refused: {"error":{"code":"invalid_payload"') and "customStatus.text" in lines[-1]
