"""Watching other users through real gateways: two instances sharing Redis, and the
embedded default with the contacts policy and small limits."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import aiohttp
import anyio
import pytest

from tests.support.redis_server import fresh_database

from .clients import Client, connected_client, token_for
from .gateway_process import GatewayProcess
from .test_guide_flow import wait_for_durable

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, redis_server):
    """Two instances on one Redis (and one SQLite file, for the durable record)."""
    workdir = Path(tmp_path_factory.mktemp("watchers"))
    shared = {
        "REDIS_URL": fresh_database(redis_server),
        "PRESENCE_SOCKETIO_CHANNEL": f"socketio-{uuid.uuid4().hex[:8]}",
        "PRESENCE_DATA_DIR": str(workdir / "shared-data"),
    }
    instances = [GatewayProcess(workdir / name, **shared).start() for name in ("a", "b")]
    yield instances
    for instance in instances:
        instance.stop()
        assert "Traceback" not in instance.log(), instance.log()


def updates_of(client: Client, user_id: str) -> list[str]:
    return [u["status"] for u in client.received("presence:updated") if u["userId"] == user_id]


async def http_get(gateway: GatewayProcess, path: str, viewer: str | None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token_for(viewer)}"} if viewer else {}
    async with aiohttp.ClientSession() as session:
        async with session.get(gateway.url + path, headers=headers) as response:
            return response.status, await response.json()


async def test_a_watcher_sees_exactly_what_others_see_across_instances(pair) -> None:
    a, b = pair
    watcher = await connected_client(a.url, "w-viewer")
    reply = await watcher.call("presence:subscribe", {"userIds": ["w-friend", "w-marker"]})
    assert reply == {
        "presence": [
            {"userId": "w-friend", "status": "OFFLINE", "lastSeen": None, "devices": {}, "customStatus": None, "seq": 0},
            {"userId": "w-marker", "status": "OFFLINE", "lastSeen": None, "devices": {}, "customStatus": None, "seq": 0},
        ],
        "denied": [],
    }

    friend = await connected_client(b.url, "w-friend")
    await friend.sio.emit("presence:update", {"status": "DND"})
    await friend.sio.emit("presence:update", {"status": "INVISIBLE"})
    await friend.wait_until(lambda: updates_of(friend, "w-friend") == ["ONLINE", "DND", "INVISIBLE"])
    await friend.close()
    await watcher.wait_until(lambda: len(updates_of(watcher, "w-friend")) == 3)
    # Barrier: a later change made on the friend's instance has crossed to the watcher.
    marker = await connected_client(b.url, "w-marker")
    await watcher.wait_until(lambda: updates_of(watcher, "w-marker") == ["ONLINE"])

    assert updates_of(watcher, "w-friend") == ["ONLINE", "DND", "OFFLINE"]
    vanished = [u for u in watcher.received("presence:updated") if u["userId"] == "w-friend"][-1]["timestamp"]
    await wait_for_durable(a, "w-friend", ("OFFLINE", "INVISIBLE"))

    # Their last seen is when they vanished, for a new subscription and over HTTP alike.
    gone = {"userId": "w-friend", "status": "OFFLINE", "lastSeen": vanished, "devices": {}, "customStatus": None}
    again = await watcher.call("presence:subscribe", {"userIds": ["w-friend"]})
    assert again["presence"][0].pop("seq") > 0
    assert again["presence"] == [gone]
    status, body = await http_get(b, "/api/v1/presence/w-friend", "w-viewer")
    assert body.pop("seq") > 0
    assert (status, body) == (200, gone)
    for client in (watcher, marker):
        await client.close()


async def test_subscriptions_are_per_socket_and_unsubscribing_ends_the_updates(pair) -> None:
    a, b = pair
    watcher = await connected_client(a.url, "u-viewer")
    leaving = await connected_client(b.url, "u-viewer")  # a second socket of the same viewer
    await watcher.call("presence:subscribe", {"userIds": ["u-1", "u-2"]})
    await leaving.call("presence:subscribe", {"userIds": ["u-1"]})
    assert await watcher.call("presence:unsubscribe", {"userIds": ["u-1"]}) == {"watching": 1}
    await leaving.close()

    one = await connected_client(b.url, "u-1")
    two = await connected_client(b.url, "u-2")
    await watcher.wait_until(lambda: updates_of(watcher, "u-2") == ["ONLINE"])

    assert updates_of(watcher, "u-1") == []
    for client in (watcher, one, two):
        await client.close()


# The four statuses others can see; each round moves the target through ones it was not in.
PUBLIC = ["ONLINE", "IDLE", "DND", "OFFLINE"]


async def test_no_change_slips_between_the_snapshot_and_the_subscription(pair) -> None:
    """The target changes status on one instance while a new watcher subscribes on the
    other. Applying the snapshot and the updates in the order they arrive, the watcher
    must end on the target's last status. Each round's last status is one the target was
    not in before it, so a stale snapshot, or a lost update, can never pass for it."""
    a, b = pair
    target = await connected_client(b.url, "race-target")
    current = "ONLINE"
    for round_ in range(30):
        others = [s for s in PUBLIC if s != current]
        sequence = others[round_ % 3:] + others[: round_ % 3]
        sequence = sequence[: 1 + round_ % 3]
        watcher = await connected_client(a.url, f"race-watcher-{round_}")
        own_before = len(updates_of(target, "race-target"))

        async def flip() -> None:
            for status in sequence:  # noqa: B023 (awaited within this iteration)
                await target.sio.emit("presence:update", {"status": status})

        async with anyio.create_task_group() as tg:
            tg.start_soon(flip)
            mark = len(watcher.events)
            reply = await watcher.call("presence:subscribe", {"userIds": ["race-target"]})

        def known() -> str | None:
            status = None
            for name, payload in watcher.events[mark:]:  # noqa: B023 (awaited within this iteration)
                if name == "ack":
                    status = payload["presence"][0]["status"]
                elif name == "presence:updated" and payload["userId"] == "race-target":
                    status = payload["status"]
            return status

        await target.wait_until(lambda: len(updates_of(target, "race-target")) == own_before + len(sequence))  # noqa: B023 (awaited within this iteration)
        current = sequence[-1]
        try:
            await watcher.wait_until(lambda: known() == current)  # noqa: B023 (awaited within this iteration)
        except TimeoutError:
            pytest.fail(f"round {round_}: the watcher was left at {known()} ({reply}), the target is {current}")
        await watcher.close()
    await target.close()


# ---------------------------------------------------------------- contacts, limits, payloads


@pytest.fixture(scope="module")
def contacts_gateway(tmp_path_factory: pytest.TempPathFactory):
    process = GatewayProcess(
        Path(tmp_path_factory.mktemp("contacts")),
        PRESENCE_AUDIENCE="contacts",
        PRESENCE_WATCH_MAX_TARGETS="3",
        PRESENCE_MAX_IDS_PER_CALL="4",
    ).start()
    with sqlite3.connect(process.data_dir / "presence.sqlite3") as db:  # as the chat backend fills it
        db.executemany(
            "INSERT INTO presence_contacts (viewer_id, target_id) VALUES (?, ?)",
            [("c-viewer", f"c-friend-{n}") for n in range(5)],
        )
    yield process
    process.stop()
    assert "Traceback" not in process.log(), process.log()


async def test_the_contacts_policy_names_whom_it_denies(contacts_gateway) -> None:
    friend = await connected_client(contacts_gateway.url, "c-friend-0")
    viewer = await connected_client(contacts_gateway.url, "c-viewer")

    reply = await viewer.call("presence:subscribe", {"userIds": ["c-friend-0", "c-stranger", "c-friend-1"]})
    stranger = await connected_client(contacts_gateway.url, "c-stranger")
    await friend.sio.emit("presence:update", {"status": "IDLE"})
    await viewer.wait_until(lambda: updates_of(viewer, "c-friend-0") == ["IDLE"])
    await viewer.round_trip()

    assert reply["presence"][0].pop("seq") > 0
    assert reply == {
        "presence": [
            {"userId": "c-friend-0", "status": "ONLINE", "lastSeen": None, "devices": {"web": "ONLINE"}, "customStatus": None},
            {"userId": "c-friend-1", "status": "OFFLINE", "lastSeen": None, "devices": {}, "customStatus": None, "seq": 0},
        ],
        "denied": ["c-stranger"],
    }
    assert updates_of(viewer, "c-stranger") == []
    assert (await http_get(contacts_gateway, "/api/v1/presence/c-stranger", "c-viewer"))[0] == 403
    assert (await http_get(contacts_gateway, "/api/v1/presence/c-friend-0", "c-viewer"))[1]["status"] == "IDLE"
    for client in (friend, viewer, stranger):
        await client.close()


async def test_over_a_limit_the_socket_gets_an_error_and_the_ack_says_why(contacts_gateway) -> None:
    viewer = await connected_client(contacts_gateway.url, "c-viewer")
    await viewer.call("presence:subscribe", {"userIds": ["c-friend-0", "c-friend-1", "c-friend-2"]})

    too_many = await viewer.call("presence:subscribe", {"userIds": ["c-friend-3"]})
    too_long = await viewer.call("presence:subscribe", {"userIds": [f"c-friend-{n}" for n in range(5)]})

    assert too_many["error"]["code"] == too_long["error"]["code"] == "limit"
    await viewer.wait_until(lambda: [e["code"] for e in viewer.received("error")] == ["limit", "limit"])
    assert await viewer.call("presence:unsubscribe", {"userIds": ["c-friend-0"]}) == {"watching": 2}
    assert (await viewer.call("presence:subscribe", {"userIds": ["c-friend-3"]}))["denied"] == []
    await viewer.close()


@pytest.mark.parametrize("payload", [None, ["c-friend-0"], {"ids": ["c-friend-0"]}, {"userIds": [{"id": 1}]}])
async def test_a_bad_payload_is_an_invalid_payload_error(contacts_gateway, payload) -> None:
    viewer = await connected_client(contacts_gateway.url, "c-viewer")

    reply = await viewer.call("presence:subscribe", payload)

    assert reply["error"]["code"] == "invalid_payload"
    assert (await viewer.next("error"))["code"] == "invalid_payload"
    assert viewer.sio.connected
    await viewer.close()


async def test_the_http_api_wants_a_valid_bearer_token(contacts_gateway) -> None:
    assert await http_get(contacts_gateway, "/api/v1/presence/c-friend-0", None) == (
        401, {"error": {"code": "unauthorized", "message": "missing token"}},
    )
    async with aiohttp.ClientSession() as session:
        async with session.post(
            contacts_gateway.url + "/api/v1/presence/query",
            json={"userIds": ["c-friend-0", "c-stranger"]},
            headers={"Authorization": f"Bearer {token_for('c-viewer')}"},
        ) as response:
            assert response.status == 200
            assert (await response.json())["denied"] == ["c-stranger"]
