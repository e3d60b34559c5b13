"""A gateway serving statuses a team declared in a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from .clients import connected_client
from .gateway_process import GatewayProcess

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

STATUSES = """
[[status]]
name = "STREAMING"

[[status]]
name = "AWAY"
choosable = false

[[status]]
name = "BRB"
decay = { after = "1s", to = "AWAY" }
"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory):
    workdir = Path(tmp_path_factory.mktemp("statuses"))
    (workdir / "statuses.toml").write_text(STATUSES)
    process = GatewayProcess(
        workdir, PRESENCE_STATUSES_FILE=str(workdir / "statuses.toml"), PRESENCE_SWEEP_INTERVAL="0.05"
    ).start()
    yield process
    process.stop()
    assert "Traceback" not in process.log(), process.log()


async def test_a_declared_status_is_chosen_and_seen_by_the_users_other_socket(gateway) -> None:
    tab1 = await connected_client(gateway.url, "streamer")
    tab2 = await connected_client(gateway.url, "streamer")
    try:
        await tab1.sio.emit("presence:update", {"status": "STREAMING"})
        assert (await tab2.next("presence:updated"))["status"] == "STREAMING"
    finally:
        await tab1.close()
        await tab2.close()


async def test_a_status_decays_to_away_after_the_declared_time(gateway) -> None:
    client = await connected_client(gateway.url, "sleepy")
    try:
        await client.sio.emit("presence:update", {"status": "BRB"})
        statuses = [(await client.next("presence:updated"))["status"] for _ in range(3)]
        assert statuses == ["ONLINE", "BRB", "AWAY"]
    finally:
        await client.close()


async def test_a_status_reached_only_by_decay_cannot_be_chosen(gateway) -> None:
    client = await connected_client(gateway.url, "eager")
    try:
        await client.sio.emit("presence:update", {"status": "AWAY"})
        assert (await client.next("error"))["code"] == "not_choosable"
    finally:
        await client.close()


def test_a_bad_statuses_file_stops_the_gateway_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "statuses.toml").write_text('[[status]]\nname = "DND"\n')
    gateway = GatewayProcess(tmp_path, PRESENCE_STATUSES_FILE=str(tmp_path / "statuses.toml"))

    with pytest.raises(RuntimeError, match="DND clashes with a built-in status"):
        gateway.start()
