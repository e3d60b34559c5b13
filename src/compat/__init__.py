"""Where the gateway reaches into the frameworks it runs on, in one place.

Each module here replaces or patches something python-engineio, hypercorn, h11 or
wsproto keeps internal, to take a cost off the hot path or to close a hole a hostile
client could use. Nothing here is a new behaviour: each replacement does what the code it
replaces did, with fewer objects, tasks or loop turns, or without the failure.

- ``hypercorn_server``: hypercorn's per-request queue, per-connection event and per-read
  timeout task; h11's header iteration; hypercorn's WebSocket message buffer (forgets a
  refused message) and its permessage-deflate (declined unless asked for). Applied once,
  in the worker process, by ``patch_hypercorn``.
- ``fast_serve``, ``fast_http``, ``fast_websocket``: the fast protocol path
  (``PRESENCE_FAST_PROTOCOL``, on by default): hypercorn's connection ``run`` for
  cleartext HTTP/1.1 and WebSocket, parsed by httptools (llhttp) and framed with the
  ``websockets`` package's C unmasking, the app called in the connection's own task;
  TLS, HTTP/2 and what it does not speak stay on hypercorn's own protocol.
- ``hypercorn_worker``: what hypercorn's parent hands a worker (how many share the port,
  the parent's shutdown event).
- ``engineio_websocket``: python-engineio's ASGI WebSocket, reading an undecodable frame
  as the client closing.
- ``lean_engineio``: python-engineio's socket, request translation and connect handler
  without a task, queue or timer per message, and the slow-consumer bound.
- ``lean_manager``: python-socketio's emits, encoded once, no task per recipient, with a hook
  narrowing who of a room an emit reaches (``recipients``).
- ``bare_events``: python-socketio's dispatch of an event with no arguments and no ack
  (the guide's ``ping``) and its emit with no data to one local socket (the ``pong``),
  encoded and framed once, without its generic layers.
- ``room_index``: python-socketio's rooms of a socket found from the socket on a
  disconnect, not by a scan of every room.
- ``json_codec``: orjson as python-socketio's and engineio's JSON.
- ``socketio_redis_manager`` and ``socketio_cluster_manager``: python-socketio's Redis
  manager on the gateway's clients, a listener that cannot go deaf, sharded channels on a
  cluster; Redis reaches them through the ports they declare (``Publishes``, ``Circuit``),
  which ``adapters/redis`` implements.

Each module's docstring opens with the upstream distribution, version and what it
replaces. The one subclass that stays with its adapter is the gateway's Socket.IO server
(``adapters/socketio/server.py``: the post-CONNECT hook, replies first, held packets),
which also carries the gateway's own frame checks and refusal log.

Every upstream function or class replaced, patched or overridden, here or in that
subclasses, is fingerprinted in ``tests/unit/test_framework_overrides.py``: a release
that changes any of it fails the suite until someone has read the change. So the
versions are pinned below the next minor release in ``pyproject.toml``:
python-socketio <5.19, python-engineio <4.16, hypercorn <0.19, h11 <0.17, wsproto <1.4,
httptools <0.10, websockets <18.
The same test fails if one of these pins loses its upper bound, if a subclass overrides
an upstream method no fingerprint covers, or if code outside this package assigns to a
framework's attributes.
"""
