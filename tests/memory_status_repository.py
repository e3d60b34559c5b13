"""A StatusRepository in a dict: the unit tests' durable store, held to the same contract
suite as the SQL ones (the gateway itself always has a database: SQLite by default)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import replace

from presence_gateway.domain.presence import DurableStatus
from presence_gateway.domain.rich_presence import CustomStatus


class InMemoryStatusRepository:
    def __init__(self) -> None:
        self.records: dict[str, DurableStatus] = {}
        self.writes = 0

    async def get(self, user_id: str) -> DurableStatus | None:
        return self.records.get(user_id)

    async def get_many(self, user_ids: Sequence[str]) -> dict[str, DurableStatus]:
        records = self.records
        return {user_id: records[user_id] for user_id in user_ids if user_id in records}

    async def save_many(self, records: Iterable[DurableStatus]) -> None:
        for record in records:
            stored = self.records.get(record.user_id)
            if stored is not None:
                if stored.at > record.at:
                    continue
                if record.last_seen is None:
                    record = replace(record, last_seen=stored.last_seen)
                if not record.chosen_known:
                    record = replace(record, chosen=stored.chosen)
                if not record.custom_known:
                    record = replace(record, custom=stored.custom)
            else:
                if not record.chosen_known:
                    record = replace(record, chosen=None)
                if not record.custom_known:
                    record = replace(record, custom=None)
            record = replace(record, chosen_known=True, custom_known=True)
            self.records[record.user_id] = record
            self.writes += 1

    async def remembered_choices(self) -> AsyncIterator[tuple[str, str | None, CustomStatus | None]]:
        for user_id, record in list(self.records.items()):
            if record.chosen is not None or record.custom is not None:
                yield user_id, record.chosen, record.custom

    async def mark_all_offline(self, offline: str, at: float) -> int:
        moved = 0
        for user_id, stored in list(self.records.items()):
            if stored.status != offline and stored.at <= at:
                self.records[user_id] = replace(stored, status=offline, last_seen=at, at=at)
                moved += 1
        return moved
