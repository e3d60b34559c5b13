"""A hypercorn worker follows its parent's shutdown."""

from __future__ import annotations

import asyncio
import signal
import threading

import anyio
import pytest

from presence_gateway.compat.hypercorn_worker import HypercornWorker
from presence_gateway.entrypoints.process.worker_shutdown import ParentFollower

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # signal handlers of the running asyncio loop


def worker_of(parent: threading.Event) -> HypercornWorker:
    """One of two workers whose parent stops once ``parent`` is set."""
    return HypercornWorker(workers=2, shutdown_event=parent)


@pytest.fixture
async def follower_task():
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    for task in tasks:
        task.cancel()
    asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)


async def test_the_parent_s_request_drains_and_the_task_ends_on_its_own(follower_task) -> None:
    parent, drained = threading.Event(), []
    worker = worker_of(parent)
    draining, finish = asyncio.Event(), asyncio.Event()

    async def drain() -> None:
        draining.set()
        await finish.wait()
        drained.append(True)

    async def stop() -> None:
        raise AssertionError("the parent is stopping: this worker is not stopped alone")

    follower = ParentFollower(worker, drain, stop, lambda: True)
    task = asyncio.get_running_loop().create_task(follower.run())
    follower_task.append(task)
    parent.set()
    with anyio.fail_after(5):
        await draining.wait()
        assert follower.draining  # the server's after_serving now waits for it, uncancelled
        finish.set()
        await task  # ends once drained: the shutdown that awaits it is not held up

    assert drained == [True]


async def test_the_server_s_shutdown_waits_for_a_drain_under_way_instead_of_cutting_it(follower_task) -> None:
    from presence_gateway.entrypoints.process.lifecycle import Gateway

    parent, drained = threading.Event(), []
    worker = worker_of(parent)
    draining, finish = asyncio.Event(), asyncio.Event()

    async def drain() -> None:
        draining.set()
        await finish.wait()
        drained.append(True)

    # Only the stop path runs here: it reaches none of the resources, services or server.
    gateway = Gateway(
        open_resources=None, close_resources=None, start_steps=(), jobs=(), service=None, writer=None, sio=None,  # type: ignore[arg-type]
        fleet=None, clock=None, start_line=("", {}), worker=worker,  # type: ignore[arg-type]
    )
    gateway._stopping = True
    gateway._follower = ParentFollower(worker, drain, gateway.stop, lambda: gateway._stopping)
    gateway._following = asyncio.get_running_loop().create_task(gateway._follower.run())
    follower_task.append(gateway._following)
    parent.set()
    with anyio.fail_after(5):
        await draining.wait()
        stopping = asyncio.get_running_loop().create_task(gateway._stop_following())  # after_serving's first step
        await asyncio.sleep(0)
        finish.set()
        await stopping

    assert drained == [True]
