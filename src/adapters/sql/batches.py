"""Ids in bounded batches: an ``IN`` list of a client's thousand ids stays one statement
on PostgreSQL and under SQLite's bound-parameter limit, whatever the limits are set to."""

from __future__ import annotations

from typing import Iterator, Sequence

IN_LIST_SIZE = 1000


def chunks(ids: Sequence[str], size: int = IN_LIST_SIZE) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
