"""The integration guide's Testing section, against a real gateway."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import anyio
import pytest

from .clients import Client, connected_client, token_for
from .gateway_process import GatewayProcess, scrape

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


@pytest.mark.parametrize("transports", [["websocket"], ["polling", "websocket"]], ids=["websocket", "polling-then-upgrade"])
async def test_on_connect_the_status_arrives_before_the_confirmation(gateway, user, transports) -> None:
    """The README's order: ``presence:updated`` (the first tab only: its arrival changed
    the user's status), then ``connected``; a second tab, which changed nothing, hears
    ``connected`` alone."""
    first = await Client().connect(gateway.url, {"token": token_for(user)}, transports)
    second: Client | None = None
    try:
        await first.next("connected")
        second = await Client().connect(gateway.url, {"token": token_for(user)}, transports)
        await second.next("connected")
        for tab in (first, second):
            await tab.round_trip()

        assert [name for name, _ in first.events] == ["presence:updated", "connected", "pong"]
        assert [name for name, _ in second.events] == ["connected", "pong"]
    finally:
        await first.close()
        if second is not None:
            await second.close()


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
        await tab1.sio.emit("presence:update", {"status": "DND"})

        update = await tab2.next("presence:updated")
        assert (update["userId"], update["status"]) == (user, "DND")
        assert update["timestamp"].endswith("Z") and "T" in update["timestamp"]
        for tab in (tab1, tab2, stranger):
            await tab.round_trip()
        # The first tab heard its own arrival (before ``connected``), the second only the change.
        assert [u["status"] for u in tab1.received("presence:updated")] == ["ONLINE", "DND"]
        assert [u["status"] for u in tab2.received("presence:updated")] == ["DND"]
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


async def wait_for_metric(gateway, name: str, value: float, timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while (await anyio.to_thread.run_sync(scrape, gateway.url + "/metrics")).get((name, ())) != value:
            await anyio.sleep(0.02)


async def test_closing_one_of_two_tabs_changes_nothing_and_the_last_makes_the_user_offline(tmp_path: Path, user) -> None:
    """"Nothing" is checked once the server has handled the close (its disconnects count
    moves when the handling is done) and once a write queued after it has landed (another
    user's arrival), so a change or a write the close caused would be seen. A gateway of
    its own: the count is this test's alone."""
    gateway = GatewayProcess(tmp_path).start()
    try:
        tab1 = await connected_client(gateway.url, user)
        tab2 = await connected_client(gateway.url, user)
        await wait_for_durable(gateway, user, ("ONLINE", None))

        await tab1.close()
        await wait_for_metric(gateway, "presence_disconnects_total", 1)
        later = await connected_client(gateway.url, user + "-later")
        await wait_for_durable(gateway, user + "-later", ("ONLINE", None))
        await tab2.round_trip()
        assert tab2.received("presence:updated") == []
        assert gateway.durable_status(user) == ("ONLINE", None)

        await tab2.close()
        await wait_for_durable(gateway, user, ("OFFLINE", None))
        await later.close()
    finally:
        gateway.stop()
    assert "Traceback" not in gateway.log(), gateway.log()


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
