"""Bounds a hostile client meets, on a real gateway with small limits: the handshake
deadline, the token's lifetime, sockets per user, the event budget, the WebSocket
message size and the origin policy."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest
import socketio

from .clients import Client, connected_client, token_for
from .gateway_process import GatewayProcess
from .raw_socket import RawSocket

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

HANDSHAKE_TIMEOUT = 0.5
MAX_SOCKETS = 3
EVENTS_PER_MINUTE = 30


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory):
    process = GatewayProcess(
        Path(tmp_path_factory.mktemp("limits")),
        PRESENCE_HANDSHAKE_TIMEOUT=str(HANDSHAKE_TIMEOUT),
        PRESENCE_MAX_SOCKETS_PER_USER=str(MAX_SOCKETS),
        PRESENCE_EVENTS_PER_MINUTE=str(EVENTS_PER_MINUTE),
        PRESENCE_ENV="production",
        CORS_ORIGINS="https://app.example",
    ).start()
    yield process
    process.stop()
    assert "Traceback" not in process.log(), process.log()


async def test_a_session_that_never_sends_connect_is_closed_after_the_deadline(gateway) -> None:
    raw = await RawSocket.open(gateway.url)
    try:
        started = time.monotonic()
        await raw.closed(timeout=10 * HANDSHAKE_TIMEOUT)
        assert time.monotonic() - started <= 4 * HANDSHAKE_TIMEOUT
    finally:
        await raw.close()


async def test_a_socket_whose_token_expires_is_told_and_disconnected(gateway, user) -> None:
    # A raw socket reads frames in order (python-socketio's client handles each message in
    # a task of its own, and may drop the error once the DISCONNECT is handled).
    raw = await RawSocket.connect(gateway.url, token_for(user, expires_in=2))
    try:
        error = await raw.event("error", timeout=10)  # the sweeper's: this socket sends nothing
        assert error["code"] == "token_expired"
        try:
            while not (await raw.frame()).startswith("41"):  # Socket.IO DISCONNECT
                pass
        except ConnectionError:
            pass  # or the connection closed: disconnected either way
    finally:
        await raw.close()


async def test_an_event_after_expiry_is_refused_not_handled(gateway, user) -> None:
    raw = await RawSocket.connect(gateway.url, token_for(user, expires_in=1))
    try:
        await raw.send("42" + json.dumps(["presence:update", {"status": "DND"}]))
        assert (await raw.event("presence:updated"))["status"] == "DND"
        error = await raw.event("error", timeout=10)
        assert error["code"] == "token_expired"
        await raw.send("42" + json.dumps(["presence:update", {"status": "IDLE"}]))
        with pytest.raises((ConnectionError, TimeoutError)):
            while True:
                update = await raw.event("presence:updated", timeout=2)
                assert update["status"] != "IDLE"  # the refused event was not handled
    finally:
        await raw.close()


async def test_sockets_per_user_are_capped(gateway, user) -> None:
    clients = [await connected_client(gateway.url, user) for _ in range(MAX_SOCKETS)]
    extra = Client()
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await extra.connect(gateway.url, {"token": token_for(user)})
        assert extra.received("connect_error") == [{"message": "too many connections"}]
        await clients[0].close()
        again = await connected_client(gateway.url, user)  # a closed socket frees its place
        clients.append(again)
    finally:
        for client in clients:
            await client.close()


async def test_events_past_the_budget_are_refused_with_rate_limited(gateway, user) -> None:
    raw = await RawSocket.connect(gateway.url, token_for(user))
    try:
        for _ in range(EVENTS_PER_MINUTE + 5):
            await raw.send('42["ping"]')
        pongs, refusals = 0, 0
        while pongs + refusals < EVENTS_PER_MINUTE + 5:
            frame = await raw.frame()
            if frame == '42["pong"]':
                pongs += 1
            elif frame.startswith('42["error"'):
                assert json.loads(frame[2:])[1]["code"] == "rate_limited"
                refusals += 1
        assert pongs <= EVENTS_PER_MINUTE + 1 and refusals >= 4
    finally:
        await raw.close()


async def test_a_websocket_message_over_64_kib_is_refused_before_connect(gateway) -> None:
    raw = await RawSocket.open(gateway.url)
    try:
        await raw.send("4" + "x" * (64 * 1024 + 10))
        code = await raw.closed()
        assert code == 1009  # message too big, from the server, before buffering it all
    finally:
        await raw.close()


async def test_origins_outside_the_list_are_refused_on_the_socket_and_not_granted_on_http(gateway) -> None:
    async with aiohttp.ClientSession() as http:
        handshake = f"{gateway.url}/socket.io/?EIO=4&transport=polling"
        for origin, ok in [("https://app.example", True), ("https://evil.example", False), ("null", False)]:
            async with http.get(handshake, headers={"Origin": origin}) as response:
                assert (response.status == 200) is ok, origin
            async with http.get(f"{gateway.url}/healthz", headers={"Origin": origin}) as response:
                assert (response.headers.get("Access-Control-Allow-Origin") == origin) is ok
        async with http.get(handshake) as response:  # no Origin: not a browser
            assert response.status == 200


async def polling_sid(http, url: str) -> str:
    async with http.get(f"{url}/socket.io/?EIO=4&transport=polling") as response:
        return json.loads((await response.text())[1:])["sid"]


async def test_a_polling_post_over_64_kib_or_without_a_length_is_answered_at_once(gateway) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        sid = await polling_sid(http, gateway.url)
        post = f"{gateway.url}/socket.io/?EIO=4&transport=polling&sid={sid}"
        # Refused before the body is read, the connection closes: a client still writing
        # may see the reset instead of the status. Either way it is answered at once.
        try:
            async with http.post(post, data="4" + "x" * (64 * 1024)) as response:
                assert response.status == 413
        except aiohttp.ClientOSError:
            pass

        async def trickle():
            yield b"4"
            yield b"x" * 1000

        try:
            async with http.post(post, data=trickle()) as response:  # chunked: no Content-Length
                assert response.status == 411
        except aiohttp.ClientOSError:
            pass
        async with http.post(post, data="40" + json.dumps({"token": token_for("poller")})) as response:
            assert response.status == 200  # an ordinary POST is still served


async def test_a_socket_that_refreshes_its_token_lives_on_and_cannot_change_identity(gateway, user) -> None:
    client = await Client().connect(gateway.url, {"token": token_for(user, expires_in=2)})
    try:
        await client.next("connected")
        refused = await client.call("auth:refresh", {"token": token_for(f"{user}-other")})
        assert refused["error"]["code"] == "unauthorized"
        assert (await client.next("error"))["code"] == "unauthorized"  # said as an event too

        reply = await client.call("auth:refresh", {"token": token_for(user, expires_in=3600)})
        assert reply["expiresAt"].endswith("Z")
        with pytest.raises(asyncio.TimeoutError):  # the old token's expiry passes unnoticed
            await client.next("error", timeout=4)
        await client.round_trip()
        assert client.sio.connected
    finally:
        await client.close()
