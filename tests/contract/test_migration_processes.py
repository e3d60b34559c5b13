"""Several processes starting at once on one fresh database (hypercorn's workers) all
start: the migrations run in one of them, the others find them done."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

from presence_gateway.adapters.sql import migrate
from presence_gateway.adapters.sql.engine import create_engine, sqlite_url
from tests.support import processes as tracked

PROCESSES = 3


def _prepare_when_all_are_ready(path: str, barrier, results) -> None:
    async def prepare() -> str:
        engine = create_engine(sqlite_url(Path(path)))
        try:
            barrier.wait(timeout=30)  # every process imported and ready: start together
            before, after = await migrate.prepare(engine, may_upgrade=True, where=path)
            return f"{before.current}->{after.current}"
        finally:
            await engine.dispose()

    try:
        results.put(asyncio.run(prepare()))
    except Exception as error:  # reported to the test, which shows it
        results.put(f"failed: {error!r}")


def test_processes_migrating_one_fresh_sqlite_file_together_all_succeed(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    path = str(tmp_path / "presence.sqlite3")
    processes = [
        context.Process(target=_prepare_when_all_are_ready, args=(path, barrier, results)) for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
        assert process.pid is not None  # started
        tracked.track(process.pid)
    outcomes = sorted(results.get(timeout=60) for _ in processes)
    for process in processes:
        process.join(10)

    head = asyncio.run(_head(path))
    # Exactly one process upgraded the empty file; the others waited and found it done.
    assert outcomes == sorted([f"None->{head}"] + [f"{head}->{head}"] * (PROCESSES - 1)), outcomes
    assert Path(path + migrate.SQLITE_LOCK_SUFFIX).exists()


async def _head(path: str) -> str:
    engine = create_engine(sqlite_url(Path(path)))
    try:
        return (await migrate.revision(engine)).head
    finally:
        await engine.dispose()
