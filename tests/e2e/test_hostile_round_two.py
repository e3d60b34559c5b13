"""What a hostile client tries once the first round of bounds holds: a CONNECT sent again
on a connected socket (over both transports), a user's many sockets sharing one budget,
events that cost what they name, a connect storm for one user, a device kind that forges
what other services read; in both modes, on a gateway with small budgets."""

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


SOCKET_BUDGET = 30
USER_BUDGET = 40
CONNECTS_PER_USER = 6


@pytest.fixture(scope="module", params=["embedded", "redis"])
def gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    env = {
        "PRESENCE_EVENTS_PER_MINUTE": str(SOCKET_BUDGET),
        "PRESENCE_USER_EVENTS_PER_MINUTE": str(USER_BUDGET),
        "PRESENCE_CONNECTS_PER_MINUTE_PER_USER": str(CONNECTS_PER_USER),
    }
    server = None
    if request.param == "redis":
        server = RedisServer(Path(tmp_path_factory.mktemp("redis-round-two"))).start()
        env["REDIS_URL"] = server.url
    process = GatewayProcess(Path(tmp_path_factory.mktemp("round-two")), **env).start()
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
        if (redis_url := gateway.env.get("REDIS_URL")) is not None:  # what other services read from the session hash
            with redis.Redis.from_url(redis_url, decode_responses=True) as r:
                assert r.hget(f"presence:{user}:{connected['socketId']}", "device") == "ios"
    finally:
        await client.close()


async def answers(raw: RawSocket) -> tuple[list[str], bool]:
    """Every frame the socket gets until it goes quiet for a second, and whether the server closed it."""
    frames: list[str] = []
    try:
        while True:
            frames.append(await raw.frame(timeout=1.0))
    except ConnectionError:
        return frames, True
    except TimeoutError:
        return frames, False


async def test_a_users_sockets_share_one_budget_and_a_socket_that_keeps_sending_is_closed(gateway, user) -> None:
    first = await RawSocket.connect(gateway.url, token_for(user))
    second = await RawSocket.connect(gateway.url, token_for(user))
    try:
        for _ in range(25):
            await first.send('42["ping"]')
        frames, closed = await answers(first)
        assert frames == ['42["pong"]'] * 25 and not closed  # under both budgets

        for _ in range(40):  # under its own socket's 30 at first, but past the user's 40
            await second.send('42["ping"]')
        frames, closed = await answers(second)
        pongs = frames.count('42["pong"]')
        errors = [json.loads(f[2:])[1] for f in frames if f.startswith('42["error"')]
        assert USER_BUDGET - 25 <= pongs <= USER_BUDGET - 25 + 2  # what the user had left (and a refill)
        assert len(errors) == 10 and {e["code"] for e in errors} == {"rate_limited"}
        assert "closed" in errors[-1]["message"] and closed  # ten refusals in a row close it
    finally:
        await first.close()
        await second.close()


async def test_a_subscribe_costs_what_it_names(gateway, user) -> None:
    raw = await RawSocket.connect(gateway.url, token_for(user))
    try:
        hundred = json.dumps({"userIds": [f"{user}-w{i}" for i in range(100)]})
        for n in range(3):
            await raw.send(f'42{n}["presence:subscribe",{hundred}]')
        acks = [f for f in (await answers(raw))[0] if f.startswith("43")]
        assert [("error" in json.loads(a[3:])[0]) for a in acks] == [False, False, True]  # 11 + 11 of 30, then 33
    finally:
        await raw.close()


async def test_a_connect_storm_for_one_user_is_refused_before_its_token_is_checked(gateway, user) -> None:
    sockets: list[RawSocket] = []
    refused: list[str] = []
    try:
        for _ in range(CONNECTS_PER_USER + 3):
            raw = await RawSocket.open(gateway.url)
            sockets.append(raw)
            await raw.send("40" + json.dumps({"token": token_for(user)}))
            reply = await raw.frame()
            if reply.startswith("44"):
                refused.append(json.loads(reply[2:])["message"])
        assert refused == ["too many connection attempts"] * 3
        bystander = await RawSocket.connect(gateway.url, token_for(f"{user}-bystander"))  # the same address
        sockets.append(bystander)
        await bystander.round_trip()
    finally:
        for raw in sockets:
            await raw.close()


async def test_a_websocket_refused_at_connect_is_told_why_then_closed(gateway) -> None:
    raw = await RawSocket.open(gateway.url)
    try:
        await raw.send('40{"token":"not-a-token"}')
        assert json.loads((await raw.frame())[2:]) == {"message": "invalid token"}  # the refusal comes first
        await raw.closed(timeout=2.0)  # then the server closes: a refused attempt holds no connection
    finally:
        await raw.close()


async def test_a_polling_session_refused_at_connect_is_told_why_then_ended(gateway) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:  # well within a ping interval
        poll = Polling(http, gateway.url)
        await poll.open()
        await poll.send('40{"token":"not-a-token"}')
        told = await poll.frames()
        assert json.loads(told[0][2:]) == {"message": "invalid token"}  # the refusal comes first
        ended = told[1:] or await poll.frames()
        assert ended in (["1"], ["http 400"])  # then Engine.IO CLOSE, with no wait for a ping timeout
        assert await poll.frames() == ["http 400"]  # the session is gone: a refused attempt holds nothing
