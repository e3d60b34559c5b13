"""What a hostile client tries once the first round of bounds holds: a CONNECT sent again
on a connected socket (over both transports), a device kind that forges what other
services read, in both modes."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
import redis
import socketio

from tests.support.redis_server import RedisServer

from .clients import Client, token_for
from .gateway_process import GatewayProcess
from .raw_socket import RawSocket

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture(scope="module", params=["embedded", "redis"])
def gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    env: dict[str, str] = {}
    server = None
    if request.param == "redis":
        server = RedisServer(Path(tmp_path_factory.mktemp("redis-round-two"))).start()
        env["REDIS_URL"] = server.url
    process = GatewayProcess(Path(tmp_path_factory.mktemp("round-two")), **env).start()
    process.redis_url = server.url if server else None  # type: ignore[attr-defined]
    yield process
    process.stop()
    if server is not None:
        server.stop()
    assert "Traceback" not in process.log(), process.log()


async def test_a_resent_connect_on_a_websocket_is_refused_then_closes_the_connection(gateway, user) -> None:
    raw = await RawSocket.connect(gateway.url, token_for(user))
    try:
        await raw.send("40" + json.dumps({"token": token_for(user)}))
        assert json.loads((await raw.frame())[2:]) == {"message": "already connected"}  # 44{message}
        await raw.send('42["ping"]')
        assert await raw.frame() == '42["pong"]'  # no second `connected` came before it

        await raw.send("40" + json.dumps({"token": token_for(user)}))
        await raw.closed()
    finally:
        await raw.close()


class Polling:
    """An Engine.IO session over long-polling, frame by frame."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http = http
        self.base = f"{url}/socket.io/?EIO=4&transport=polling"
        self.sid = ""

    async def open(self) -> None:
        async with self.http.get(self.base) as response:
            self.sid = json.loads((await response.text())[1:])["sid"]

    async def send(self, frame: str) -> None:
        async with self.http.post(f"{self.base}&sid={self.sid}", data=frame) as response:
            assert response.status == 200

    async def frames(self) -> list[str]:
        async with self.http.get(f"{self.base}&sid={self.sid}") as response:
            if response.status != 200:
                return [f"http {response.status}"]
            return [f for f in (await response.text()).split("\x1e") if f != "2"]


async def test_a_resent_connect_over_polling_is_refused_then_closes_the_session(gateway, user) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        poll = Polling(http, gateway.url)
        await poll.open()
        await poll.send("40" + json.dumps({"token": token_for(user)}))
        first: list[str] = []
        while not any(f.startswith('42["connected"') for f in first):
            first += await poll.frames()
        assert first[0].startswith("40")

        await poll.send("40" + json.dumps({"token": token_for(user)}))
        await poll.send('42["ping"]')
        again: list[str] = []
        while '42["pong"]' not in again:
            again += await poll.frames()
        assert again == ['44{"message":"already connected"}', '42["pong"]']  # and no `connected`

        await poll.send("40" + json.dumps({"token": token_for(user)}))
        ended = await poll.frames()
        assert ended in (["1"], ["http 400"])  # Engine.IO CLOSE, or the session already gone


async def test_a_device_kind_is_lower_cased_and_a_forged_one_refused(gateway, user) -> None:
    forged = Client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await forged.connect(gateway.url, {"token": token_for(user), "device": "ios\nINFO forged\x1b[31m"})
    assert forged.received("connect_error") == [{"message": "invalid device"}]

    client = await Client().connect(gateway.url, {"token": token_for(user), "device": "IOS"})
    try:
        connected = await client.next("connected")
        if gateway.redis_url is not None:  # what other services read from the session hash
            with redis.Redis.from_url(gateway.redis_url, decode_responses=True) as r:
                assert r.hget(f"presence:{user}:{connected['socketId']}", "device") == "ios"
    finally:
        await client.close()
