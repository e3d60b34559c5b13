"""Bad tokens are refused at connect with their reason; bad payloads get ``error`` and the
connection keeps being served."""

from __future__ import annotations

import base64
import json

import pytest
import socketio

from .clients import Client, connected_client, token_for

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


def unsigned(claims: dict) -> str:
    part = lambda data: base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


BAD_TOKENS = [
    ("no-auth", None, "missing token"),
    ("empty-auth", {}, "missing token"),
    ("empty-token", {"token": ""}, "missing token"),
    ("malformed", {"token": "not.a.jwt"}, "invalid token"),
    ("bad-signature", {"token": token_for("42")[:-4] + "AAAA"}, "invalid token"),
    ("alg-none", {"token": unsigned({"sub": "42"})}, "invalid token"),
    ("expired", {"token": token_for("42", expires_in=60, now=1_000_000_000)}, "expired token"),
]


@pytest.mark.parametrize(("auth", "message"), [(a, m) for _, a, m in BAD_TOKENS], ids=[i for i, _, _ in BAD_TOKENS])
async def test_a_bad_token_is_refused_at_connect_with_its_reason(gateway, auth, message) -> None:
    client = Client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(gateway.url, auth)

    assert client.received("connect_error") == [{"message": message}]
    assert client.received("connected") == []
    assert not client.sio.connected


BAD_PAYLOADS = [
    ("no-payload", (), "invalid_payload"),
    ("not-an-object", ("IDLE",), "invalid_payload"),
    ("a-list", (["IDLE"],), "invalid_payload"),
    ("missing-status", ({},), "invalid_payload"),
    ("status-not-a-string", ({"status": 5},), "invalid_payload"),
    ("unknown-status", ({"status": "BUSY"},), "unknown_status"),
    ("lower-case", ({"status": "idle"},), "unknown_status"),
    ("oversized-status", ({"status": "X" * 20_000},), "invalid_payload"),
    ("oversized-object", ({f"k{n}": n for n in range(500)} | {"status": "IDLE"},), "invalid_payload"),
]


@pytest.mark.parametrize(("args", "code"), [(a, c) for _, a, c in BAD_PAYLOADS], ids=[i for i, _, _ in BAD_PAYLOADS])
async def test_a_bad_payload_gets_an_error_and_changes_nothing(gateway, user, args, code) -> None:
    client = await connected_client(gateway.url, user)
    other_tab = await connected_client(gateway.url, user)
    try:
        await client.sio.emit("presence:update", *args)

        error = await client.next("error")
        assert error["code"] == code and error["message"]
        await client.round_trip()  # still served
        await other_tab.round_trip()
        assert other_tab.received("presence:updated") == []
        assert client.sio.connected
    finally:
        await client.close()
        await other_tab.close()
