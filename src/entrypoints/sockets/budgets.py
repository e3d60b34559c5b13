"""Buckets kept by key (a user id, a remote address) in a table that cannot grow without
bound: a flood of distinct keys evicts rows instead of filling memory.

A row whose bucket has refilled says nothing a fresh row would not, so those go first;
then the oldest quarter. An evicted key starts again with a full budget, so eviction can
only let a key through, never refuse one: each table is one of several bounds (a claimed
user's attempts are also an address's).
"""

from __future__ import annotations

from ...domain.budget import Budget

DEFAULT_MAX_ROWS = 4096


class Row:
    __slots__ = ("tokens", "stamp")

    def __init__(self) -> None:
        self.tokens = 0.0
        self.stamp = 0.0


class BucketTable:
    __slots__ = ("budget", "max_rows", "_rows")

    def __init__(self, budget: Budget, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.budget = budget
        self.max_rows = max_rows
        self._rows: dict[str, Row] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def spend(self, key: str, now: float, cost: float = 1.0) -> bool:
        row = self._rows.get(key)
        if row is None:
            if len(self._rows) >= self.max_rows:
                self._make_room(now)
            row = self._rows[key] = Row()
            self.budget.fill(row, now)
        return self.budget.spend(row, now, cost)

    def _make_room(self, now: float) -> None:
        full = self.budget.capacity
        for key in [key for key, row in self._rows.items() if self.budget.level(row, now) >= full]:
            del self._rows[key]
        if len(self._rows) >= self.max_rows:
            for key in list(self._rows)[: max(1, self.max_rows // 4)]:  # oldest first: dicts keep order
                del self._rows[key]
