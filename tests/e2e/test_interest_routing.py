"""Routing by interest through two real gateways, on one Redis and on a three-primary
Redis Cluster: an instance hears the changes of the users its sockets are in the rooms
of, and no others; a new watcher misses no change between its snapshot and its first
update."""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio
import pytest
import redis.asyncio

from . import test_watchers
from .clients import Client, connected_client
from .gateway_process import GatewayProcess, scrape
from .test_cross_instance import pair, shared_redis  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

CHANNELS = ("presence_pubsub_user_channels", ())
RECEIVED = ("presence_pubsub_messages_total", (("channel", "socketio"), ("direction", "in")))
TARGETS = [f"ir-target-{n}" for n in range(10)]
FLIPS = ["DND", "IDLE", "DND", "IDLE", "DND"]


def received(gateway: GatewayProcess) -> float:
    return scrape(gateway.url + "/metrics")[RECEIVED]


async def settled(gateway: GatewayProcess, channels: int) -> None:
    """Until the gateway says Redis delivers it this many users' channels (an unsubscribe
    is confirmed after the reply that asked for it)."""
    with anyio.fail_after(5):
        while scrape(gateway.url + "/metrics")[CHANNELS] != channels:
            await anyio.sleep(0.02)  # polls the gateway's own gauge, bounded


def updates(client: Client, user_id: str) -> int:
    return sum(1 for u in client.received("presence:updated") if u["userId"] == user_id)


async def test_an_instance_hears_only_the_users_its_sockets_are_in_the_rooms_of(pair) -> None:  # noqa: F811
    """Ten users on instance 1 are watched there; instance 2 watches only the first of
    them. Of their 50 changes, instance 2 takes in the first user's 5 (it broadcast, it
    took in all 50), while instance 1 hears all of them and its watcher sees them."""
    one, two = pair
    targets = [await connected_client(one.url, user) for user in TARGETS]
    near = await connected_client(one.url, "ir-near-watcher")
    far = await connected_client(two.url, "ir-far-watcher")
    await near.call("presence:subscribe", {"userIds": TARGETS})
    await far.call("presence:subscribe", {"userIds": TARGETS[:1]})
    before_one, before_two = received(one), received(two)

    for target in reversed(targets):  # the first target last: what two hears of it comes after the rest
        for status in FLIPS:
            await target.call("presence:update", {"status": status})
    await near.wait_until(lambda: all(updates(near, user) == len(FLIPS) for user in TARGETS))
    await far.wait_until(lambda: updates(far, TARGETS[0]) == len(FLIPS))  # counted by two as it arrived
    heard_two = received(two) - before_two
    with anyio.fail_after(5):  # one hears its own publishes back, after its sockets had them
        while received(one) - before_one < len(TARGETS) * len(FLIPS):
            await anyio.sleep(0.05)  # polls the gateway's own count, bounded

    assert heard_two == len(FLIPS), heard_two
    assert [updates(far, user) for user in TARGETS[1:]] == [0] * (len(TARGETS) - 1)
    for client in (*targets, near, far):
        await client.close()


async def test_an_instance_stops_hearing_a_user_once_no_socket_needs_them(pair) -> None:  # noqa: F811
    one, two = pair
    target = await connected_client(one.url, "ir-leaving-target")
    watcher = await connected_client(two.url, "ir-leaving-watcher")
    await watcher.call("presence:subscribe", {"userIds": ["ir-leaving-target"]})
    await target.call("presence:update", {"status": "DND"})
    await watcher.wait_until(lambda: updates(watcher, "ir-leaving-target") == 1)
    await watcher.call("presence:unsubscribe", {"userIds": ["ir-leaving-target"]})
    await settled(two, channels=1)  # the watcher's own
    before = received(two)

    for status in FLIPS:
        await target.call("presence:update", {"status": status})
    marker = await connected_client(two.url, "ir-leaving-marker")  # its own change reaches two
    await marker.call("presence:subscribe", {"userIds": ["ir-leaving-target2"]})
    other = await connected_client(one.url, "ir-leaving-target2")
    await other.call("presence:update", {"status": "DND"})
    await marker.wait_until(lambda: updates(marker, "ir-leaving-target2") >= 1)

    assert updates(watcher, "ir-leaving-target") == 1
    # The marker's own ONLINE, ir-leaving-target2's ONLINE and DND; none of the five.
    assert received(two) - before <= 3
    for client in (target, watcher, marker, other):
        await client.close()


async def test_no_change_slips_between_a_snapshot_and_the_first_update(pair) -> None:  # noqa: F811
    """The watched user's channel is subscribed to as the watcher subscribes, on an
    instance that heard nothing of that user before (test_watchers' race, on both
    topologies)."""
    await test_watchers.test_no_change_slips_between_the_snapshot_and_the_subscription(pair)


async def test_a_fleet_half_publishing_as_before_still_hears_itself(tmp_path: Path, redis_url: str) -> None:
    """The first step of an upgrade: instance 1 publishes on the instance-wide channel as
    an earlier version does (whose listener hears that channel only), instance 2 by
    interest; each hears the other's changes, and so would the earlier version."""
    channel = f"socketio-{uuid.uuid4().hex[:8]}"
    env = {"REDIS_URL": redis_url, "PRESENCE_SOCKETIO_CHANNEL": channel, "PRESENCE_DATA_DIR": str(tmp_path / "data")}
    one = GatewayProcess(tmp_path / "one", **env, PRESENCE_PUBLISH_BY_INTEREST="false").start()
    two = GatewayProcess(tmp_path / "two", **env).start()
    earlier = redis.asyncio.Redis.from_url(redis_url)
    listener = earlier.pubsub(ignore_subscribe_messages=True)
    await listener.subscribe(channel)  # as an instance of an earlier version listens
    try:
        on_one = await connected_client(one.url, "ir-mixed-1")
        on_two = await connected_client(two.url, "ir-mixed-2")
        await on_one.call("presence:subscribe", {"userIds": ["ir-mixed-2"]})
        await on_two.call("presence:subscribe", {"userIds": ["ir-mixed-1"]})
        await on_one.call("presence:update", {"status": "DND"})
        await on_two.call("presence:update", {"status": "IDLE"})

        await on_two.wait_until(lambda: updates(on_two, "ir-mixed-1") == 1)
        await on_one.wait_until(lambda: updates(on_one, "ir-mixed-2") == 1)
        heard: list[bytes] = []
        with anyio.fail_after(5):
            while not any(b'"status":"DND"' in data for data in heard):
                message = await listener.get_message(timeout=1.0)
                if message is not None:
                    heard.append(message["data"])
        for client in (on_one, on_two):
            await client.close()
    finally:
        await listener.aclose()
        await earlier.aclose()
        for gateway in (one, two):
            gateway.stop()
    for gateway in (one, two):
        assert "Traceback" not in gateway.log(), gateway.log()
