"""The integration guide's Testing section, against a real gateway."""

from __future__ import annotations

import asyncio
import time

import pytest

from .clients import Client, connected_client, token_for

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


async def wait_for_durable(gateway, user_id: str, expected: tuple[str, str | None], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while gateway.durable_status(user_id) != expected:
        assert time.monotonic() < deadline, f"{user_id} is {gateway.durable_status(user_id)}, expected {expected}"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("transports", [["websocket"], ["polling", "websocket"]], ids=["websocket", "polling-then-upgrade"])
async def test_connect_is_confirmed_with_the_user_and_socket_ids(gateway, user, transports) -> None:
    client = await Client().connect(gateway.url, {"token": token_for(user)}, transports)
    try:
        confirmed = await client.next("connected")
        assert confirmed == {"userId": user, "socketId": client.sid, "status": "ONLINE"}
        assert (await client.next("presence:updated"))["status"] == "ONLINE"
    finally:
        await client.close()


async def test_ping_is_answered_with_pong(gateway, user) -> None:
    client = await connected_client(gateway.url, user)
    try:
        for _ in range(3):
            await client.sio.emit("ping")
            assert await client.next("pong") is None
    finally:
        await client.close()


async def test_a_status_update_reaches_the_users_other_socket_and_nobody_else(gateway, user) -> None:
    tab1 = await connected_client(gateway.url, user)
    tab2 = await connected_client(gateway.url, user)
    stranger = await connected_client(gateway.url, user + "-stranger")
    try:
        await tab1.sio.emit("presence:update", {"status": "IDLE"})

        update = await tab2.next("presence:updated")
        assert (update["userId"], update["status"]) == (user, "IDLE")
        assert update["timestamp"].endswith("Z") and "T" in update["timestamp"]
        assert (await tab1.next("presence:updated"))["status"] in ("ONLINE", "IDLE")
        await stranger.round_trip()
        assert [u["userId"] for u in stranger.received("presence:updated")] == [user + "-stranger"]
    finally:
        for client in (tab1, tab2, stranger):
            await client.close()


async def test_a_second_tab_is_told_the_status_the_user_already_has(gateway, user) -> None:
    tab1 = await connected_client(gateway.url, user)
    try:
        await tab1.sio.emit("presence:update", {"status": "DND"})
        await tab1.round_trip()
        tab2 = await Client().connect(gateway.url, {"token": token_for(user)})
        assert (await tab2.next("connected"))["status"] == "DND"
        await tab2.round_trip()
        assert tab2.received("presence:updated") == []
        await tab2.close()
    finally:
        await tab1.close()


async def test_closing_one_of_two_tabs_changes_nothing_and_the_last_makes_the_user_offline(gateway, user) -> None:
    tab1 = await connected_client(gateway.url, user)
    tab2 = await connected_client(gateway.url, user)
    await wait_for_durable(gateway, user, ("ONLINE", None))

    await tab1.close()
    await tab2.round_trip()
    assert [u["status"] for u in tab2.received("presence:updated")] == []
    assert gateway.durable_status(user) == ("ONLINE", None)

    await tab2.close()
    await wait_for_durable(gateway, user, ("OFFLINE", None))


async def test_a_chosen_status_comes_back_after_a_reconnect(gateway, user) -> None:
    client = await connected_client(gateway.url, user)
    await client.sio.emit("presence:update", {"status": "DND"})
    await client.round_trip()
    await client.close()
    await wait_for_durable(gateway, user, ("OFFLINE", "DND"))

    again = await Client().connect(gateway.url, {"token": token_for(user)})
    try:
        assert (await again.next("connected"))["status"] == "DND"
        assert (await again.next("presence:updated"))["status"] == "DND"
    finally:
        await again.close()


async def test_invisible_is_stored_as_offline_and_shown_to_the_user(gateway, user) -> None:
    client = await connected_client(gateway.url, user)
    try:
        await client.sio.emit("presence:update", {"status": "INVISIBLE"})
        seen = [await client.next("presence:updated") for _ in range(2)]
        assert [u["status"] for u in seen] == ["ONLINE", "INVISIBLE"]
        await wait_for_durable(gateway, user, ("OFFLINE", "INVISIBLE"))
    finally:
        await client.close()
