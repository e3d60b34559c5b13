"""The socket's own room index (compat/room_index.py) leaves the room table exactly as
python-socketio's bookkeeping does, whatever the order of joins, leaves and disconnects,
and a disconnect does not look at the rooms of other sockets."""

from __future__ import annotations

import random
from typing import Any

import pytest
from bidict import bidict
from socketio.async_manager import AsyncManager

from presence_gateway.compat.lean_manager import LocalManager

NS = "/"


class _Server:
    """What a manager asks its server for: new socket ids."""

    def __init__(self) -> None:
        self.eio = self
        self._next = 0

    def generate_id(self) -> str:
        self._next += 1
        return f"s{self._next}"


def _manager(cls: type) -> Any:
    manager = cls()
    manager.server = _Server()
    return manager


def _table(manager: Any) -> dict:
    return {ns: {room: dict(members) for room, members in rooms.items()} for ns, rooms in manager.rooms.items()}


def _pending(manager: Any) -> tuple[dict, dict]:
    return (
        {ns: sorted(sids) for ns, sids in manager.pending_connect.items()},
        {ns: sorted(sids) for ns, sids in manager.pending_disconnect.items()},
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # python-socketio's managers are asyncio's


@pytest.mark.anyio
async def test_joins_leaves_and_disconnects_leave_the_same_rooms_as_upstream() -> None:
    chooser = random.Random(25)
    ours, theirs = _manager(LocalManager), _manager(AsyncManager)
    live: list[str] = []
    for step in range(3000):
        action = chooser.random()
        if action < 0.3 or not live:
            eio = f"e{step}"
            sid = await ours.pre_connect(eio, NS)
            assert await theirs.pre_connect(eio, NS) == sid
            if chooser.random() < 0.8:
                await ours.connect(sid, NS)
                await theirs.connect(sid, NS)
            live.append(sid)
        elif action < 0.6:
            sid, room = chooser.choice(live), f"user:{chooser.randrange(40)}"
            ours.basic_enter_room(sid, NS, room)
            theirs.basic_enter_room(sid, NS, room)
        elif action < 0.75:
            sid, room = chooser.choice(live), f"user:{chooser.randrange(40)}"
            ours.basic_leave_room(sid, NS, room)
            theirs.basic_leave_room(sid, NS, room)
        else:
            sid = live.pop(chooser.randrange(len(live)))
            if chooser.random() < 0.5:
                ours.pre_disconnect(sid, NS)
                theirs.pre_disconnect(sid, NS)
                assert not ours.is_connected(sid, NS)
            ours.basic_disconnect(sid, NS)
            theirs.basic_disconnect(sid, NS)
        if step % 100 == 0:
            for probe in live:
                assert sorted(ours.get_rooms(probe, NS), key=str) == sorted(theirs.get_rooms(probe, NS), key=str)
                assert ours.is_connected(probe, NS) == theirs.is_connected(probe, NS)
                assert ours.is_pre_connected(probe, NS) == theirs.is_pre_connected(probe, NS)
    assert _table(ours) == _table(theirs)
    assert _pending(ours) == _pending(theirs)
    for sid in list(live):
        ours.basic_disconnect(sid, NS)
        theirs.basic_disconnect(sid, NS)
    assert ours.rooms == theirs.rooms == {}
    assert _pending(ours) == _pending(theirs) == ({}, {})


class _CountingRoom(bidict):
    """A room that counts how often it is asked whether a socket is in it."""

    asked = 0

    def __contains__(self, key: object) -> bool:
        _CountingRoom.asked += 1
        return super().__contains__(key)


@pytest.mark.anyio
@pytest.mark.parametrize("sockets", [100, 2000])
async def test_a_disconnect_asks_only_the_sockets_own_rooms(sockets: int) -> None:
    manager = _manager(LocalManager)
    sids = []
    for i in range(sockets):
        sid = await manager.pre_connect(f"e{i}", NS)
        await manager.connect(sid, NS)
        manager.basic_enter_room(sid, NS, f"user:{i}")
        sids.append(sid)
    for room in list(manager.rooms[NS]):
        manager.rooms[NS][room] = _CountingRoom(manager.rooms[NS][room])
    _CountingRoom.asked = 0
    for sid in sids:
        manager.basic_disconnect(sid, NS)
    assert manager.rooms == {}
    assert _CountingRoom.asked <= 4 * sockets  # upstream asks every room: sockets × 2·sockets
