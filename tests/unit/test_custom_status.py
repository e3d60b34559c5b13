"""The custom status through the use cases: set with or without a status, checked before
anything changes, hidden from others while the user is not seen online, remembered across
reconnects and restarts, and cleared by the sweeper when the Clock reaches its expiry."""

from __future__ import annotations

import pytest

from presence_gateway.adapters.presence_payload import iso_timestamp
from presence_gateway.domain.errors import InvalidPayload
from presence_gateway.domain.rich_presence import CustomStatus
from tests.fakes import known
from tests.unit.conftest import META, World

pytestmark = pytest.mark.anyio


def lunch(world: World, minutes: float = 10) -> dict[str, object]:
    return {"text": "lunch", "emoji": "🍜", "expiresAt": iso_timestamp(world.clock.now() + minutes * 60)}


async def test_a_custom_status_alone_is_news_for_watchers(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    world.broadcaster.changes.clear()

    await world.service.update("u1", "s1", META, {"customStatus": {"text": "heads down"}})

    (change,) = world.broadcaster.changes
    assert change.public_changed and change.status == "ONLINE"
    assert change.custom_status == CustomStatus("heads down")
    # The same again changes nothing anyone sees: nothing is sent.
    await world.service.update("u1", "s1", META, {"customStatus": {"text": "heads down"}})
    assert len(world.broadcaster.changes) == 1


async def test_status_and_custom_status_in_one_update_are_one_change(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    world.broadcaster.changes.clear()

    await world.service.update("u1", "s1", META, {"status": "DND", "customStatus": lunch(world)})

    (change,) = world.broadcaster.changes
    assert (change.status, known(change.custom_status).text) == ("DND", "lunch")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"customStatus": "lunch"}, "customStatus"),
        ({"customStatus": {"text": ""}}, "customStatus.text"),
        ({"customStatus": {"text": "x" * 129}}, "customStatus.text"),
        ({"customStatus": {"text": "a\nb"}}, "customStatus.text"),
        ({"customStatus": {"text": "ok", "emoji": "x" * 33}}, "customStatus.emoji"),
        ({"customStatus": {"text": "ok", "expiresAt": "tomorrow"}}, "customStatus.expiresAt"),
        ({"customStatus": {"text": "ok", "expiresAt": "2020-01-01T00:00:00Z"}}, "customStatus.expiresAt"),
        ({"customStatus": {"text": "ok", "colour": "red"}}, "colour"),
        ({"status": "NOPE", "customStatus": {"text": "ok"}}, "NOPE"),
        ({}, "customStatus"),
    ],
)
async def test_a_bad_update_names_the_field_and_changes_nothing(world: World, payload, field: str) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.update("u1", "s1", META, {"customStatus": {"text": "before"}})
    world.broadcaster.changes.clear()

    with pytest.raises(Exception, match=field) as raised:
        await world.service.update("u1", "s1", META, payload)

    assert isinstance(raised.value, InvalidPayload) or type(raised.value).__name__ == "UnknownStatus"
    assert world.broadcaster.changes == []
    (state,) = await world.store.states(["u1"])
    assert state.custom == CustomStatus("before")


async def test_hidden_while_invisible_and_shown_again_after(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.update("u1", "s1", META, {"customStatus": {"text": "busy"}})
    world.broadcaster.changes.clear()

    await world.service.update("u1", "s1", META, {"status": "INVISIBLE"})
    hidden = world.broadcaster.changes[-1]
    assert (hidden.public, hidden.custom_status, dict(hidden.devices)) == ("OFFLINE", None, {})
    # Set while invisible: others see no change.
    await world.service.update("u1", "s1", META, {"customStatus": {"text": "secret"}})
    assert [c for c in world.broadcaster.changes if c.public_changed] == [hidden]

    await world.service.update("u1", "s1", META, {"status": "ONLINE"})
    assert world.broadcaster.changes[-1].custom_status == CustomStatus("secret")


async def test_the_sweeper_clears_it_when_the_clock_reaches_its_expiry(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.update("u1", "s1", META, {"customStatus": lunch(world, minutes=10)})
    world.broadcaster.changes.clear()

    for _ in range(9):  # the socket pings every minute
        world.clock.advance(60)
        await world.service.heartbeat("u1", "s1", META)
        await world.service.sweep()
    assert world.broadcaster.changes == []
    world.clock.advance(60)
    await world.service.sweep()

    (cleared,) = world.broadcaster.changes
    assert cleared.public_changed and cleared.custom_status is None
    assert (await world.durable("u1")).custom is None


async def test_it_survives_reconnects_and_a_restart(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.update("u1", "s1", META, {"customStatus": {"text": "travelling", "emoji": "✈️"}})
    await world.service.disconnect("u1", "s1")
    assert (await world.durable("u1")).custom == CustomStatus("travelling", "✈️")

    restarted = world.restart()
    await restarted.service.connect("u1", "s2", META)

    (state,) = await restarted.store.states(["u1"])
    assert state.custom == CustomStatus("travelling", "✈️")
    assert restarted.broadcaster.changes[-1].custom_status == CustomStatus("travelling", "✈️")


async def test_snapshots_carry_it_and_hide_it_while_invisible(world: World) -> None:
    from presence_gateway.service_layer.watching import WatchService
    from tests.fakes import ContactsAudience

    watch = WatchService(
        registry=world.service.registry, store=world.store, durable=world.writer, policy=ContactsAudience(("u2", "u1"))
    )
    await world.service.connect("u1", "s1", META)
    await world.service.update("u1", "s1", META, {"customStatus": {"text": "busy", "emoji": "🔥"}})

    assert (await watch.one("u2", "u1")).custom_status == CustomStatus("busy", "🔥")
    await world.service.update("u1", "s1", META, {"status": "INVISIBLE"})
    hidden = await watch.one("u2", "u1")
    assert (hidden.status, hidden.custom_status, dict(hidden.devices)) == ("OFFLINE", None, {})


async def test_a_restart_that_seeds_the_store_keeps_it_and_its_expiry(world: World) -> None:
    await world.service.connect("u1", "s1", META)
    await world.service.update("u1", "s1", META, {"customStatus": lunch(world, minutes=5)})
    await world.service.disconnect("u1", "s1")
    await world.writer.flush()

    restarted = world.restart()
    assert await restarted.service.seed_remembered_choices() == 1  # as the warm-up does at start
    await restarted.service.connect("u1", "s2", META)
    (state,) = await restarted.store.states(["u1"])
    assert state.custom is not None and state.custom.text == "lunch"

    restarted.clock.advance(5 * 60)
    await restarted.service.heartbeat("u1", "s2", META)
    await restarted.service.sweep()
    assert restarted.broadcaster.changes[-1].custom_status is None
