"""Pings the store hears a little later, all at once.

A client pings every 25 s and its session lives 90 s: most pings find the session's expiry
more than a minute ahead, so writing each one at once buys nothing but a round trip. Such
a ping is held in process and the next sweep renews every held one in one pipelined call,
with the expiry the ping itself asked for, so a socket that falls silent still expires one
TTL after its last ping (give or take one sweep, as always).

A ping is held only while the store says it answers (Redis's circuit closed) and while the
expiry the store last wrote is more than two sweep intervals ahead, so no sweeper anywhere
can expire the session while its ping waits. Otherwise it goes to the store as before: an
expired session comes back, and during an outage the ping is answered ``unavailable``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..domain.ports import Renewal

_Key = tuple[str, str]


class HeldPings:
    def __init__(self, store_answers: Callable[[], bool], sweep_interval: float) -> None:
        self._store_answers = store_answers
        self._margin = 2 * sweep_interval
        self._written: dict[_Key, float] = {}  # the expiry the store last wrote
        self._held: dict[_Key, float] = {}  # the expiry a held ping asked for

    def wrote(self, user_id: str, session_id: str, expires_at: float) -> None:
        """The store renewed the session itself (connect, ping, update)."""
        key = (user_id, session_id)
        self._written[key] = expires_at
        self._held.pop(key, None)

    def forget(self, user_id: str, session_id: str) -> None:
        key = (user_id, session_id)
        self._written.pop(key, None)
        self._held.pop(key, None)

    def hold(self, user_id: str, session_id: str, now: float, expires_at: float) -> bool:
        """True when the ping may wait for the next sweep."""
        key = (user_id, session_id)
        written = self._written.get(key)
        if written is None or written - now <= self._margin or not self._store_answers():
            return False
        self._held[key] = expires_at
        return True

    def take(self) -> list[Renewal]:
        held, self._held = self._held, {}
        return [Renewal(user_id, session_id, expires_at) for (user_id, session_id), expires_at in held.items()]

    def renewed(self, renewals: Sequence[Renewal], live: Sequence[bool]) -> None:
        for renewal, alive in zip(renewals, live, strict=True):
            if alive:
                self._written[(renewal.user_id, renewal.session_id)] = renewal.expires_at
            else:
                self.forget(renewal.user_id, renewal.session_id)

    def lost(self, renewals: Sequence[Renewal]) -> None:
        """The store did not take them: the next ping of each goes to it directly."""
        for renewal in renewals:
            self._written.pop((renewal.user_id, renewal.session_id), None)
