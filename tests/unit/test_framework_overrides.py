"""The framework code the gateway copies, replaces or hooks into, as it was when the
gateway's versions were written. A new python-engineio or python-socketio release that
changes any of it fails here: read the new code, carry its fix into ours (or drop our
version if upstream now does the same), then record the new fingerprint.

Where ours lives: ``adapters/socketio/lean_engineio.py`` (the Engine.IO socket, the
request translation, the connect handler), ``lean_manager.py`` (emits),
``adapters/redis/socketio_manager.py`` (publish and listen), ``server.py`` (the
post-CONNECT hook, replies first, held packets), ``entrypoints/server_patches.py`` (h11, hypercorn).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import inspect

import pytest

FINGERPRINTS = {
    "engineio.async_server:AsyncServer._handle_connect": "5bd7edc1d1ae115a",
    "engineio.async_server:AsyncServer._trigger_event": "4a09b6e47eb66532",
    "engineio.async_drivers.asgi:translate_request": "39e74733f1fe46aa",
    "engineio.async_socket:AsyncSocket": "af72dafc541d46e6",
    "engineio.base_socket:BaseSocket.__init__": "8532b631a4dc815f",
    "socketio.async_manager:AsyncManager.emit": "01ccd5b82b4f955e",
    "socketio.async_pubsub_manager:AsyncPubSubManager.emit": "6cc46e0ff9b6d7cf",
    "socketio.async_pubsub_manager:AsyncPubSubManager._handle_emit": "4284671be955f644",
    "socketio.async_redis_manager:AsyncRedisManager._listen": "3e74fdd1084b4e13",
    "socketio.async_redis_manager:AsyncRedisManager._publish": "033e4da7cc8768b4",
    "socketio.async_server:AsyncServer._handle_connect": "c97c480cf777de36",
    "socketio.async_server:AsyncServer._handle_event_internal": "472e8b723a12d507",
    "socketio.async_server:AsyncServer._send_eio_packet": "64cf72a2ab7d75b1",
    "hypercorn.asyncio.task_group:TaskGroup": "1260b105c058872d",  # the class's text: spawn_app is replaced at run time
    "hypercorn.asyncio.worker_context:EventWrapper": "04c3221b13f0a31f",
    "hypercorn.asyncio.tcp_server:TCPServer": "3bfa72b319509f2b",  # the class's text: _read_data is replaced at run time
    "h11._headers:Headers": "e557faefb62564ec",
}


def fingerprint(target: str) -> str:
    module, _, path = target.partition(":")
    obj = importlib.import_module(module)
    for name in path.split("."):
        obj = getattr(obj, name)
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]


@pytest.mark.parametrize("target", sorted(FINGERPRINTS))
def test_upstream_code_we_replace_is_unchanged(target: str) -> None:
    assert fingerprint(target) == FINGERPRINTS[target], (
        f"{target} changed upstream: review our replacement before taking this release"
    )


def test_patched_headers_iterate_as_upstream_does() -> None:
    from h11._headers import normalize_and_validate

    from presence_gateway.entrypoints import server_patches

    headers = normalize_and_validate([(b"Host", b"example.org"), (b"X-Two", b"2"), (b"x-two", b"3")])
    upstream = [headers[i] for i in range(len(headers))]
    server_patches.apply()
    assert list(headers) == upstream == [(b"host", b"example.org"), (b"x-two", b"2"), (b"x-two", b"3")]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_app_queue_is_fifo_and_a_full_one_holds_the_writer() -> None:
    from presence_gateway.entrypoints.server_patches import AppQueue

    queue = AppQueue(2)
    await queue.put("a")
    await queue.put("b")
    third = asyncio.ensure_future(queue.put("c"))
    await asyncio.sleep(0)
    assert not third.done()  # full: the writer waits, as asyncio.Queue's would

    assert await queue.get() == "a"
    await asyncio.wait_for(third, 1)
    assert [await queue.get(), await queue.get()] == ["b", "c"]

    reading = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not reading.done()  # empty: the reader waits for the next event
    await queue.put("d")
    assert await asyncio.wait_for(reading, 1) == "d"


@pytest.mark.anyio
async def test_the_light_event_wakes_every_waiter_and_survives_a_cancelled_one() -> None:
    from presence_gateway.entrypoints.server_patches import LightEvent

    event = LightEvent()
    waiters = [asyncio.ensure_future(event.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    waiters[0].cancel()
    await asyncio.sleep(0)
    assert not event.is_set()

    await event.set()

    await asyncio.wait_for(asyncio.gather(*waiters[1:]), 1)
    assert event.is_set()
    await event.clear()
    assert not event.is_set()
