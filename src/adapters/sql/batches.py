"""Ids in bounded batches: an ``IN`` list of a client's thousand ids stays one statement
on PostgreSQL and under SQLite's bound-parameter limit, whatever the limits are set to."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

IN_LIST_SIZE = 1000

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = IN_LIST_SIZE) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
