"""``GET /metrics``: what happened on the sockets, in Prometheus text, on the public port or
only on PRESENCE_METRICS_PORT."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from pathlib import Path

import anyio
import pytest
import socketio

from .clients import Client, connected_client
from .gateway_process import GatewayProcess, free_port, scrape
from .test_guide_flow import wait_for_durable

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


async def test_socket_activity_is_counted_on_the_public_port(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path).start()
    try:
        client = await connected_client(gateway.url, "counted")
        await client.round_trip()
        await client.sio.emit("presence:update", {"status": "IDLE"})
        assert (await client.next("presence:updated"))["status"] == "ONLINE"
        assert (await client.next("presence:updated"))["status"] == "IDLE"
        await client.sio.emit("presence:update", {"status": "NOPE"})
        await client.next("error")
        await client.call("presence:subscribe", {"userIds": ["someone"]})
        refused = Client()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await refused.connect(gateway.url, {"token": "not-a-jwt"})
        await wait_for_durable(gateway, "counted", ("IDLE", None))
        live = await anyio.to_thread.run_sync(scrape, gateway.url + "/metrics")
        await client.close()
        with anyio.fail_after(5):  # the server hears the disconnect a moment after the client
            while (after := await anyio.to_thread.run_sync(scrape, gateway.url + "/metrics"))[
                ("presence_connections", ())
            ]:
                await anyio.sleep(0.02)
    finally:
        gateway.stop()

    assert live[("presence_connections", ())] == 1
    assert live[("presence_connects_total", ())] == 1
    assert live[("presence_connect_refusals_total", (("reason", "invalid token"),))] == 1
    assert live[("presence_events_total", (("event", "ping"), ("outcome", "ok")))] == 1
    assert live[("presence_events_total", (("event", "presence:update"), ("outcome", "ok")))] == 1
    assert live[("presence_events_total", (("event", "presence:update"), ("outcome", "error")))] == 1
    assert live[("presence_events_total", (("event", "presence:subscribe"), ("outcome", "ok")))] == 1
    assert live[("presence_events_total", (("event", "connect"), ("outcome", "ok")))] == 1
    assert live[("presence_transitions_total", (("status", "ONLINE"),))] == 1
    assert live[("presence_transitions_total", (("status", "IDLE"),))] == 1
    assert live[("presence_durable_queue_depth", ())] == 0
    assert live[("presence_durable_write_seconds_count", ())] >= 1
    assert after[("presence_disconnects_total", ())] == 1
    assert after[("presence_connections", ())] == 0
    assert ("presence_redis_circuit_open", ()) not in live  # embedded: no Redis to report on


async def test_with_a_metrics_port_they_are_served_there_only(tmp_path: Path, redis_url: str) -> None:
    metrics_port = free_port()
    gateway = GatewayProcess(
        tmp_path, REDIS_URL=redis_url, PRESENCE_METRICS_PORT=str(metrics_port),
        PRESENCE_SOCKETIO_CHANNEL=f"socketio-{uuid.uuid4().hex[:8]}",
    ).start()
    metrics_url = f"http://127.0.0.1:{metrics_port}"
    try:
        client = await connected_client(gateway.url, "counted-redis")
        await client.close()
        public = await anyio.to_thread.run_sync(status_of, gateway.url + "/metrics")
        socketio_on_metrics = await anyio.to_thread.run_sync(status_of, metrics_url + "/socket.io/?EIO=4&transport=polling")
        samples = await anyio.to_thread.run_sync(scrape, metrics_url + "/metrics")
    finally:
        gateway.stop()

    assert public == 404
    assert socketio_on_metrics == 404
    assert samples[("presence_connects_total", ())] == 1
    assert samples[("presence_redis_circuit_open", ())] == 0
    assert samples[("presence_lease_renewals_total", ())] >= 1
    assert samples[("presence_store_round_trip_seconds_count", ())] >= 1
    assert samples[("presence_pubsub_messages_total", (("channel", "updates"), ("direction", "out")))] >= 1
    assert ("presence_restore_duration_seconds_count", ()) in samples
    assert ("presence_instance_takeovers_total", ()) in samples
    assert samples[("presence_pubsub_unconfirmed_subscriptions_total", ())] == 0  # Redis confirmed every one
