"""One loop for every socket's deadlines, instead of a timer per connection.

- Handshake: an Engine.IO session that has not sent Socket.IO CONNECT by the next round
  but one is closed (it was held forever: 300 such sockets for 130 s). A session is
  closed between one and two ``interval``s after it opened, and the loop keeps only the
  set of sessions it saw waiting last round.
- Token lifetime: a connected socket whose token expired is told (``error``
  ``token_expired``) and disconnected, even if it sends nothing (an event sent after
  expiry is refused at once by the gate).

Each round walks the sockets once (O(sockets) every ``interval``; nothing per event).
"""

from __future__ import annotations

import logging
from typing import Any

import anyio

from ...domain.ports import Clock
from ...service_layer.periodic import every
from .events import SocketSession, refuse_event
from .gate import EXPIRED

log = logging.getLogger(__name__)


class SocketSweeper:
    def __init__(self, sio: Any, clock: Clock, interval: float) -> None:
        self._sio = sio
        self._clock = clock
        self.interval = interval
        self._waiting: set[str] = set()  # Engine.IO sessions without CONNECT last round
        self.closed_handshakes = 0
        self.expired = 0

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        await every(self.interval, self.sweep, failure="socket sweep failed", task_status=task_status)

    async def sweep(self) -> None:
        now = self._clock.now()
        waiting: set[str] = set()
        late: list[Any] = []
        expired: list[str] = []
        for eio_sid, socket in list(self._sio.eio.sockets.items()):
            # python-socketio keeps each namespace's session in the Engine.IO session.
            session = socket.session.get("/")
            if not isinstance(session, SocketSession):
                if eio_sid in self._waiting:
                    late.append(socket)
                else:
                    waiting.add(eio_sid)
            elif session.expires_at <= now:
                sid = self._sio.manager.sid_from_eio_sid(eio_sid, "/")
                if sid is not None:
                    expired.append(sid)
        self._waiting = waiting
        for socket in late:
            self.closed_handshakes += 1
            await self._sio.close_engineio_socket(socket.sid, socket)
        for sid in expired:
            self.expired += 1
            await refuse_event(self._sio, sid, EXPIRED)
        if late or expired:
            log.info("closed %d sockets that never sent CONNECT and %d whose token expired", len(late), len(expired))
