"""Every status rule a chat app relies on, through the use cases (both anyio backends)."""

from __future__ import annotations

import pytest

from presence_gateway.domain.errors import InvalidPayload, StatusNotChoosable, UnknownStatus
from presence_gateway.domain.ports import SessionMeta
from presence_gateway.domain.statuses import BUILTIN_STATUSES, Status, StatusRegistry
from tests.fakes import known
from tests.unit.conftest import META, World, build_world

pytestmark = pytest.mark.anyio


async def test_first_socket_makes_the_user_online_for_everyone(world: World) -> None:
    status = (await world.service.connect("u1", "s1", META)).status

    assert status == "ONLINE"
    assert world.broadcaster.seen_by_self("u1") == ["ONLINE"]
    assert world.broadcaster.seen_by_others("u1") == ["ONLINE"]
    record = await world.durable("u1")
    assert (record.status, record.chosen, record.last_seen) == ("ONLINE", None, world.clock.now())


async def test_second_tab_emits_nothing_and_writes_nothing(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    world.broadcaster.changes.clear()

    writes = await world.writes_after(lambda: world.service.connect("u1", "s2", META))

    assert world.broadcaster.changes == []
    assert writes == 0


async def test_closing_one_of_two_tabs_changes_nothing(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.connect("u1", "s2", META)
    world.broadcaster.changes.clear()

    writes = await world.writes_after(lambda: world.service.disconnect("u1", "s1"))

    assert world.broadcaster.changes == []
    assert writes == 0
    assert (await world.durable("u1")).status == "ONLINE"


async def test_last_tab_closing_makes_the_user_offline(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.connect("u1", "s2", META)
    world.clock.advance(10)
    await world.service.disconnect("u1", "s1")
    await world.service.disconnect("u1", "s2")

    assert world.broadcaster.seen_by_self("u1") == ["ONLINE", "OFFLINE"]
    record = await world.durable("u1")
    assert (record.status, record.last_seen) == ("OFFLINE", world.clock.now())


async def test_disconnect_of_an_unknown_socket_is_harmless(world: World) -> None:
    await world.service.disconnect("ghost", "s1")
    await world.service.connect("u1", "s1", META)
    await world.service.disconnect("u1", "nope")

    assert world.broadcaster.seen_by_self("u1") == ["ONLINE"]
    assert world.broadcaster.seen_by_self("ghost") == []


async def test_choosing_a_status_reaches_every_audience(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "IDLE")
    await world.service.choose("u1", "s1", META, "DND")

    assert world.broadcaster.seen_by_self("u1") == ["ONLINE", "IDLE", "DND"]
    assert world.broadcaster.seen_by_others("u1") == ["ONLINE", "IDLE", "DND"]
    assert (await world.durable("u1")).chosen == "DND"


async def test_repeating_the_same_status_emits_and_writes_nothing(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "DND")
    world.broadcaster.changes.clear()

    writes = await world.writes_after(lambda: world.service.choose("u1", "s1", META, "DND"))

    assert world.broadcaster.changes == []
    assert writes == 0


async def test_idle_is_a_sockets_state_so_a_new_socket_is_active(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "IDLE")
    await world.service.disconnect("u1", "s1")
    world.broadcaster.changes.clear()

    assert (await world.service.connect("u1", "s2", META)).status == "ONLINE"


async def test_one_idle_tab_does_not_make_a_user_with_an_active_phone_idle(world: World) -> None:
    phone = SessionMeta(device="mobile", connected_at=0.0, ip="127.0.0.1")
    await world.service.connect("u1", "tab", META)
    await world.service.connect("u1", "phone", phone)
    await world.service.choose("u1", "tab", META, "IDLE")
    # The phone arriving and the tab going idle change the devices others see, not the status.
    assert world.broadcaster.seen_by_others("u1") == ["ONLINE", "ONLINE", "ONLINE"]
    assert world.broadcaster.changes[-1].devices == {"web": "IDLE", "mobile": "ONLINE"}

    await world.service.choose("u1", "phone", phone, "IDLE")
    assert world.broadcaster.seen_by_others("u1")[-1] == "IDLE"
    await world.service.choose("u1", "tab", META, "DND")
    assert world.broadcaster.changes[-1].status == "DND"
    assert world.broadcaster.changes[-1].devices == {"web": "ONLINE", "mobile": "IDLE"}
    seqs = [change.seq for change in world.broadcaster.changes]
    assert seqs == sorted(set(seqs))


async def test_a_second_active_tab_tells_nobody(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    world.broadcaster.changes.clear()
    await world.service.connect("u1", "s2", META)
    await world.service.choose("u1", "s2", META, "ONLINE")
    assert world.broadcaster.changes == []


@pytest.mark.parametrize("chosen", ["DND"])
async def test_a_chosen_status_is_remembered_across_reconnects(world: World, chosen: str) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, chosen)
    await world.service.disconnect("u1", "s1")
    world.broadcaster.changes.clear()

    status = (await world.service.connect("u1", "s2", META)).status

    assert status == chosen
    assert world.broadcaster.seen_by_self("u1") == [chosen]
    assert world.broadcaster.seen_by_others("u1") == [chosen]


async def test_a_chosen_status_survives_a_restart_of_the_gateway(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "DND")
    await world.service.disconnect("u1", "s1")
    await world.writer.flush()

    restarted = world.restart()
    status = (await restarted.service.connect("u1", "s9", META)).status

    assert status == "DND"
    assert restarted.broadcaster.seen_by_others("u1") == ["DND"]


async def test_choosing_online_forgets_the_remembered_status(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "DND")
    await world.service.choose("u1", "s1", META, "ONLINE")
    await world.service.disconnect("u1", "s1")

    assert (await world.service.connect("u1", "s2", META)).status == "ONLINE"
    assert (await world.durable("u1")).chosen is None


async def test_invisible_is_seen_by_the_user_and_offline_by_everyone_else(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    world.clock.advance(5)
    went_invisible_at = world.clock.now()
    await world.service.choose("u1", "s1", META, "INVISIBLE")

    assert world.broadcaster.seen_by_self("u1") == ["ONLINE", "INVISIBLE"]
    assert world.broadcaster.seen_by_others("u1") == ["ONLINE", "OFFLINE"]
    record = await world.durable("u1")
    assert (record.status, record.chosen, record.last_seen) == ("OFFLINE", "INVISIBLE", went_invisible_at)


async def test_an_invisible_user_coming_and_going_is_invisible_to_others(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "INVISIBLE")
    last_seen = (await world.durable("u1")).last_seen
    world.broadcaster.changes.clear()

    async def come_and_go() -> None:
        world.clock.advance(60)
        await world.service.disconnect("u1", "s1")
        world.clock.advance(60)
        assert (await world.service.connect("u1", "s2", META)).status == "INVISIBLE"
        await world.service.connect("u1", "s3", META)

    writes = await world.writes_after(come_and_go)

    assert world.broadcaster.seen_by_others("u1") == []
    assert world.broadcaster.seen_by_self("u1") == ["OFFLINE", "INVISIBLE"]
    assert writes == 0
    assert (await world.durable("u1")).last_seen == last_seen


async def test_choosing_offline_hides_the_user_for_this_visit_only(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "OFFLINE")
    assert world.broadcaster.seen_by_others("u1") == ["ONLINE", "OFFLINE"]
    await world.service.connect("u1", "s2", META)  # another tab while appearing offline
    assert world.broadcaster.seen_by_self("u1") == ["ONLINE", "OFFLINE"]

    await world.service.disconnect("u1", "s1")
    await world.service.disconnect("u1", "s2")

    assert (await world.service.connect("u1", "s3", META)).status == "ONLINE"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ("BUSY", UnknownStatus),
        ("online", UnknownStatus),
        ("", InvalidPayload),
        (None, InvalidPayload),
        (3, InvalidPayload),
        ("X" * 10_000, InvalidPayload),
    ],
)
async def test_a_bad_status_is_refused_and_changes_nothing(world: World, payload: object, error: type) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "DND")
    world.broadcaster.changes.clear()

    with pytest.raises(error):
        await world.service.choose("u1", "s1", META, payload)

    assert world.broadcaster.changes == []
    assert known((await world.store.states(["u1"]))[0].choice).status == "DND"


async def test_a_status_that_exists_but_is_not_choosable_is_refused() -> None:
    registry = StatusRegistry([*BUILTIN_STATUSES, Status("SUSPENDED", choosable=False, seen_as="OFFLINE", online=False)])
    world = build_world(registry=registry)
    await world.service.connect("u1", "s1", META)

    with pytest.raises(StatusNotChoosable):
        await world.service.choose("u1", "s1", META, "SUSPENDED")


async def test_a_silent_session_expires_after_its_ttl(world: World) -> None:
    await world.service.connect("u1", "s1", META)

    world.clock.advance(89.9)
    assert await world.service.sweep() == 0
    world.clock.advance(0.1)
    assert await world.service.sweep() == 1

    assert world.broadcaster.seen_by_self("u1") == ["ONLINE", "OFFLINE"]
    assert (await world.durable("u1")).status == "OFFLINE"


async def test_a_ping_renews_the_ttl(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    for _ in range(5):
        world.clock.advance(60)
        await world.service.heartbeat("u1", "s1", META)
        assert await world.service.sweep() == 0

    assert world.broadcaster.seen_by_self("u1") == ["ONLINE"]


async def test_a_silent_tab_expires_quietly_while_another_pings(world: World) -> None:
    await world.service.connect("u1", "pinging", META)
    await world.service.connect("u1", "silent", META)
    world.clock.advance(60)
    await world.service.heartbeat("u1", "pinging", META)
    world.clock.advance(60)

    assert await world.service.sweep() == 1
    assert world.broadcaster.seen_by_self("u1") == ["ONLINE"]
    assert ((await world.store.states(["u1"]))[0]).sessions == 1


async def test_a_ping_after_expiry_brings_the_user_back(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "IDLE")
    world.clock.advance(91)
    await world.service.sweep()

    await world.service.heartbeat("u1", "s1", META)

    # The session (and its idle state) was gone: it comes back active.
    assert world.broadcaster.seen_by_self("u1") == ["ONLINE", "IDLE", "OFFLINE", "ONLINE"]


async def test_sweep_expires_in_batches(world: World) -> None:
    for n in range(25):
        await world.service.connect(f"u{n}", "s", META)
    world.clock.advance(91)

    assert await world.service.sweep(limit=10) == 10
    assert await world.service.sweep(limit=10) == 10
    assert await world.service.sweep(limit=10) == 5
    assert world.broadcaster.seen_by_others("u7") == ["ONLINE", "OFFLINE"]


async def test_authenticate_goes_through_the_token_verifier(world: World) -> None:
    assert await world.service.authenticate("token-42") == "42"


async def test_after_seeding_a_first_connect_needs_no_database_read(world: World, monkeypatch) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.choose("u1", "s1", META, "DND")
    await world.service.disconnect("u1", "s1")
    await world.writer.flush()
    restarted = world.restart()

    assert await restarted.service.seed_remembered_choices() == 1
    reads = []
    original = restarted.repository.get

    async def counting_get(user_id):
        reads.append(user_id)
        return await original(user_id)

    monkeypatch.setattr(restarted.repository, "get", counting_get)
    assert (await restarted.service.connect("u1", "s2", META)).status == "DND"
    assert (await restarted.service.connect("newcomer", "s3", META)).status == "ONLINE"
    assert reads == []
    assert await restarted.service.seed_remembered_choices() == 0  # once is enough
