"""The StatusRepository contract: durable, ordered by transition time, last seen kept."""

from __future__ import annotations

from dataclasses import replace

import pytest

from presence_gateway.domain.presence import DurableStatus
from presence_gateway.domain.rich_presence import CustomStatus

pytestmark = pytest.mark.anyio


def record(user: str, status: str, at: float, *, chosen: str | None = None, last_seen: float | None = None) -> DurableStatus:
    return DurableStatus(user, status, chosen, last_seen, at)


async def test_an_unknown_user_has_no_record(status_repository) -> None:
    assert await status_repository.get("nobody") is None


async def test_a_saved_record_reads_back(status_repository) -> None:
    saved = record("u1", "DND", 1_800_000_000.25, chosen="DND", last_seen=1_800_000_000.25)
    await status_repository.save_many([saved])

    assert await status_repository.get("u1") == saved


async def test_many_users_in_one_call(status_repository) -> None:
    await status_repository.save_many([record(f"u{n}", "ONLINE", 10.0 + n) for n in range(50)])

    assert (await status_repository.get("u49")).at == 59.0
    assert (await status_repository.get("u0")).status == "ONLINE"


async def test_a_newer_record_replaces_the_stored_one(status_repository) -> None:
    await status_repository.save_many([record("u1", "ONLINE", 10.0, last_seen=10.0)])
    await status_repository.save_many([record("u1", "IDLE", 20.0, chosen="IDLE", last_seen=20.0)])

    assert await status_repository.get("u1") == record("u1", "IDLE", 20.0, chosen="IDLE", last_seen=20.0)


async def test_an_older_record_never_overwrites_a_newer_one(status_repository) -> None:
    await status_repository.save_many([record("u1", "ONLINE", 20.0, last_seen=20.0)])
    await status_repository.save_many([record("u1", "OFFLINE", 10.0, last_seen=10.0)])

    assert (await status_repository.get("u1")).status == "ONLINE"


async def test_a_record_without_last_seen_keeps_the_stored_one(status_repository) -> None:
    await status_repository.save_many([record("u1", "OFFLINE", 10.0, last_seen=10.0)])
    await status_repository.save_many([record("u1", "OFFLINE", 20.0, chosen="INVISIBLE")])

    stored = await status_repository.get("u1")
    assert (stored.chosen, stored.last_seen, stored.at) == ("INVISIBLE", 10.0, 20.0)


async def test_mark_all_offline_moves_only_users_shown_online(status_repository) -> None:
    await status_repository.save_many(
        [
            record("on", "ONLINE", 10.0, last_seen=10.0),
            record("dnd", "DND", 10.0, chosen="DND", last_seen=10.0),
            record("off", "OFFLINE", 10.0, last_seen=5.0),
        ]
    )

    moved = await status_repository.mark_all_offline("OFFLINE", 50.0)

    assert moved == 2
    assert (await status_repository.get("on")).status == "OFFLINE"
    dnd = await status_repository.get("dnd")
    assert (dnd.status, dnd.chosen, dnd.last_seen) == ("OFFLINE", "DND", 50.0)
    assert (await status_repository.get("off")).last_seen == 5.0


async def test_mark_all_offline_leaves_records_newer_than_it(status_repository) -> None:
    await status_repository.save_many([record("u1", "ONLINE", 100.0, last_seen=100.0)])

    assert await status_repository.mark_all_offline("OFFLINE", 50.0) == 0
    assert (await status_repository.get("u1")).status == "ONLINE"


async def test_a_record_whose_choice_is_unknown_keeps_the_stored_choice(status_repository) -> None:
    await status_repository.save_many([record("u1", "OFFLINE", 10.0, chosen="DND", last_seen=10.0)])
    unknown = DurableStatus("u1", "ONLINE", None, 20.0, 20.0, chosen_known=False)
    await status_repository.save_many([unknown, DurableStatus("u2", "ONLINE", None, 20.0, 20.0, chosen_known=False)])

    stored = await status_repository.get("u1")
    assert (stored.status, stored.chosen) == ("ONLINE", "DND")
    assert (await status_repository.get("u2")).chosen is None


async def test_remembered_choices_are_streamed(status_repository) -> None:
    await status_repository.save_many(
        [
            record("u1", "OFFLINE", 1.0, chosen="DND"),
            record("u2", "ONLINE", 1.0),
            record("u3", "OFFLINE", 1.0, chosen="INVISIBLE"),
            replace(record("u4", "OFFLINE", 1.0), custom=CustomStatus("away", None, 9.5), custom_known=True),
        ]
    )

    assert sorted([item async for item in status_repository.remembered_choices()]) == [
        ("u1", "DND", None),
        ("u3", "INVISIBLE", None),
        ("u4", None, CustomStatus("away", None, 9.5)),
    ]


async def test_get_many_reads_the_users_that_have_a_record(status_repository) -> None:
    await status_repository.save_many(
        [record("u1", "OFFLINE", 10.0, chosen="INVISIBLE", last_seen=5.0), record("u2", "ONLINE", 20.0, last_seen=20.0)]
    )

    records = await status_repository.get_many(["u2", "nobody", "u1"])

    assert records == {
        "u1": record("u1", "OFFLINE", 10.0, chosen="INVISIBLE", last_seen=5.0),
        "u2": record("u2", "ONLINE", 20.0, last_seen=20.0),
    }
    assert await status_repository.get_many([]) == {}


async def test_get_many_reads_more_users_than_one_statement_asks_about(status_repository) -> None:
    await status_repository.save_many([record(f"u{n}", "OFFLINE", 10.0, last_seen=float(n)) for n in range(0, 2500, 2)])

    records = await status_repository.get_many([f"u{n}" for n in range(2500)])

    assert sorted(records) == sorted(f"u{n}" for n in range(0, 2500, 2))
    assert records["u2498"].last_seen == 2498.0


async def test_the_custom_status_is_kept_until_a_record_moves_it(status_repository) -> None:
    custom = CustomStatus("in a meeting", "📅", 1_800_003_600.5)
    await status_repository.save_many([replace(record("u1", "ONLINE", 10.0), custom=custom, custom_known=True)])
    assert (await status_repository.get("u1")).custom == custom

    await status_repository.save_many([record("u1", "OFFLINE", 20.0, last_seen=20.0)])  # a reconnect's records
    assert (await status_repository.get("u1")).custom == custom

    await status_repository.save_many([replace(record("u1", "ONLINE", 30.0), custom=None, custom_known=True)])
    assert (await status_repository.get("u1")).custom is None
