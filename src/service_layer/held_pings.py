"""Pings the store hears a little later, all at once.

A client pings every 25 s and its session lives 90 s: most pings find the session's expiry
more than a minute ahead, so writing each one at once buys nothing but a round trip. Such
a ping is held in process and the next sweep renews every held one in one pipelined call,
with the expiry the ping itself asked for, so a socket that falls silent still expires one
TTL after its last ping (give or take one sweep, as always).

A held ping waits, sweep after sweep, until the expiry the store last wrote is within
half a TTL (``renew_within``): a socket pinging every second is written once every 45 s
or so rather than at every sweep, and one pinging every 25 s at every other ping. The
expiry written is still the last held ping's, so a socket that falls silent expires one
TTL after its last ping (give or take a sweep), and the store's expiry of a socket that
pings stays more than ``renew_within`` minus a sweep ahead: no sweeper expires it.

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
    def __init__(self, store_answers: Callable[[], bool], sweep_interval: float, session_ttl: float = 0.0) -> None:
        self._store_answers = store_answers
        self._margin = 2 * sweep_interval
        # A held ping is written once the store's expiry is this near (never nearer than
        # the margin a held ping needs): half a TTL; 0 writes each at the next sweep.
        self.renew_within = max(session_ttl / 2, self._margin)
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

    def take(self, now: float) -> list[Renewal]:
        """The held pings due at a sweep at ``now``; the others stay held for a later one."""
        held, written, due_by = self._held, self._written, now + self.renew_within
        due = [key for key in held if written.get(key, now) <= due_by]
        return [Renewal(key[0], key[1], held.pop(key)) for key in due]

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
