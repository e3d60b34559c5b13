"""The python-socketio / python-engineio internals the gateway overrides, pinned: if an
upgrade renames or reshapes one, this fails before a hostile client finds out."""

from __future__ import annotations

import inspect

import engineio.async_socket
import socketio

from presence_gateway.adapters.socketio.server import PresenceSocketServer
from presence_gateway.compat.engineio_websocket import GuardedWebSocket


def parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_socketio_dispatch_hooks_keep_their_shape() -> None:
    assert parameters(socketio.AsyncServer._handle_eio_message) == ["self", "eio_sid", "data"]
    assert parameters(socketio.AsyncServer._handle_event) == ["self", "eio_sid", "namespace", "id", "data"]
    # python-socketio still dispatches client-sent reserved names to the server's handlers
    assert "connect" in socketio.base_server.BaseServer.reserved_events


def test_engineio_builds_websockets_from_the_servers_async_table() -> None:
    source = inspect.getsource(engineio.async_socket.AsyncSocket._upgrade_websocket)
    assert "self.server._async['websocket']" in source
    # and still decodes outside its receive loop's try, which is why frames are guarded
    handler = inspect.getsource(engineio.async_socket.AsyncSocket._websocket_handler)
    assert "packet.Packet(encoded_packet=p)" in handler


def test_the_server_serves_websockets_through_the_guard() -> None:
    server = PresenceSocketServer()
    assert issubclass(server.eio._async["websocket"], GuardedWebSocket)


def test_hypercorn_builds_its_websocket_buffer_by_module_name() -> None:
    from hypercorn.protocol import ws_stream

    assert "WebsocketBuffer(config.websocket_max_message_size)" in inspect.getsource(ws_stream.WSStream.__init__)


def test_after_an_overflow_the_buffer_forgets_the_connections_messages() -> None:
    import pytest
    from hypercorn.protocol.ws_stream import FrameTooLargeError
    from wsproto.events import BytesMessage, TextMessage

    from presence_gateway.compat.hypercorn_server import ForgettingWebsocketBuffer

    buffer = ForgettingWebsocketBuffer(10)
    with pytest.raises(FrameTooLargeError):
        buffer.extend(TextMessage(data="x" * 11, message_finished=False))
    buffer.extend(BytesMessage(data=b"rest", message_finished=True))  # hypercorn's own: TypeError
    assert buffer.to_message() == {"type": "websocket.receive", "bytes": None, "text": None}
