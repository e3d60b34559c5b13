"""hypercorn's WebSocket message buffer, made to forget a message it refused.

hypercorn 0.18 closes a connection whose message passes ``websocket_max_message_size``
(1009), but keeps the partial buffer: the rest of that message, or the next message if it
is of the other kind (text after bytes), then raises ``TypeError`` in hypercorn's reader
and logs a traceback per connection. A hostile client can produce one at will. After an
overflow this buffer drops whatever the connection still sends; the app's next receive
then finds no text and no bytes, which python-engineio reads as the connection ending.

hypercorn builds ``WebsocketBuffer`` by its module-level name for each connection, so the
name is replaced (in the worker process, by the app factory), as ``ws_deflate`` does.
"""

from __future__ import annotations

from hypercorn.protocol import ws_stream
from hypercorn.protocol.ws_stream import FrameTooLargeError, WebsocketBuffer


class ForgettingWebsocketBuffer(WebsocketBuffer):
    overflowed = False

    def extend(self, event) -> None:  # type: ignore[no-untyped-def]
        if self.overflowed:
            return
        try:
            super().extend(event)
        except FrameTooLargeError:
            self.overflowed = True
            self.clear()
            raise


def configure_ws_buffer() -> None:
    ws_stream.WebsocketBuffer = ForgettingWebsocketBuffer  # type: ignore[misc]
