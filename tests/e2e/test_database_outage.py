"""PostgreSQL going away must not stop presence: sockets connect, statuses change and are
delivered, durable writes queue, and when the server returns the latest status of every
affected user is written. The server is a throwaway one, stopped and restarted by pid."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

import anyio
import asyncpg
import pytest

from tests.support.postgres_server import ThrowawayPostgres

from .clients import connected_client
from .gateway_process import GatewayProcess

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

# The outage lasts as long as the steps below take (well under a second), which covers
# the writer's first retry; set this to hold it longer and watch the backoff, e.g. 10.
HOLD_OUTAGE = float(os.environ.get("PRESENCE_TEST_OUTAGE_SECONDS", "0"))


@pytest.fixture
def postgres():
    with ThrowawayPostgres() as server:
        yield server


async def readiness(gateway: GatewayProcess) -> dict:
    def get() -> dict:
        with urllib.request.urlopen(gateway.url + "/readyz", timeout=5) as response:
            return json.load(response)

    return await anyio.to_thread.run_sync(get)


async def stored(url: str) -> dict[str, tuple[str, str | None]]:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        rows = await connection.fetch("SELECT user_id, status, chosen_status FROM user_presence")
    finally:
        await connection.close()
    return {row["user_id"]: (row["status"], row["chosen_status"]) for row in rows}


async def wait_for(condition, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not after {timeout}s"
        await anyio.sleep(0.05)


async def test_presence_rides_out_a_postgres_outage_and_the_latest_states_land_when_it_returns(
    tmp_path: Path, postgres: ThrowawayPostgres
) -> None:
    gateway = GatewayProcess(tmp_path)
    gateway.env["DATABASE_URL"] = postgres.url
    gateway.start()
    clients = []
    try:
        early = [await connected_client(gateway.url, f"early-{n}") for n in range(3)]
        clients += early
        assert [(await c.next("presence:updated"))["status"] for c in early] == ["ONLINE"] * 3
        online: dict[str, tuple[str, str | None]] = {f"early-{n}": ("ONLINE", None) for n in range(3)}
        await wait_for(lambda: _matches(postgres.url, online), "early users stored ONLINE")

        stopped = time.monotonic()
        postgres.stop()  # SIGINT to the postmaster's pid: every connection cut at once

        await early[0].sio.emit("presence:update", {"status": "DND"})
        assert (await early[0].next("presence:updated", timeout=5))["status"] == "DND"
        await early[1].close()
        late = [await connected_client(gateway.url, f"late-{n}") for n in range(20)]  # first connects: no recall
        clients += late
        assert [(await c.next("presence:updated"))["status"] for c in late] == ["ONLINE"] * 20
        await late[0].sio.emit("presence:update", {"status": "IDLE"})
        assert (await late[0].next("presence:updated"))["status"] == "IDLE"
        await late[1].close()
        expected = {
            "early-0": ("DND", "DND"),
            "early-1": ("OFFLINE", None),
            "early-2": ("ONLINE", None),
            "late-0": ("IDLE", None),  # a socket's own state: not a remembered choice
            "late-1": ("OFFLINE", None),
            **{f"late-{n}": ("ONLINE", None) for n in range(2, 20)},
        }
        queued = len(expected) - 1  # early-2 changed nothing

        async def outage_reported():
            ready = await readiness(gateway)
            return ready if ready["database"] == "unavailable" and ready["queuedWrites"] == queued else None

        ready = await wait_for(outage_reported, f"/readyz reporting the outage with {queued} queued writes")
        assert ready["status"] == "ok"

        # Still down: the queue keeps one record per user, the newest.
        for status in ("DND", "ONLINE", "DND"):
            await late[2].sio.emit("presence:update", {"status": status})
            assert (await late[2].next("presence:updated"))["status"] == status
        await early[2].sio.emit("presence:update", {"status": "IDLE"})
        assert (await early[2].next("presence:updated"))["status"] == "IDLE"
        expected.update({"late-2": ("DND", "DND"), "early-2": ("IDLE", None)})
        queued = len(expected)
        await wait_for(outage_reported, f"/readyz reporting {queued} queued writes")
        await anyio.sleep(HOLD_OUTAGE)  # the length of the outage being simulated, not a wait

        postgres.start()  # the same data directory and port, a new pid
        restarted = time.monotonic()
        down_for = restarted - stopped
        await wait_for(lambda: _matches(postgres.url, expected), "the latest states written after the restart", 40 + HOLD_OUTAGE)
        took = time.monotonic() - restarted
        print(f"\nPostgreSQL down {down_for:.2f}s, {queued} writes queued; all written {took:.2f}s after it returned")

        async def recovered():
            ready = await readiness(gateway)
            return ready["database"] == "ok" and ready["queuedWrites"] == 0

        await wait_for(recovered, "/readyz reporting the database back")
    finally:
        for client in clients:
            await client.close()
        gateway.stop()
    log = gateway.log()
    assert gateway.process.returncode == 0, log
    assert "Traceback" not in log, log
    assert "durable status writes failing" in log and "durable status writes recovered" in log


async def _matches(url: str, expected: dict[str, tuple[str, str | None]]) -> bool:
    rows = await stored(url)
    return all(rows.get(user) == state for user, state in expected.items())
