"""How many events one socket may send: a token bucket (Discord's gateway allows 120 per
60 s). It refills continuously, so a client that keeps under the rate is never refused,
and a burst up to the whole minute's budget passes.

The bucket is two floats kept on the socket's own session object (no table, no task, no
allocation per event); ``spend`` is a few float operations.
"""

from __future__ import annotations

from typing import Protocol

DEFAULT_EVENTS_PER_MINUTE = 120


class Bucket(Protocol):
    tokens: float
    stamp: float


class EventBudget:
    __slots__ = ("capacity", "rate")

    def __init__(self, events_per_minute: int = DEFAULT_EVENTS_PER_MINUTE) -> None:
        self.capacity = float(events_per_minute)
        self.rate = events_per_minute / 60.0  # tokens per second

    def fill(self, bucket: Bucket, now: float) -> None:
        """A new socket starts with a full minute's budget."""
        bucket.tokens = self.capacity
        bucket.stamp = now

    def spend(self, bucket: Bucket, now: float) -> bool:
        """Take one event from the bucket; False (and nothing taken) when it is empty."""
        tokens = bucket.tokens + (now - bucket.stamp) * self.rate
        if tokens > self.capacity:
            tokens = self.capacity
        bucket.stamp = now
        if tokens < 1.0:
            bucket.tokens = tokens
            return False
        bucket.tokens = tokens - 1.0
        return True
