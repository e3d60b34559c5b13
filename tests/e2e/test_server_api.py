"""The server API end to end: two instances on one Redis with a service key and a webhook
receiver that fails its first attempts; the routes refuse what is no key, answer what the
sockets are, disconnect across both instances, and every change reaches the receiver
signed, in seq order per user, none lost when a gateway is killed mid-retry."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import signal
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio
import socketio
from aiohttp import web

from presence_gateway.entrypoints.http import api_models as models
from tests.support.local_http import serving

from .clients import Client, connected_client, token_for
from .gateway_process import GatewayProcess, scrape

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY = "backend:" + "k" * 40
SECRET_KEY = KEY.split(":", 1)[1]
WEBHOOK_SECRET = "whsec-" + "w" * 32
BY_KEY = {"Authorization": f"Bearer {SECRET_KEY}"}


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers 500 to the next ``failing`` attempts."""

    def __init__(self, failing: int) -> None:
        self.failing = failing
        self.attempts = 0
        self.delivered: list[tuple[bytes, str, float]] = []
        self.arrived = asyncio.Condition()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        async with self.arrived:
            self.attempts += 1
            if self.failing > 0:
                self.failing -= 1
                self.arrived.notify_all()
                return web.Response(status=500)
            self.delivered.append((body, request.headers.get("Presence-Signature", ""), time.time()))
            self.arrived.notify_all()
        return web.Response(status=200)

    async def wait_until(self, condition, timeout: float = 20.0) -> None:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(condition), timeout)

    def bodies(self) -> list[dict[str, Any]]:
        return [orjson.loads(body) for body, _, _ in self.delivered]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver(failing=2)
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    async with serving(app) as url:
        hook.url = url + "/hook"
        yield hook


class Pair:
    def __init__(self, tmp_path: Path, redis_url: str, receiver: Receiver) -> None:
        self.tmp_path = tmp_path
        self.redis_url = redis_url
        self.env = {
            "REDIS_URL": redis_url,
            "PRESENCE_SOCKETIO_CHANNEL": f"socketio-{uuid.uuid4().hex[:8]}",
            "PRESENCE_DATA_DIR": str(tmp_path / "shared-data"),
            "PRESENCE_API_KEYS": KEY,
            "PRESENCE_WEBHOOK_URL": receiver.url,
            "PRESENCE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "PRESENCE_LEASE_TTL": "2",
            # A closed socket keeps its user as they were this long: a disconnect must not wait for it.
            "PRESENCE_OFFLINE_GRACE": "30",
        }
        self.instances: dict[str, GatewayProcess] = {}
        self.runs = 0

    def start(self, name: str) -> GatewayProcess:
        self.runs += 1
        process = GatewayProcess(self.tmp_path / f"{name}-{self.runs}", PRESENCE_INSTANCE_ID=name, **self.env)
        self.instances[name] = process.start()
        return process

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown, nothing acknowledged that was not yet."""
        process = self.instances[name].process
        assert process is not None
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def pair(tmp_path: Path, redis_url: str, receiver: Receiver):
    both = Pair(tmp_path, redis_url, receiver)
    try:
        both.start("a")
        both.start("b")
        yield both
    finally:
        for instance in both.instances.values():
            instance.stop()
        for instance in both.instances.values():
            assert "Traceback" not in instance.log(), instance.log()
            assert SECRET_KEY not in instance.log() and WEBHOOK_SECRET not in instance.log()


async def api(gateway: GatewayProcess, method: str, path: str, headers=BY_KEY, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=5) as http:
        return await http.request(method, path, headers=headers, **kwargs)


async def test_the_server_routes_take_a_service_key_and_nothing_else(pair: Pair) -> None:
    a = pair.instances["a"]
    user_token = {"Authorization": f"Bearer {token_for('u-backend')}"}

    missing = await api(a, "GET", "/api/v1/server/stats", headers={})
    as_user = await api(a, "GET", "/api/v1/server/stats", headers=user_token)
    wrong = await api(a, "GET", "/api/v1/server/stats", headers={"Authorization": "Bearer " + "k" * 39 + "j"})
    keyed = await api(a, "GET", "/api/v1/server/stats")
    key_as_user = await api(a, "GET", "/api/v1/presence/u-1")
    user_route = await api(a, "GET", "/api/v1/presence/u-1", headers=user_token)

    assert [r.status_code for r in (missing, as_user, wrong)] == [401, 401, 401]
    for refused in (missing, as_user, wrong, key_as_user):
        models.ErrorBody.model_validate(refused.json())
    models.Stats.model_validate(keyed.json())
    models.SeenPresence.model_validate(user_route.json())
    assert keyed.status_code == 200
    assert key_as_user.status_code == 401 and "service key" in key_as_user.json()["error"]["message"]
    assert user_route.status_code == 200
    assert "server_api=backend" in a.log() and SECRET_KEY not in a.log()
    figures = scrape(a.url + "/metrics")
    assert figures[("presence_server_api_requests_total", (("code", "401"), ("route", "stats")))] == 3
    assert figures[("presence_server_api_requests_total", (("code", "200"), ("route", "stats")))] == 1


async def test_query_explain_and_stats_match_the_connected_sockets(pair: Pair) -> None:
    a, b = pair.instances["a"], pair.instances["b"]
    on_a = await connected_client(a.url, "u-1")
    on_b = await connected_client(b.url, "u-1")
    other = await connected_client(b.url, "u-2")
    await on_a.call("presence:update", {"status": "DND", "customStatus": {"text": "deep work"}})
    await other.call("presence:update", {"status": "INVISIBLE"})
    await on_b.call("presence:update", {"status": "IDLE"})  # this socket's own state
    try:
        sids = (on_a.sid, on_b.sid)
        query = (await api(a, "POST", "/api/v1/server/presence/query", json={"userIds": ["u-1", "u-2", "u-3"]})).json()
        explain = (await api(b, "GET", "/api/v1/server/users/u-1")).json()
        stats = (await api(b, "GET", "/api/v1/server/stats")).json()
    finally:
        for client in (on_a, on_b, other):
            await client.close()

    models.ServerQueryAnswer.model_validate(query)
    models.UserExplained.model_validate(explain)
    models.Stats.model_validate(stats)
    one, two, three = query["presence"]
    assert {k: one[k] for k in ("userId", "status", "visibleStatus", "sockets")} == {
        "userId": "u-1",
        "status": "DND",
        "visibleStatus": "DND",
        "sockets": 2,
    }
    assert one["customStatus"] == {"text": "deep work", "emoji": None, "expiresAt": None}
    assert one["devices"] and set(one["devices"].values()) <= {"ONLINE", "IDLE"}
    assert isinstance(one["seq"], int) and one["seq"] > 0 and "lastSeen" in one
    assert (two["status"], two["visibleStatus"], two["sockets"]) == ("INVISIBLE", "OFFLINE", 1)
    assert (three["status"], three["sockets"]) == ("OFFLINE", 0)
    sockets = {s["socketId"]: s for s in explain["connections"]}
    assert set(sockets) == set(sids)
    assert (sockets[sids[0]]["instance"], sockets[sids[1]]["instance"]) == ("a", "b")
    for s in sockets.values():
        assert set(s) >= {"socketId", "device", "instance", "connectedAt", "lastPingAt", "idle"}
    assert (sockets[sids[0]]["idle"], sockets[sids[0]]["state"]) == (False, "ONLINE")
    assert (sockets[sids[1]]["idle"], sockets[sids[1]]["state"]) == (True, "IDLE")
    assert explain["offlineGrace"] == {"active": False, "until": None}
    assert stats["users"]["online"] == 2 and stats["sockets"] == 3
    assert stats["users"]["byStatus"] == {"DND": 1, "INVISIBLE": 1}
    assert {(i["id"], i["sockets"]) for i in stats["instances"]} == {("a", 1), ("b", 2)}
    assert all(i["startedAt"] for i in stats["instances"])


async def test_a_disconnect_closes_every_socket_on_both_instances_and_a_block_keeps_them_out(pair: Pair) -> None:
    a, b = pair.instances["a"], pair.instances["b"]
    watcher = await connected_client(a.url, "u-watcher")
    await watcher.call("presence:subscribe", {"userIds": ["u-banned"]})
    on_a = (await connected_client(a.url, "u-banned")).keep_disconnects()
    on_b = (await connected_client(b.url, "u-banned")).keep_disconnects()
    await watcher.wait_until(lambda: [u["status"] for u in watcher.received("presence:updated")][-1:] == ["ONLINE"])
    again = Client()
    try:
        started = time.monotonic()
        answer = await api(
            b, "POST", "/api/v1/server/users/u-banned/disconnect", json={"reason": "banned", "block": 60}
        )
        await watcher.wait_until(lambda: watcher.received("presence:updated")[-1]["status"] == "OFFLINE", timeout=1.0)
        for client in (on_a, on_b):
            await client.next("disconnect", timeout=1.0)
        took = time.monotonic() - started
        with pytest.raises(socketio.exceptions.ConnectionError):
            await again.connect(a.url, {"token": token_for("u-banned")})
        explained = (await api(a, "GET", "/api/v1/server/users/u-banned")).json()
    finally:
        for client in (watcher, on_a, on_b, again):
            await client.close()

    assert answer.status_code == 200 and answer.json() == {"disconnected": 2}
    models.UserExplained.model_validate(explained)
    assert on_a.received("presence:disconnected") == [{"reason": "banned"}]
    assert on_b.received("presence:disconnected") == [{"reason": "banned"}]
    assert took < 1.5
    assert not on_a.sio.connected and not on_b.sio.connected
    assert again.received("connect_error") == [{"message": "blocked"}]
    assert (explained["sockets"], explained["connections"], explained["status"]) == (0, [], "OFFLINE")


async def test_a_status_set_by_the_backend_is_the_users_choice_connected_or_not(pair: Pair) -> None:
    a, b = pair.instances["a"], pair.instances["b"]
    watcher = await connected_client(b.url, "u-watcher")
    await watcher.call("presence:subscribe", {"userIds": ["u-set"]})
    client = await connected_client(a.url, "u-set")
    try:
        put = await api(
            b,
            "PUT",
            "/api/v1/server/users/u-set/status",
            json={"status": "DND", "customStatus": {"text": "on call", "emoji": "📟"}},
        )
        await watcher.wait_until(lambda: watcher.received("presence:updated")[-1]["status"] == "DND")
        bad = await api(b, "PUT", "/api/v1/server/users/u-set/status", json={"status": "NOPE"})
        idle = await api(b, "PUT", "/api/v1/server/users/u-set/status", json={"status": "IDLE"})
        long_text = await api(
            b, "PUT", "/api/v1/server/users/u-set/status", json={"customStatus": {"text": "x" * 1000}}
        )
        offline = await api(b, "PUT", "/api/v1/server/users/u-away/status", json={"customStatus": {"text": "holiday"}})
    finally:
        await client.close()
        await watcher.close()

    assert put.status_code == 200
    models.ServerPresence.model_validate(put.json())
    models.ErrorBody.model_validate(bad.json())
    assert (put.json()["status"], put.json()["customStatus"]["text"]) == ("DND", "on call")
    assert watcher.received("presence:updated")[-1]["customStatus"] == {
        "text": "on call",
        "emoji": "📟",
        "expiresAt": None,
    }
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "unknown_status")
    assert idle.status_code == 400 and long_text.status_code == 400
    assert offline.status_code == 200 and offline.json()["sockets"] == 0


def signed(secret: str, header: str, body: bytes, now: float) -> bool:
    """What the documented receiver checks: v1 is the HMAC of "<t>.<body>", t within 5 minutes."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(now - int(parts["t"])) <= 300


async def all_changes(gateway: GatewayProcess) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    after = "0"
    while True:
        page = (await api(gateway, "GET", "/api/v1/server/changes", params={"after": after, "limit": 100})).json()
        if not page["changes"]:
            return changes
        changes += page["changes"]
        after = page["next"]


async def test_every_change_reaches_the_receiver_signed_and_in_order_through_a_killed_gateway(
    pair: Pair, receiver: Receiver
) -> None:
    a, b = pair.instances["a"], pair.instances["b"]
    leader_key = "presence:changes:webhooks:leader"
    store = redis.asyncio.Redis.from_url(pair.redis_url, decode_responses=True)
    users = [await connected_client(a.url, "u-hook-1"), await connected_client(b.url, "u-hook-2")]
    try:
        for status in ("DND", "AWAY", "ONLINE"):
            for client in users:
                await client.call("presence:update", {"status": status})
        await receiver.wait_until(lambda: len(receiver.delivered) >= 2)  # through the two 500s
        # Mid-retry: the receiver fails again, more changes come, the leader is killed.
        async with receiver.arrived:
            receiver.failing = 3
        attempts = receiver.attempts
        for client in users:
            await client.call("presence:update", {"status": "DND"})
        await receiver.wait_until(lambda: receiver.attempts > attempts)
        leader = await store.get(leader_key)
        assert leader in ("a", "b")
        pair.kill(leader)
        users = [u for u, on in zip(users, ("a", "b"), strict=True) if on != leader and u.sio.connected]
        pair.start(leader)
        for client in users:
            await client.call("presence:update", {"status": "ONLINE"})
        survivor = pair.instances["b" if leader == "a" else "a"]
        expected = await all_changes(survivor)
        ids = {change["id"] for change in expected}
        await receiver.wait_until(lambda: ids <= {body["id"] for body in receiver.bodies()}, timeout=30)
        expected = await all_changes(survivor)
        await receiver.wait_until(
            lambda: {c["id"] for c in expected} <= {body["id"] for body in receiver.bodies()}, timeout=30
        )
        figures = [scrape(instance.url + "/metrics") for instance in (a, b) if instance.process.poll() is None]
        figures += [scrape(pair.instances[leader].url + "/metrics")]
    finally:
        for client in users:
            await client.close()
        await store.aclose()

    assert len({c["userId"] for c in expected}) == 2 and len(expected) >= 9
    delivered = sum(f.get(("presence_webhook_deliveries_total", (("outcome", "delivered"),)), 0) for f in figures)
    assert delivered >= 1
    for f in figures:
        assert ("presence_webhook_queue_depth", ()) in f and ("presence_change_stream_length", ()) in f
    for body, header, at in receiver.delivered:
        assert signed(WEBHOOK_SECRET, header, body, at), header
    first_seen: dict[str, dict[str, Any]] = {}
    for event in receiver.bodies():
        first_seen.setdefault(event["id"], event)
    by_user: dict[str, list[int]] = {}
    for event in first_seen.values():
        models.WebhookEvent.model_validate(event)
        assert set(event) == {
            "id",
            "type",
            "userId",
            "status",
            "previous",
            "devices",
            "customStatus",
            "seq",
            "timestamp",
        }
        by_user.setdefault(event["userId"], []).append(event["seq"])
    for seqs in by_user.values():
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert {c["id"]: c["seq"] for c in expected} == {i: first_seen[i]["seq"] for i in {c["id"] for c in expected}}


async def test_a_stream_consumer_that_stops_and_resumes_misses_nothing(pair: Pair) -> None:
    a, b = pair.instances["a"], pair.instances["b"]
    consumer = redis.asyncio.Redis.from_url(pair.redis_url, decode_responses=True)
    await consumer.xgroup_create("presence:changes", "reports", id="$", mkstream=True)
    try:
        first = await connected_client(a.url, "u-stream")
        read: Any = await consumer.xreadgroup("reports", "r1", {"presence:changes": ">"}, count=100, block=2000)
        seen = [orjson.loads(fields["change"]) for _, entries in read for _, fields in entries]
        for _, entries in read:
            await consumer.xack("presence:changes", "reports", *(entry_id for entry_id, _ in entries))
        # The consumer is away: changes go on, on both instances.
        second = await connected_client(b.url, "u-stream")
        await first.call("presence:update", {"status": "DND"})
        await second.close()
        await first.close()
        page = (await api(b, "GET", "/api/v1/server/changes", params={"after": "0", "limit": 1000})).json()
        read = await consumer.xreadgroup("reports", "r1", {"presence:changes": ">"}, count=100)
        resumed = [orjson.loads(fields["change"]) for _, entries in read for _, fields in entries]
    finally:
        await consumer.aclose()

    models.Changes.model_validate(page)
    mine = [c for c in page["changes"] if c["userId"] == "u-stream"]
    assert [c["seq"] for c in seen + resumed if c["userId"] == "u-stream"] == [c["seq"] for c in mine]
    assert [c["status"] for c in mine][-1:] == ["DND"]
    assert set(mine[0]) == {"id", "userId", "status", "previous", "devices", "customStatus", "seq", "timestamp"}
    assert page["next"] == page["changes"][-1]["id"]


async def test_with_no_key_the_server_api_is_off(gateway: GatewayProcess) -> None:
    answer = await api(gateway, "GET", "/api/v1/server/stats")

    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert "server_api=off" in gateway.log()


async def test_the_embedded_default_keeps_the_stream_in_its_database_and_delivers_it(
    tmp_path: Path, receiver: Receiver
) -> None:
    env = {"PRESENCE_API_KEYS": KEY, "PRESENCE_WEBHOOK_URL": receiver.url, "PRESENCE_WEBHOOK_SECRET": WEBHOOK_SECRET}
    single = GatewayProcess(tmp_path / "embedded", **env).start()
    try:
        client = await connected_client(single.url, "u-embedded")
        await client.call("presence:update", {"status": "DND"})
        await client.close()
        try:
            await receiver.wait_until(lambda: [b["status"] for b in receiver.bodies()][-1:] == ["OFFLINE"])
        except TimeoutError:
            sent = [(b["id"], b["status"]) for b in receiver.bodies()]
            pytest.fail(f"the receiver got {sent} in {receiver.attempts} attempts; the gateway's log:\n{single.log()[-4000:]}")
        changes = await all_changes(single)
        stats = (await api(single, "GET", "/api/v1/server/stats")).json()
        await connected_client(single.url, "u-at-stop")  # still connected when the gateway stops
    finally:
        single.stop()
    with sqlite3.connect(single.data_dir / "presence.sqlite3") as db:
        at_stop = [
            orjson.loads(body)["status"]
            for (body,) in db.execute("SELECT body FROM presence_changes WHERE user_id = 'u-at-stop' ORDER BY id")
        ]

    assert [(c["status"], c["previous"]) for c in changes] == [
        ("ONLINE", "OFFLINE"),
        ("DND", "ONLINE"),
        ("OFFLINE", "DND"),
    ]
    assert [b["id"] for b in receiver.bodies()] == [c["id"] for c in changes] == ["1", "2", "3"]
    assert receiver.attempts == 5  # two refused, then each once
    assert stats["sockets"] == 0 and stats["users"]["online"] == 0
    assert "Traceback" not in single.log()
    assert at_stop == ["ONLINE", "OFFLINE"]  # the shutdown's OFFLINE is kept too


async def test_a_disconnect_ends_an_offline_grace_at_once(pair: Pair) -> None:
    a, b = pair.instances["a"], pair.instances["b"]
    watcher = await connected_client(a.url, "u-watcher-2")
    await watcher.call("presence:subscribe", {"userIds": ["u-leaving"]})
    leaving = await connected_client(b.url, "u-leaving")
    await watcher.wait_until(lambda: [u["status"] for u in watcher.received("presence:updated")][-1:] == ["ONLINE"])
    await leaving.close()  # within its 30 s grace: still ONLINE to everybody
    try:
        explained = (await api(a, "GET", "/api/v1/server/users/u-leaving")).json()
        answer = await api(a, "POST", "/api/v1/server/users/u-leaving/disconnect")
        await watcher.wait_until(lambda: watcher.received("presence:updated")[-1]["status"] == "OFFLINE", timeout=1.0)
    finally:
        await watcher.close()

    assert explained["offlineGrace"]["active"] is True and explained["offlineGrace"]["until"]
    assert explained["status"] == "ONLINE" and explained["sockets"] == 0
    assert answer.json() == {"disconnected": 0}
