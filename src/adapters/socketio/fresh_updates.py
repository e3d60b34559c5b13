"""Per socket, a ``presence:updated`` is dropped when the socket already holds something
as new (its ``seq`` is not above what the socket was told of that user).

Why: an update can reach an instance after a socket there was told what it says. Another
instance's emit crosses pub/sub (on a cluster, later still), so a change made before a
socket connected or subscribed can arrive after the socket's snapshot was read, which
already holds it; and two changes made on two instances can arrive in either order. The
socket would be told an old state after a newer one, or the same change twice.

Kept cheap for the fan-out: what a room was last sent is one number per room (every
socket in it got it, or joined later and read a snapshot at least as new), checked once
per emit, not per recipient. Only a socket told more by a snapshot than its room was
sent has a number of its own (``told``), until the room is sent something newer. Rooms
this instance no longer has are forgotten once either table has doubled since the last
look, so the memory follows the rooms that exist. (A socket watching its own user hears
of it through two rooms, each checked on its own.)

One window the room numbers cannot see: a subscribe joins the rooms, then reads the
snapshot. An update emitted in between passes the room's check and waits behind the
subscribe's ack (replies first, ``server.py``); the snapshot read after it may already
hold a newer change. What a socket's snapshots said while its reply is held is kept
(``holding``), and the waiting updates not above it are dropped (``stale``).
"""

from __future__ import annotations

from typing import Any

from ...compat import json_codec
from ...compat.lean_manager import Participants
from .broadcaster import UPDATED, user_room, watchers_room

NAMESPACE = "/"
FIRST_SWEEP = 1024  # numbers kept before the first look for rooms that are gone
_UPDATED_PACKET = '2["' + UPDATED + '",'  # an encoded presence:updated on the default namespace


class FreshUpdates:
    """``recipients`` of a python-socketio manager (``compat/lean_manager.py``)."""

    def __init__(self, manager: Any) -> None:
        self._manager = manager
        self._sent: dict[str, int] = {}  # room -> the highest seq sent to it
        self._told: dict[str, dict[str, int]] = {}  # room -> sid -> a snapshot's seq above it
        self._sweep_above = FIRST_SWEEP
        self._holding: dict[str, dict[str, int]] = {}  # sid -> room -> seq its held reply told

    def hold(self, sid: str) -> None:
        """The socket's reply is held back (and what is emitted to it meanwhile waits)."""
        self._holding[sid] = {}

    def release(self, sid: str) -> dict[str, int]:
        """What the socket's snapshots told while its reply was held, per room."""
        return self._holding.pop(sid, None) or {}

    @staticmethod
    def stale(told: dict[str, int], data: Any) -> bool:
        """An encoded update waiting behind a reply that told its socket as much or more."""
        if not told or not isinstance(data, str) or not data.startswith(_UPDATED_PACKET):
            return False
        try:
            payload = json_codec.loads(data[1:])[1]
            user_id, seq = payload["userId"], payload["seq"]
        except (ValueError, LookupError, TypeError):
            return False
        if not (isinstance(user_id, str) and isinstance(seq, int)):
            return False
        known = max(told.get(user_room(user_id), 0), told.get(watchers_room(user_id), 0))
        return seq <= known

    def told(self, sid: str, room: str, seq: int) -> None:
        """The socket in ``room`` was given ``seq`` outside the room (a snapshot it read
        after joining it)."""
        holding = self._holding.get(sid)
        if holding is not None:
            holding[room] = max(seq, holding.get(room, 0))
        if seq > self._sent.get(room, 0):
            self._told.setdefault(room, {})[sid] = seq
            if len(self._told) > self._sweep_above:
                self._sweep(self._manager.rooms.get(NAMESPACE, {}))

    def of(self, namespace: str, room: Any, event: str, data: Any) -> Participants | None:
        if event != UPDATED or namespace != NAMESPACE or room is None:
            return None
        seq = data.get("seq") if isinstance(data, dict) else None
        if not isinstance(seq, int):
            return None
        rooms = self._manager.rooms.get(namespace)
        if rooms is None:
            return ()
        if isinstance(room, str):  # the common case, without a merged copy
            return self._room(namespace, rooms, room, seq) or ()
        recipients: dict[str, str] = {}
        for name in room:
            participants = self._room(namespace, rooms, name, seq)
            if participants is not None:
                recipients.update(participants)
        return recipients.items()

    def _room(self, namespace: str, rooms: dict[str, Any], room: str, seq: int) -> Participants | None:
        if room not in rooms or seq <= self._sent.get(room, 0):
            return None
        self._sent[room] = seq
        if len(self._sent) > self._sweep_above:
            self._sweep(rooms)
        participants = self._manager.get_participants(namespace, room)
        told = self._told.pop(room, None)
        if told is None:
            return participants
        later = {sid: at for sid, at in told.items() if at > seq}
        if later:
            self._told[room] = later
        return [(sid, eio_sid) for sid, eio_sid in participants if told.get(sid, 0) < seq]

    def _sweep(self, rooms: dict[str, Any]) -> None:
        self._sent = {room: seq for room, seq in self._sent.items() if room in rooms}
        self._told = {room: told for room, told in self._told.items() if room in rooms}
        self._sweep_above = max(FIRST_SWEEP, 2 * len(self._sent), 2 * len(self._told))
