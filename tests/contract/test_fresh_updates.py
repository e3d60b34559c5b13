"""An update that reaches an instance after a socket there was told something as new is
not sent to that socket: never an old state after a newer one, never a change twice.

Another instance's change crosses pub/sub and can arrive after a socket connected (or
subscribed) and read its snapshot, which already holds the change; two changes made on
two instances can arrive in either order. Here the gateway's own app serves real
Socket.IO clients in every deployment shape, and its broadcaster holds the updates back
until the test lets them go, so the late arrival happens every time, not once in a
full suite's run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from dependency_injector import providers

from presence_gateway.adapters.jwt.minter import mint_token
from presence_gateway.domain.ports import Broadcaster
from presence_gateway.domain.presence import PresenceChanged
from presence_gateway.entrypoints.asgi import app_of
from presence_gateway.entrypoints.wiring.containers import layer_of
from tests.e2e.clients import Client
from tests.support.gateway_container import NO_GRACE, SECRET, gateway_container
from tests.support.served import served

pytestmark = pytest.mark.anyio


class HeldBroadcaster:
    """The gateway's broadcaster, with a hold: while held, changes wait (as another
    instance's wait on pub/sub) and go out, in the order asked for, on ``release``."""

    def __init__(self, real: Broadcaster) -> None:
        self._real = real
        self.holding = False
        self._held: list[PresenceChanged] = []

    async def publish(self, change: PresenceChanged) -> None:
        if self.holding:
            self._held.append(change)
        else:
            await self._real.publish(change)

    def holds(self, user_id: str) -> bool:
        return any(change.user_id == user_id for change in self._held)

    async def release(self, user_id: str, *, newest_first: bool = False) -> int:
        """How many of ``user_id``'s changes were held (the served app's probe user may
        go offline meanwhile: its change is let go too, and not counted)."""
        held, self._held, self.holding = self._held, [], False
        for change in reversed(held) if newest_first else held:
            await self._real.publish(change)
        return sum(change.user_id == user_id for change in held)


@pytest.fixture(params=["embedded", "redis", "cluster"])
def shape_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    env = {**NO_GRACE, "PRESENCE_DATA_DIR": str(tmp_path / "data")}
    if request.param == "redis":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    elif request.param == "cluster":
        request.getfixturevalue("redis_cluster_url")  # the session's cluster, emptied
        env["REDIS_CLUSTER_NODES"] = request.getfixturevalue("redis_cluster").nodes
    return env


@asynccontextmanager
async def gateway(
    env: dict[str, str], before_reads: Callable[[HeldBroadcaster], Awaitable[None]] | None = None
) -> AsyncIterator[tuple[str, HeldBroadcaster]]:
    """The gateway's app in this process, its broadcaster held on request; ``before_reads``
    runs before each read of the store's states (a snapshot), once the rooms are joined."""
    container = gateway_container(env)
    broadcasting = layer_of(container, "broadcaster")
    held = HeldBroadcaster(broadcasting())
    broadcasting.override(providers.Object(held))
    if before_reads is not None:
        store = layer_of(container, "presence_store")()
        read = store.states

        async def states(user_ids: Any) -> Any:
            await before_reads(held)
            return await read(user_ids)

        store.states = states
    app = app_of(container.settings(), container)
    async with served(app, {"token": mint_token(SECRET, "probe", 3600)}, timeout=20) as url:
        yield url, held


async def connect(url: str, user_id: str) -> Client:
    client = await Client().connect(url, {"token": mint_token(SECRET, user_id, 3600)})
    await client.next("connected")
    return client


def statuses(client: Client, user_id: str) -> list[str]:
    return [update["status"] for update in client.received("presence:updated") if update["userId"] == user_id]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # python-socketio is asyncio-only


async def test_a_change_that_arrives_after_a_new_sockets_snapshot_is_not_sent_to_it(shape_env) -> None:
    async with gateway(shape_env) as (url, held):
        first = await connect(url, "y")
        held.holding = True
        await first.sio.emit("presence:update", {"status": "DND"})
        with anyio.fail_after(5):
            while not held.holds("y"):  # the change is made; its update waits, as on pub/sub
                await anyio.sleep(0.01)
        second = await connect(url, "y")
        try:
            assert [e for e in second.events if e[0] == "connected"][0][1]["status"] == "DND"
            assert await held.release("y") == 1
            await first.round_trip()
            await second.round_trip()
            assert statuses(first, "y") == ["ONLINE", "DND"]  # the first socket still needs it
            assert statuses(second, "y") == []  # it knew already
        finally:
            await first.close()
            await second.close()


async def test_a_change_that_arrives_after_a_subscribe_snapshot_is_not_sent_to_the_watcher(shape_env) -> None:
    async with gateway(shape_env) as (url, held):
        watched = await connect(url, "w")
        early = await connect(url, "early")
        late = await connect(url, "late")
        try:
            assert (await early.sio.call("presence:subscribe", {"userIds": ["w"]}, timeout=5))["presence"]
            held.holding = True
            await watched.sio.emit("presence:update", {"status": "DND"})
            with anyio.fail_after(5):
                while not held.holds("w"):
                    await anyio.sleep(0.01)
            snapshot = await late.sio.call("presence:subscribe", {"userIds": ["w"]}, timeout=5)
            assert snapshot["presence"][0]["status"] == "DND"
            await held.release("w")
            await early.round_trip()
            await late.round_trip()
            assert statuses(early, "w") == ["DND"]
            assert statuses(late, "w") == []
        finally:
            for client in (watched, early, late):
                await client.close()


async def test_of_two_changes_arriving_newest_first_the_older_is_not_sent(shape_env) -> None:
    async with gateway(shape_env) as (url, held):
        mine = await connect(url, "z")
        watcher = await connect(url, "v")
        try:
            await watcher.sio.call("presence:subscribe", {"userIds": ["z"]}, timeout=5)
            held.holding = True
            await mine.sio.call("presence:update", {"status": "DND"}, timeout=5)
            await mine.sio.call("presence:update", {"status": "ONLINE"}, timeout=5)
            assert await held.release("z", newest_first=True) == 2  # as two instances' may arrive
            await mine.round_trip()
            await watcher.round_trip()
            assert statuses(mine, "z") == ["ONLINE", "ONLINE"]  # its arrival, then the newest
            assert statuses(watcher, "z") == ["ONLINE"]
        finally:
            await mine.close()
            await watcher.close()


async def test_an_update_emitted_while_a_subscribe_reads_its_snapshot_is_not_sent_after_it(shape_env) -> None:
    """The subscribe joins the watchers' room, then reads the snapshot: an older update
    emitted in between waits behind the ack, and must not follow the newer snapshot."""

    async def let_go(held: HeldBroadcaster) -> None:
        if held.holds("t"):
            await held.release("t")  # the older DND reaches the room just joined, before the read

    async with gateway(shape_env, let_go) as (url, held):
        target = await connect(url, "t")
        watcher = await connect(url, "v")
        try:
            held.holding = True
            await target.sio.call("presence:update", {"status": "DND"}, timeout=5)
            held.holding = False  # DND stays held; ONLINE goes out while nobody watches
            await target.sio.call("presence:update", {"status": "ONLINE"}, timeout=5)
            snapshot = await watcher.sio.call("presence:subscribe", {"userIds": ["t"]}, timeout=5)
            await watcher.round_trip()
            assert snapshot["presence"][0]["status"] == "ONLINE"
            assert not held.holds("t")  # it was let go during the subscribe
            assert statuses(watcher, "t") == []  # the older DND waited behind the ack: dropped
        finally:
            await target.close()
            await watcher.close()
