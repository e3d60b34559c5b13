"""Durable writes per 1000 connect/disconnect cycles of users with two tabs, on PostgreSQL.

Why this exists: the durable table is written only when what others see (or the user's
remembered choice) changes, and writes are coalesced per user behind the socket events.
This counts what that costs the database, as the database counts it (an AFTER ROW
trigger: rows really inserted or updated) and as the gateway sends it (statements).

A cycle: a user opens two tabs, both ping, the second closes, then the first. It is run
through the presence service exactly as the container wires it (in-process store,
write-behind, the SQL repository on asyncpg), without sockets, which add no writes.

* ``settled``: every step's write lands before the next step (nothing can coalesce) —
  the most a cycle can cost;
* ``burst``: cycles back to back with the write-behind running — what coalescing saves
  when users come and go faster than it lingers (50 ms).

Run: .venv/bin/python benchmarks/durable_writes.py [--cycles 1000] [--users 100]
[--database-url postgresql://…]; without a URL it uses the test suite's PostgreSQL (CI's
on 127.0.0.1:5432, else a throwaway server). Each mode runs in a schema of its own,
dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import anyio  # noqa: E402

from presence_gateway.adapters.sql.engine import printable_url  # noqa: E402
from tests.support.gateway_container import NO_GRACE  # noqa: E402
from tests.support.postgres_server import shared_postgres_url  # noqa: E402
from tests.support.sql_world import migrated_postgres, sql_world, two_tab_cycle  # noqa: E402
from tests.support.write_counter import WriteCounter, Writes  # noqa: E402


async def run_mode(url: str, mode: str, cycles: int, users: int) -> tuple[Writes, float]:
    async with migrated_postgres(url) as engine:
        counter = await WriteCounter(engine).install()
        world = sql_world(engine, NO_GRACE)  # a closed visit is OFFLINE at once: its write counts
        names = [f"user-{n}" for n in range(users)]
        started = time.monotonic()
        if mode == "settled":
            for n in range(cycles):
                await two_tab_cycle(world.service, names[n % users], world.writer.flush)
        else:
            async with anyio.create_task_group() as tg:
                await tg.start(world.writer.run)
                for n in range(cycles):
                    await two_tab_cycle(world.service, names[n % users], anyio.lowlevel.checkpoint)
                with anyio.fail_after(60):
                    while world.writer.pending:
                        await anyio.sleep(0.01)
                tg.cancel_scope.cancel()
            await world.writer.flush()
        elapsed = time.monotonic() - started
        for name in names:
            assert await world.stored(name) == ("OFFLINE", None), name
        return await counter.read(), elapsed


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--database-url", help="PostgreSQL to write to (default: the test suite's)")
    args = parser.parse_args(argv)
    url = args.database_url or shared_postgres_url()
    print(f"PostgreSQL: {printable_url(url)}; {args.cycles} two-tab cycles of {args.users} users")
    print(f"{'mode':<8} {'rows':>6} {'inserted':>9} {'updated':>8} {'statements':>11} {'rows/1000 cycles':>17} {'seconds':>8}")
    for mode in ("settled", "burst"):
        writes, elapsed = await run_mode(url, mode, args.cycles, args.users)
        per_1000 = writes.rows * 1000 / args.cycles
        print(f"{mode:<8} {writes.rows:>6} {writes.inserted:>9} {writes.updated:>8} {writes.statements:>11} "
              f"{per_1000:>17.0f} {elapsed:>8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
