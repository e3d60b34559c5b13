"""The framework code the gateway copies, replaces or hooks into, as it was when the
gateway's versions were written. A new python-engineio, python-socketio, hypercorn, h11
or wsproto release that changes any of it fails here: read the new code, carry its fix
into ours (or drop our version if upstream now does the same), then record the new
fingerprint.

Where ours lives: ``compat/`` (hypercorn's and h11's internals, python-engineio's
WebSocket, socket, request translation and connect handler in ``lean_engineio.py``,
python-socketio's emits in ``lean_manager.py``, an argument-less event's dispatch and
emit in ``bare_events.py``, its room bookkeeping in
``room_index.py``, its Redis manager's publish and listen in ``socketio_redis_manager.py``,
its rooms' entering and leaving in ``interest_manager.py``,
what hypercorn's parent hands a worker in ``hypercorn_worker.py``) and the gateway's
Socket.IO server, ``adapters/socketio/server.py`` (the post-CONNECT hook, replies first,
held packets).
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import importlib
import inspect
import pkgutil
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

import presence_gateway
from presence_gateway.compat import hypercorn_server

ROOT = Path(__file__).resolve().parents[2]
# The frameworks reached into, by import name and distribution name.
UPSTREAM = {
    "engineio": "python-engineio",
    "socketio": "python-socketio",
    "hypercorn": "hypercorn",
    "h11": "h11",
    "wsproto": "wsproto",
    "httptools": "httptools",
    "websockets": "websockets",
}

FINGERPRINTS = {
    "engineio.async_server:AsyncServer._handle_connect": "5bd7edc1d1ae115a",
    "engineio.async_server:AsyncServer._trigger_event": "4a09b6e47eb66532",
    # reads the request translation from the ``_async`` table lean_engineio fills
    "engineio.async_server:AsyncServer.handle_request": "1a8c878e35166cfe",
    "engineio.base_server:BaseServer.__init__": "a06b17502fbd9646",
    "engineio.async_drivers.asgi:translate_request": "39e74733f1fe46aa",
    "engineio.async_drivers.asgi:WebSocket.wait": "0346a1c9ebdafdff",
    "engineio.async_socket:AsyncSocket": "af72dafc541d46e6",
    "engineio.base_socket:BaseSocket.__init__": "8532b631a4dc815f",
    "socketio.async_manager:AsyncManager.emit": "01ccd5b82b4f955e",
    # the class's text: room_index keeps each socket's rooms beside its room table and
    # its pending lists as sets, relying on how every method of it uses them
    "socketio.base_manager:BaseManager": "b393b4c05dbd88e2",
    "socketio.async_pubsub_manager:AsyncPubSubManager.emit": "6cc46e0ff9b6d7cf",
    "socketio.async_pubsub_manager:AsyncPubSubManager._handle_emit": "4284671be955f644",
    "socketio.async_pubsub_manager:AsyncPubSubManager.initialize": "e8a2b026ecea320f",
    # the routing by interest (interest_manager.py) subscribes as rooms fill and empty
    "socketio.async_pubsub_manager:AsyncPubSubManager.enter_room": "839498e1ae603f2b",
    "socketio.base_manager:BaseManager.basic_enter_room": "3f509586d2d7f47e",
    "socketio.base_manager:BaseManager.basic_leave_room": "e27f3eea06d1c6a6",
    "socketio.async_pubsub_manager:AsyncPubSubManager._thread": "fa8d075729aac64d",  # called, as the listener
    "socketio.async_redis_manager:AsyncRedisManager._listen": "3e74fdd1084b4e13",
    "socketio.async_redis_manager:AsyncRedisManager._publish": "033e4da7cc8768b4",
    "socketio.async_redis_manager:AsyncRedisManager._redis_connect": "da4530c936323c25",
    "socketio.async_redis_manager:AsyncRedisManager._redis_listen_with_retries": "ad347f253fd3423a",
    "socketio.async_server:AsyncServer._engineio_server_class": "199c42bf149247e0",
    "socketio.async_server:AsyncServer._handle_connect": "c97c480cf777de36",
    "socketio.async_server:AsyncServer._handle_eio_message": "bef50fc0e1635921",
    "socketio.async_server:AsyncServer._handle_event": "65178105ef8b593d",
    "socketio.async_server:AsyncServer._handle_event_internal": "472e8b723a12d507",
    "socketio.async_server:AsyncServer._send_eio_packet": "64cf72a2ab7d75b1",
    # bare_events: an argument-less event's dispatch and emit, and the packet encoded once
    # (lean_engineio reads a Socket.IO message's text as Packet.decode makes it)
    "engineio.packet:Packet.__init__": "26559aaf4a6f4ddd",
    "engineio.packet:Packet.encode": "8f3d5d869711cbb8",
    "engineio.packet:Packet.decode": "18e27ff7fd56addd",
    "engineio.async_server:AsyncServer.send_packet": "c54317440865030d",
    "socketio.async_server:AsyncServer._trigger_event": "01ba90cfa09ba43e",
    "socketio.base_server:BaseServer._get_event_handler": "e18d9a6570aaaaf4",
    "socketio.async_server:AsyncServer.emit": "84391bfd624104d1",
    "socketio.async_server:AsyncServer.get_session": "75d00587a3a77688",
    "engineio.async_server:AsyncServer.get_session": "db9559853d608ac4",
    "hypercorn.asyncio.task_group:TaskGroup": "1260b105c058872d",  # the class's text: spawn_app is replaced at run time
    "hypercorn.asyncio.worker_context:EventWrapper": "04c3221b13f0a31f",
    "hypercorn.asyncio.worker_context:WorkerContext": "6eeeae02ae174a68",  # its event_class is replaced
    "hypercorn.asyncio.tcp_server:TCPServer": "3bfa72b319509f2b",  # the class's text: _read_data is replaced at run time
    "hypercorn.protocol.ws_stream:WebsocketBuffer": "31c9b1345f308f4c",
    "hypercorn.protocol.ws_stream:WSStream.__init__": "3534d3ebe8f7a1a4",  # builds WebsocketBuffer by its module name
    "hypercorn.protocol.ws_stream:Handshake.accept": "e163533bf7919793",  # builds PerMessageDeflate by its module name
    "hypercorn.run:_populate": "19108d6a51f96e90",  # what a worker is handed (entrypoints/hypercorn_worker.py)
    "h11._headers:Headers": "e557faefb62564ec",
    # the fast protocol path (fast_serve, fast_http, fast_websocket) does what these do for
    # cleartext HTTP/1.1 and WebSocket, and hands the rest to them
    "hypercorn.protocol.h11:H11Protocol": "b32a61e0a8ca2127",
    "hypercorn.protocol.http_stream:HTTPStream": "e0f656feb55ab89c",
    "hypercorn.protocol.ws_stream:WSStream": "67434c428a1a3c04",
    "hypercorn.protocol.ws_stream:Handshake": "701a154c29b5ab4c",  # validates and accepts on the fast path too
    "hypercorn.asyncio.task_group:_handle": "e37cfe3db06eb470",
    "hypercorn.asyncio.run:worker_serve": "ae30269c42b95442",  # builds TCPServer, whose run is replaced
    # lean_stream: worker_serve's streams for a cleartext connection, one object in place of these
    "asyncio.streams:start_server": "78f1d2077cf49f34",
    "asyncio.streams:StreamReaderProtocol": "86a9dc62ee91fe41",
    "asyncio.streams:StreamReader.read": "54bc5378c6eec10b",
    "asyncio.streams:StreamWriter.drain": "31d717c85b1be487",
    "asyncio.streams:FlowControlMixin": "5eea7d0e63642ff8",
    "wsproto.extensions:PerMessageDeflate.accept": "881780b72c6d8993",
}

# Public entry points a subclass extends by calling ``super()`` with its own arguments:
# their contract is upstream's documented API, not its internals.
PUBLIC_EXTENSIONS = {
    "socketio.async_server:AsyncServer.__init__",
    "socketio.async_redis_manager:AsyncRedisManager.__init__",
    "engineio.async_drivers.asgi:ASGIApp.__call__",
}


def fingerprint(target: str) -> str:
    module, _, path = target.partition(":")
    obj: Any = importlib.import_module(module)
    for name in path.split("."):
        obj = getattr(obj, name)
        if inspect.isclass(obj) and obj.__module__.startswith("presence_gateway."):
            # a module-level class compat has replaced by its subclass: upstream's own
            obj = next(base for base in obj.__mro__ if base.__module__.split(".")[0] in UPSTREAM)
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]


@pytest.mark.parametrize("target", sorted(FINGERPRINTS))
def test_upstream_code_we_replace_is_unchanged(target: str) -> None:
    assert fingerprint(target) == FINGERPRINTS[target], (
        f"{target} changed upstream: review our replacement before taking this release"
    )


def test_patched_headers_iterate_as_upstream_does() -> None:
    from h11._headers import normalize_and_validate

    headers = normalize_and_validate([(b"Host", b"example.org"), (b"X-Two", b"2"), (b"x-two", b"3")])
    upstream = [headers[i] for i in range(len(headers))]
    hypercorn_server.patch_hypercorn(ws_deflate=False)
    assert list(headers) == upstream == [(b"host", b"example.org"), (b"x-two", b"2"), (b"x-two", b"3")]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_app_queue_is_fifo_and_a_full_one_holds_the_writer() -> None:
    from presence_gateway.compat.hypercorn_server import AppQueue

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
    from presence_gateway.compat.hypercorn_server import LightEvent

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


def test_permessage_deflate_is_declined_unless_asked_for() -> None:
    from hypercorn.protocol import ws_stream

    offer = "permessage-deflate; client_max_window_bits"
    try:
        hypercorn_server.patch_hypercorn(ws_deflate=False)
        assert ws_stream.PerMessageDeflate().accept(offer) is None
        hypercorn_server.patch_hypercorn(ws_deflate=True)
        assert ws_stream.PerMessageDeflate().accept(offer)
    finally:
        hypercorn_server.patch_hypercorn(ws_deflate=False)


def upstream_key(owner: Any, attribute: str | None = None) -> str:
    """``module:Qualname[.attribute]`` of an upstream class, or ``module:attribute`` of a module."""
    if inspect.ismodule(owner):
        return f"{owner.__name__}:{attribute}"
    key = f"{owner.__module__}:{owner.__qualname__}"
    return f"{key}.{attribute}" if attribute else key


def covered(owner: Any, attribute: str, replacement: Any = None) -> bool:
    if inspect.ismodule(replacement):
        # A module the framework calls by name, replaced by one that forwards all but what
        # it replaces: each replaced function of the real module is fingerprinted.
        real = importlib.import_module(replacement.__name__)
        replaced = [name for name in vars(type(replacement)) if hasattr(real, name) and not name.startswith("_")]
        return bool(replaced) and all(
            any(key.endswith(f":{name}") and key.startswith(real.__name__) for key in FINGERPRINTS) for name in replaced
        )
    if inspect.ismodule(owner):
        # A class the module builds by name, replaced by a subclass: the upstream class
        # it subclasses (or what of it the subclass overrides) is fingerprinted.
        replaced = next(base for base in replacement.__mro__ if base.__module__.split(".")[0] in UPSTREAM)
        return any(key.startswith(upstream_key(replaced)) for key in FINGERPRINTS)
    return upstream_key(owner, attribute) in FINGERPRINTS or upstream_key(owner) in FINGERPRINTS


def gateway_modules() -> list[Any]:
    """Every module of the gateway (the migrations run inside alembic, not on import)."""
    names = [m.name for m in pkgutil.walk_packages(presence_gateway.__path__, "presence_gateway.")]
    return [importlib.import_module(name) for name in names if ".migrations" not in name]


def overrides() -> list[tuple[str, Any, str]]:
    """(our class, the upstream class defining what it overrides, the attribute)."""
    found = []
    for module in gateway_modules():
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            upstream = [base for base in cls.__mro__ if base.__module__.split(".")[0] in UPSTREAM]
            for attribute, value in vars(cls).items():
                if not (inspect.isfunction(value) or isinstance(value, (property, classmethod, staticmethod))):
                    continue
                owner = next((base for base in upstream if attribute in vars(base)), None)
                if owner is not None:
                    found.append((f"{cls.__module__}.{cls.__qualname__}", owner, attribute))
    return found


def test_every_upstream_method_a_subclass_overrides_is_fingerprinted() -> None:
    found = overrides()
    assert len(found) > 20  # the walk reached lean_engineio, server.py, the Redis manager …
    unguarded = [
        f"{ours}.{attribute} overrides {upstream_key(owner, attribute)}"
        for ours, owner, attribute in found
        if not covered(owner, attribute) and upstream_key(owner, attribute) not in PUBLIC_EXTENSIONS
    ]
    assert not unguarded, "fingerprint what these override:\n" + "\n".join(unguarded)


def test_every_patch_in_compat_is_fingerprinted() -> None:
    assert len(hypercorn_server.PATCHES) >= 6
    unguarded = [
        upstream_key(owner, attribute)
        for owner, attribute, replacement in hypercorn_server.PATCHES
        if not covered(owner, attribute, replacement)
    ]
    assert not unguarded


def assignments_to_frameworks(path: Path) -> list[str]:
    """Lines of ``path`` that assign to (or ``setattr`` on) a name imported from a framework."""
    tree = ast.parse(path.read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.split(".")[0] in UPSTREAM}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] in UPSTREAM:
            imported |= {a.asname or a.name for a in node.names}
    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr" and node.args:
            targets = [ast.Attribute(value=node.args[0], attr="?")]
        for target in targets:
            base = target
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(target, ast.Attribute) and isinstance(base, ast.Name) and base.id in imported:
                found.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}")
    return found


def test_only_compat_assigns_to_a_frameworks_attributes() -> None:
    sources = [p for p in (ROOT / "src").rglob("*.py") if "compat" not in p.parts]
    assert not [line for path in sources for line in assignments_to_frameworks(path)]
    # and the check sees compat's own
    assert assignments_to_frameworks(ROOT / "src" / "compat" / "hypercorn_server.py")


def test_every_framework_reached_into_is_pinned_below_its_next_release() -> None:
    requirements = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    bounds = {}
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        assert name
        bounds[name.group(0).lower()] = requirement
    compat_text = (ROOT / "src" / "compat" / "__init__.py").read_text()
    for distribution in UPSTREAM.values():
        upper = re.search(r"<\s*([0-9.]+)", bounds[distribution])
        assert upper, f"{distribution} has no upper bound: {bounds[distribution]}"
        assert f"{distribution} <{upper.group(1)}" in compat_text, f"compat/__init__.py does not note {distribution}'s pin"
