"""The lifetimes the containers give their clients, engine and lock.

The engine and the clients are built by Singletons (their users are built before any
event loop runs) and connect when first used; these resources own their end, and the
lifecycle opens and closes them with ``init_resources()``/``shutdown_resources()``, which
follow their dependencies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ..process.single_instance import SingleInstanceLock, claim_single_instance


def held_data_dir(data_dir: Path) -> Iterator[SingleInstanceLock]:
    """Without Redis, presence lives in this process: its data directory is locked while it
    serves (single_instance.py)."""
    lock = claim_single_instance(data_dir)
    try:
        yield lock
    finally:
        lock.release()


async def closed_at_stop(client: Any) -> AsyncIterator[Any]:
    """A Redis client, closed at stop."""
    yield client
    await client.aclose()


async def disposed_at_stop(engine: AsyncEngine, *outlived: Any) -> AsyncIterator[AsyncEngine]:
    """The engine, disposed at stop. ``outlived``: resources still held while it is
    disposed (``shutdown_resources`` ends a resource's dependents before the resource)."""
    yield engine
    await engine.dispose()


async def flushed_at_stop(stream: Any, *outlived: Any) -> AsyncIterator[Any]:
    """The embedded change stream: the changes still queued (the OFFLINEs of the shutdown
    among them) are written at stop, before the engine in ``outlived`` is disposed."""
    yield stream
    await stream.aclose()
