"""Frames no stock client sends: reserved event names, binary attachments, undecodable
Engine.IO frames. Each is refused, changes nothing, and logs no traceback (the module's
gateway fixture checks the log when it stops)."""

from __future__ import annotations

import json

import pytest

from .clients import connected_client, token_for
from .raw_socket import RawSocket

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


async def seen_status(url: str, user_id: str, viewer: str) -> str:
    watcher = await connected_client(url, viewer)
    try:
        reply = await watcher.call("presence:subscribe", {"userIds": [user_id]})
        return reply["presence"][0]["status"]
    finally:
        await watcher.close()


async def test_a_client_sent_disconnect_event_ends_nothing(gateway, user) -> None:
    raw = await RawSocket.connect(gateway.url, token_for(user))
    watcher = await connected_client(gateway.url, f"{user}-viewer")
    try:
        await watcher.call("presence:subscribe", {"userIds": [user]})
        await raw.send('42["disconnect"]')
        await raw.send('42["disconnect", "client namespace disconnect"]')
        await raw.send('42["presence:update", {"status": "DND"}]')
        await raw.event("presence:updated")  # handled in order: the disconnects came first

        def seen() -> list[str]:
            return [u["status"] for u in watcher.received("presence:updated") if u["userId"] == user]

        await watcher.wait_until(lambda: "DND" in seen())
        assert seen() == ["DND"]  # never OFFLINE
    finally:
        await raw.close()
        await watcher.close()


async def test_a_client_sent_connect_event_cannot_switch_identity(gateway, user) -> None:
    victim = f"{user}-victim"
    raw = await RawSocket.connect(gateway.url, token_for(user))
    try:
        forged_environ = {"REMOTE_ADDR": "6.6.6.6", "HTTP_USER_AGENT": "forged"}
        await raw.send("42" + json.dumps(["connect", forged_environ, {"token": token_for(victim), "device": "forged"}]))
        await raw.round_trip()

        await raw.send("42" + json.dumps(["presence:update", {"status": "DND"}]))
        update = await raw.event("presence:updated")
        assert update["userId"] == user  # the socket is still who its handshake said
        assert await seen_status(gateway.url, victim, f"{user}-viewer") == "OFFLINE"
    finally:
        await raw.close()


@pytest.mark.parametrize(
    "frame",
    ['42[]', '42{}', '42[["x"]]', '42[{"a": 1}]', '42[null]', '42[5]', "42", '4{"x"', "4", "49", '42["*"]'],
)
async def test_a_malformed_socketio_packet_is_dropped_and_the_socket_still_served(gateway, user, frame) -> None:
    raw = await RawSocket.connect(gateway.url, token_for(user))
    try:
        await raw.send(frame)
        await raw.round_trip()
        assert "Traceback" not in gateway.log()
    finally:
        await raw.close()


async def test_a_binary_attachment_closes_the_socket_and_ends_its_session(gateway, user) -> None:
    raw = await RawSocket.connect(gateway.url, token_for(user))
    try:
        await raw.send('451-["presence:update",{"_placeholder":true,"num":0}]')
        await raw.send(b"\x04" + b"x" * 1000)
        await raw.closed()
        assert await seen_status(gateway.url, user, f"{user}-viewer") == "OFFLINE"
    finally:
        await raw.close()


@pytest.mark.parametrize("frame", ["", "x", "{}", " 2"])
async def test_an_undecodable_engineio_frame_closes_cleanly_and_ends_the_session_at_once(gateway, user, frame) -> None:
    raw = await RawSocket.connect(gateway.url, token_for(user))
    try:
        await raw.send(frame)
        code = await raw.closed()
        assert code != 1011
        # no 58 s wait for a ping timeout: the session ended with the connection
        assert await seen_status(gateway.url, user, f"{user}-viewer") == "OFFLINE"
    finally:
        await raw.close()


HOSTILE_SUBJECTS = ["42\nFORGED-BY-SUBJECT line", "\ud800", "nul\x00user", "sockets", "instance", "a:b"]


@pytest.mark.parametrize("subject", HOSTILE_SUBJECTS, ids=["newline", "lone-surrogate", "nul", "sockets", "instance", "colon"])
async def test_a_token_naming_an_invalid_user_id_is_refused_at_connect(gateway, subject) -> None:
    from tests.contract.test_token_verifier import signed_ascii

    from .gateway_process import SECRET

    raw = await RawSocket.open(gateway.url)
    try:
        await raw.send("40" + json.dumps({"token": signed_ascii({"sub": subject}, SECRET)}))
        reply = await raw.frame()
        assert reply.startswith("44") and json.loads(reply[2:])["message"] == "invalid token"
    finally:
        await raw.close()
    assert not any(line.startswith("FORGED") for line in gateway.log().splitlines())


async def test_a_forged_sid_in_a_polling_url_writes_no_log_line_of_its_own(gateway) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        url = f"{gateway.url}/socket.io/?EIO=4&transport=polling&sid=x%0AFORGED-BY-SID%20line"
        async with http.get(url) as response:
            assert response.status == 400
    raw = await RawSocket.open(gateway.url)  # a later request: the log line is written by now
    await raw.close()
    assert not any(line.startswith("FORGED") for line in gateway.log().splitlines())
