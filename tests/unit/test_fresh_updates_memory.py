"""What the fresh-updates filter keeps follows the rooms that exist: an instance that has
served a million users for a day does not keep a number for each of them."""

from __future__ import annotations

from typing import Any

from presence_gateway.adapters.socketio.broadcaster import UPDATED
from presence_gateway.adapters.socketio.fresh_updates import FIRST_SWEEP, FreshUpdates


class Rooms:
    """python-socketio's manager as the filter reads it: rooms of the default namespace."""

    def __init__(self) -> None:
        self.rooms: dict[str, dict[str, dict[str, str]]] = {"/": {}}

    def get_participants(self, namespace: str, room: str) -> Any:
        yield from self.rooms[namespace].get(room, {}).items()


def test_numbers_of_rooms_that_are_gone_are_forgotten() -> None:
    manager = Rooms()
    fresh = FreshUpdates(manager)
    for n in range(20 * FIRST_SWEEP):  # users come, are told a snapshot, hear a change, leave
        room = f"user:{n}"
        manager.rooms["/"][room] = {f"s{n}": f"e{n}"}
        fresh.told(f"s{n}", room, 5)
        assert list(fresh.of("/", room, UPDATED, {"seq": 6}) or ()) == [(f"s{n}", f"e{n}")]
        del manager.rooms["/"][room]
    assert len(fresh._sent) <= 2 * FIRST_SWEEP and len(fresh._told) <= 2 * FIRST_SWEEP


def test_a_snapshot_newer_than_the_room_holds_its_socket_back_until_the_room_catches_up() -> None:
    manager = Rooms()
    manager.rooms["/"]["user:y"] = {"old": "e1", "new": "e2"}
    fresh = FreshUpdates(manager)
    fresh.told("new", "user:y", 7)
    assert list(fresh.of("/", "user:y", UPDATED, {"seq": 7}) or ()) == [("old", "e1")]
    assert list(fresh.of("/", "user:y", UPDATED, {"seq": 6}) or ()) == []  # the room had 7
    assert sorted(fresh.of("/", "user:y", UPDATED, {"seq": 8}) or ()) == [("new", "e2"), ("old", "e1")]
    assert fresh.of("/", "user:y", "error", {"seq": 1}) is None  # other events: everyone
