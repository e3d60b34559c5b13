"""One Broadcaster made of several: a change goes to the sockets, then to the channels
other services follow."""

from __future__ import annotations

from ..domain.ports import Broadcaster
from ..domain.presence import PresenceChanged


class FanOutBroadcaster:
    def __init__(self, *broadcasters: Broadcaster) -> None:
        self._broadcasters = broadcasters

    async def publish(self, change: PresenceChanged) -> None:
        for broadcaster in self._broadcasters:
            await broadcaster.publish(change)
