"""What presence shows after something breaks: a killed instance, a shutdown with clients
connected, a page reload across instances. Real processes on a throwaway Redis."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import anyio
import orjson
import pytest
import redis as redis_sync

from .clients import connected_client
from .gateway_process import GatewayProcess
from .test_cross_instance import UpdatesFollower

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


def instance(workdir: Path, redis_url: str, name: str, channel: str, **env: str) -> GatewayProcess:
    return GatewayProcess(
        workdir / name, REDIS_URL=redis_url, PRESENCE_INSTANCE_ID=name, PRESENCE_SOCKETIO_CHANNEL=channel,
        PRESENCE_DATA_DIR=str(workdir / "data"), **env,
    ).start()


async def until_sentinel(follower: UpdatesFollower, redis_url: str) -> list[dict]:
    """Every update published so far: a sentinel published now arrives after all of them."""
    marker = uuid.uuid4().hex
    with redis_sync.Redis.from_url(redis_url) as client:
        client.publish("presence:updates", f'{{"userId": "{marker}"}}')
    seen: list[dict] = []
    with anyio.fail_after(5):
        while True:
            message = await follower.pubsub.get_message(timeout=5)
            if message is None:
                continue
            data = orjson.loads(message["data"])
            if data["userId"] == marker:
                return seen
            seen.append(data)


async def test_a_killed_instance_s_users_go_offline_within_the_bound(tmp_path: Path, redis_url: str) -> None:
    a = instance(tmp_path, redis_url, "A", "sio-kill")
    b = instance(tmp_path, redis_url, "B", "sio-kill")
    try:
        async with UpdatesFollower(redis_url) as follower:
            on_b_only = await connected_client(b.url, "only-b")
            both_a = await connected_client(a.url, "both")
            both_b = await connected_client(b.url, "both")
            await until_sentinel(follower, redis_url)

            b.process.kill()  # no word, no cleanup
            killed = time.monotonic()
            offline = await follower.next_for("only-b", timeout=20)
            took = time.monotonic() - killed

            assert (offline["status"], offline["previous"]) == ("OFFLINE", "ONLINE")
            assert took < 15, f"OFFLINE {took:.1f}s after the kill"
            print(f"\nkill -9 to OFFLINE: {took:.2f}s")
            with redis_sync.Redis.from_url(redis_url, decode_responses=True) as r:
                with anyio.fail_after(5):
                    while r.exists("presence:instance:B:sessions"):
                        await anyio.sleep(0.02)
                assert r.smembers("presence:sockets:both") == {both_a.sid}
                assert r.get("presence:online:both") == "true"
            assert [u for u in await until_sentinel(follower, redis_url) if u["userId"] == "both"] == []
            await both_a.round_trip()
            assert [u["status"] for u in both_a.received("presence:updated")] == ["ONLINE"]
            for client in (on_b_only, both_a, both_b):
                await client.close()
    finally:
        a.stop()
        b.process.kill()
    assert "Traceback" not in a.log(), a.log()


async def test_sigterm_with_200_clients_ends_its_sessions_and_leaves_no_keys(tmp_path: Path, redis_url: str) -> None:
    a = instance(tmp_path, redis_url, "A", "sio-term")
    b = instance(tmp_path, redis_url, "B", "sio-term")
    clients = []
    try:
        async with UpdatesFollower(redis_url) as follower:
            for n in range(50):
                clients.append(await connected_client(a.url, f"both-{n}"))
            for n in range(200):
                user = f"both-{n}" if n < 50 else f"only-{n}"
                clients.append(await connected_client(b.url, user))
            await until_sentinel(follower, redis_url)

            took = await anyio.to_thread.run_sync(b.stop)

            assert b.process.returncode == 0
            assert took < 10, f"exit took {took:.1f}s"
            print(f"\nSIGTERM with 200 clients: exit in {took:.2f}s")
            updates = await until_sentinel(follower, redis_url)
            offline = [u["userId"] for u in updates if u["status"] == "OFFLINE"]
            assert sorted(offline) == sorted(f"only-{n}" for n in range(50, 200))  # one event each
            assert all(u["userId"].startswith("only-") for u in updates)
            with redis_sync.Redis.from_url(redis_url, decode_responses=True) as r:
                assert list(r.scan_iter("presence:instance:B*")) == []
                assert r.zscore("presence:instances", "B") is None
                assert r.scard("presence:sockets:both-7") == 1 and r.get("presence:online:both-7") == "true"
                assert r.exists("presence:sockets:only-70", "presence:online:only-70") == 0
        assert "Traceback" not in b.log(), b.log()
    finally:
        for client in clients:
            await client.close()
        a.stop()
        b.stop()


async def test_a_page_reload_onto_the_other_instance_within_the_grace_is_no_flap(tmp_path: Path, redis_url: str) -> None:
    a = instance(tmp_path, redis_url, "A", "sio-grace", PRESENCE_OFFLINE_GRACE="1.5", PRESENCE_SWEEP_INTERVAL="0.05")
    b = instance(tmp_path, redis_url, "B", "sio-grace", PRESENCE_OFFLINE_GRACE="1.5", PRESENCE_SWEEP_INTERVAL="0.05")
    try:
        async with UpdatesFollower(redis_url) as follower:
            tab = await connected_client(a.url, "reloader")
            assert (await follower.next_for("reloader"))["status"] == "ONLINE"

            await tab.close()
            with redis_sync.Redis.from_url(redis_url, decode_responses=True) as r:
                with anyio.fail_after(5):  # the old tab's end reached the store: grace began
                    while r.zscore("presence:graces", "reloader") is None:
                        await anyio.sleep(0.01)
                reloaded = await connected_client(b.url, "reloader")
                assert r.zscore("presence:graces", "reloader") is None  # going offline was cancelled
            assert [e for e in reloaded.events if e[0] == "connected"][0][1]["status"] == "ONLINE"
            await reloaded.round_trip()
            assert reloaded.received("presence:updated") == []
            assert await until_sentinel(follower, redis_url) == []

            await reloaded.close()
            offline = await follower.next_for("reloader", timeout=10)
            assert (offline["status"], offline["previous"]) == ("OFFLINE", "ONLINE")
    finally:
        a.stop()
        b.stop()
    for process in (a, b):
        assert "Traceback" not in process.log(), process.log()
