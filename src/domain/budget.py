"""How much a client may make the gateway do: token buckets (Discord's gateway allows 120
events per 60 s), refilled continuously, so a client that keeps under the rate is never
refused, and a burst up to the whole minute's budget passes.

The same bucket serves every scope the gate counts (one socket, one user across all their
sockets, connection attempts per claimed user and per address); the caller keeps the
bucket and passes ``now``. An event costs what it makes the gateway do: a ping one, an
event naming ids one more per ``IDS_PER_UNIT`` ids, so a subscribe of 100 ids costs 11.

A bucket is two floats on an object the caller owns (a socket's session, a table's row):
no allocation per event; ``spend`` is a few float operations.
"""

from __future__ import annotations

from typing import Protocol

DEFAULT_PER_MINUTE = 120
IDS_PER_UNIT = 10
# Refused events in a row after which the socket is closed: a client that reads its
# ``rate_limited`` errors slows down; one that keeps sending is not answered forever.
REFUSALS_BEFORE_CLOSE = 10


class Bucket(Protocol):
    tokens: float
    stamp: float


def event_cost(ids: int = 0) -> float:
    """What an event naming ``ids`` user ids costs (a ping or an update names none)."""
    return 1.0 + ids / IDS_PER_UNIT


class Budget:
    __slots__ = ("capacity", "rate")

    def __init__(self, per_minute: int = DEFAULT_PER_MINUTE) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second

    def fill(self, bucket: Bucket, now: float) -> None:
        """A new bucket starts with a full minute's budget."""
        bucket.tokens = self.capacity
        bucket.stamp = now

    def level(self, bucket: Bucket, now: float) -> float:
        """The tokens in ``bucket`` at ``now`` (refilled, never beyond the capacity)."""
        return min(self.capacity, bucket.tokens + (now - bucket.stamp) * self.rate)

    def affords(self, bucket: Bucket, now: float, cost: float = 1.0) -> bool:
        return self.level(bucket, now) >= min(cost, self.capacity)

    def spend(self, bucket: Bucket, now: float, cost: float = 1.0) -> bool:
        """Take ``cost`` from the bucket; False (and nothing taken) when it holds less."""
        cost = min(cost, self.capacity)  # the largest event a budget allows is always affordable
        tokens = self.level(bucket, now)
        bucket.stamp = now
        if tokens < cost:
            bucket.tokens = tokens
            return False
        bucket.tokens = tokens - cost
        return True
