"""Write-behind for durable statuses.

Presence must not wait on the database: a connect or a status change is decided and
delivered from the presence store, and its durable record is queued here. Records are
coalesced per user (the newest wins, so a flapping user costs a bounded number of
writes), written in batches, and kept and retried with backoff while the database is
down, so its return writes the latest status of every affected user.

A record the database refuses for what it holds (``RecordRejected``) is not an outage:
its batch is written again one record at a time, the refused ones are set aside (logged,
counted, shown by ``/readyz``) and the rest proceed, so one bad record stops no one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import replace

import anyio

from ..domain.errors import RecordRejected
from ..domain.outages import Backoff, Outage
from ..domain.ports import StatusRepository
from ..domain.presence import DurableStatus
from ..domain.rich_presence import CustomStatus

log = logging.getLogger(__name__)


def _over(newer: DurableStatus, older: DurableStatus) -> DurableStatus:
    """The record a write of ``newer`` over ``older`` leaves, as the repository's upsert
    writes it: what ``newer`` leaves unset (last seen, an unknown choice or custom status)
    ``older`` keeps."""
    if newer.last_seen is None and older.last_seen is not None:
        newer = replace(newer, last_seen=older.last_seen)
    if not newer.chosen_known and older.chosen_known:
        newer = replace(newer, chosen=older.chosen, chosen_known=True)
    if not newer.custom_known and older.custom_known:
        newer = replace(newer, custom=older.custom, custom_known=True)
    return newer


class DurableWriter:
    def __init__(
        self,
        repository: StatusRepository,
        *,
        batch_size: int = 500,
        linger: float = 0.05,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
    ) -> None:
        self._repository = repository
        self._pending: dict[str, DurableStatus] = {}
        self._wake: anyio.Event | None = None
        self._batch_size = batch_size
        self._linger = linger
        self._backoff = Backoff(retry_initial, retry_max)
        self._outage = Outage()
        self.written = 0
        self.rejected = 0  # records the database refused for their content, set aside

    @property
    def available(self) -> bool:
        """False while writes fail and are retried (``/readyz``, the metrics)."""
        return not self._outage.down

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, record: DurableStatus) -> None:
        self._queue((record,))
        if self._wake is not None:
            self._wake.set()

    def _queue(self, records: Iterable[DurableStatus]) -> None:
        pending = self._pending
        for record in records:
            queued = pending.get(record.user_id)
            if queued is not None:
                record = _over(queued, record) if queued.at > record.at else _over(record, queued)
            pending[record.user_id] = record

    async def get(self, user_id: str) -> DurableStatus | None:
        """Read your own writes: a queued record is newer than the stored one."""
        queued = self._pending.get(user_id)
        if queued is not None:
            return queued
        return await self._repository.get(user_id)

    async def get_many(self, user_ids: Sequence[str]) -> dict[str, DurableStatus]:
        """``get`` for many users in one read. A queued record is merged with the stored
        one as its write will merge them: the newer wins, and what it leaves unset (last
        seen, an unknown choice) the stored one keeps."""
        records = await self._repository.get_many(user_ids)
        pending = self._pending
        for user_id in user_ids:
            queued = pending.get(user_id)
            if queued is None:
                continue
            stored = records.get(user_id)
            if stored is not None:
                if stored.at > queued.at:
                    continue  # another instance wrote a newer one
                queued = _over(queued, stored)
            records[user_id] = queued
        return records

    async def remembered_choices(self) -> AsyncIterator[tuple[str, str | None, CustomStatus | None]]:
        """Stored remembered choices and custom statuses, with queued ones taking
        precedence (merged with the stored record where they leave a part unknown)."""
        queued = dict(self._pending)
        async for user_id, chosen, custom in self._repository.remembered_choices():
            record = queued.get(user_id)
            if record is None:
                yield user_id, chosen, custom
                continue
            if record.chosen_known:
                chosen = record.chosen
            if record.custom_known:
                custom = record.custom
            queued[user_id] = replace(record, chosen=chosen, chosen_known=True, custom=custom, custom_known=True)
        for user_id, record in queued.items():
            chosen = record.chosen if record.chosen_known else None
            custom = record.custom if record.custom_known else None
            if chosen is not None or custom is not None:
                yield user_id, chosen, custom

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self._wake = anyio.Event()
        task_status.started()
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            if self._linger:
                await anyio.sleep(self._linger)
            while self._pending:
                try:
                    # A write cancelled half-way (shutdown) would leave its transaction,
                    # and on SQLite the file's write lock, to the garbage collector: the
                    # final flush would then wait on it. It finishes first.
                    with anyio.CancelScope(shield=True):
                        await self._write_batch()
                except Exception as exc:  # the database is down or refusing: keep and retry
                    if self._outage.failed():
                        log.error("durable status writes failing, %d queued, retrying: %r", self.pending, exc)
                    await anyio.sleep(self._backoff.next())
                    continue
                if self._outage.recovered():
                    log.warning("durable status writes recovered")
                    self._backoff.reset()
                if self._linger and 0 < self.pending < self._batch_size:
                    # What arrived during the write lingers too: without this a user who
                    # flaps is written once per round trip, not once per linger.
                    await anyio.sleep(self._linger)

    async def _write_batch(self) -> None:
        pending = self._pending
        batch = []
        for user_id in list(pending)[: self._batch_size]:
            batch.append(pending.pop(user_id))
        try:
            try:
                await self._repository.save_many(batch)
            except RecordRejected:
                await self._write_one_by_one(batch)
                return
        except BaseException:
            # Put back what failed unless a newer record for the user arrived meanwhile.
            self._queue(batch)
            raise
        self.written += len(batch)

    async def _write_one_by_one(self, batch: list[DurableStatus]) -> None:
        """Find the records the database refuses; what it accepts is written. An outage
        meanwhile raises, and the caller puts back the whole batch (rewriting a record is
        harmless: the newer write wins)."""
        for record in batch:
            try:
                await self._repository.save_many((record,))
            except RecordRejected as rejection:
                self.rejected += 1
                log.error("durable status of user %r set aside, the database refuses it: %r", record.user_id, str(rejection))
                continue
            self.written += 1

    async def flush(self) -> None:
        """Write everything queued now (shutdown); raises if the database refuses."""
        while self._pending:
            await self._write_batch()
