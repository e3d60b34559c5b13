"""Replaces python-socketio 5.18.1's ``socketio.base_manager.BaseManager`` room
bookkeeping on a disconnect: rooms found from the socket, not by scanning every room.

Upstream's ``basic_disconnect`` copies the namespace's whole room table and asks each room
whether the socket is in it, and keeps the sockets half-way through a connect or a
disconnect in lists (``in`` and ``remove`` walk them). With every socket in a room of its
own and one of its user, a disconnect then costs a walk over twice as many rooms as
there are sockets: 2000 sockets closing together took 8 million membership checks, and
the pending list grows with each handler still awaiting Redis. Here each socket's rooms
are kept beside the table as they are entered and left (the table itself is upstream's,
untouched), so a disconnect leaves exactly the socket's rooms, and the pending lists are
insertion-ordered sets with the list methods upstream calls.
"""

from __future__ import annotations

from typing import Any

from socketio.async_manager import AsyncManager


class _SidSet(dict[Any, None]):
    """The list methods upstream uses on a pending list, on a dict: ``in`` and ``remove``
    without a walk, the order of arrival kept."""

    def __init__(self, sids: Any = ()) -> None:
        super().__init__(dict.fromkeys(sids))

    def append(self, sid: Any) -> None:
        self[sid] = None

    def remove(self, sid: Any) -> None:
        del self[sid]


class _PendingByNamespace(dict[Any, _SidSet]):
    """``pending_connect`` / ``pending_disconnect``: upstream stores a new ``[]`` per
    namespace; it is kept as a ``_SidSet``."""

    def __setitem__(self, namespace: Any, sids: Any) -> None:
        super().__setitem__(namespace, sids if isinstance(sids, _SidSet) else _SidSet(sids))


class RoomIndex(AsyncManager):
    """Each socket's rooms, by (namespace, sid), the room None (every socket of the
    namespace) and its own room included, in the order entered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending_connect = _PendingByNamespace()
        self.pending_disconnect = _PendingByNamespace()
        self._joined: dict[tuple[Any, Any], dict[Any, None]] = {}

    def basic_enter_room(self, sid: Any, namespace: Any, room: Any, eio_sid: Any = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        self._joined.setdefault((namespace, sid), {})[room] = None

    def basic_leave_room(self, sid: Any, namespace: Any, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)
        joined = self._joined.get((namespace, sid))
        if joined is not None:
            joined.pop(room, None)
            if not joined:
                del self._joined[(namespace, sid)]

    def basic_disconnect(self, sid: Any, namespace: Any, **kwargs: Any) -> None:
        if namespace not in self.rooms:
            return
        for room in list(self._joined.get((namespace, sid), ())):
            self.basic_leave_room(sid, namespace, room)
        self._joined.pop((namespace, sid), None)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            sids = pending.get(namespace)
            if sids is not None and sid in sids:
                sids.remove(sid)
                if not sids:
                    del pending[namespace]

    def get_rooms(self, sid: Any, namespace: Any) -> list[Any]:
        return [room for room in self._joined.get((namespace, sid), ()) if room is not None]
