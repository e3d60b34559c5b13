"""Where the gateway reaches into the frameworks it runs on, in one place.

Each module here replaces or patches something python-engineio, hypercorn, h11 or
wsproto keeps internal, to take a cost off the hot path or to close a hole a hostile
client could use. Nothing here is a new behaviour: each replacement does what the code it
replaces did, with fewer objects, tasks or loop turns, or without the failure.

- ``hypercorn_server``: hypercorn's per-request queue, per-connection event and per-read
  timeout task; h11's header iteration; hypercorn's WebSocket message buffer (forgets a
  refused message) and its permessage-deflate (declined unless asked for). Applied once,
  in the worker process, by ``patch_hypercorn``.
- ``engineio_websocket``: python-engineio's ASGI WebSocket, reading an undecodable frame
  as the client closing.

The gateway's own subclasses of upstream classes stay with the adapters they serve
(``adapters/socketio/lean_engineio.py``, ``lean_manager.py``, ``server.py``,
``adapters/redis/socketio_manager.py``).

Every upstream function or class replaced, patched or overridden, here or in those
subclasses, is fingerprinted in ``tests/unit/test_framework_overrides.py``: a release
that changes any of it fails the suite until someone has read the change. So the
versions are pinned below the next minor release in ``pyproject.toml``:
python-socketio <5.19, python-engineio <4.16, hypercorn <0.19, h11 <0.17, wsproto <1.4.
The same test fails if one of these pins loses its upper bound, if a subclass overrides
an upstream method no fingerprint covers, or if code outside this package assigns to a
framework's attributes.
"""
