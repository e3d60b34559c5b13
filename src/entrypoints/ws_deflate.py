"""WebSocket permessage-deflate, off unless ``PRESENCE_WS_DEFLATE`` turns it on.

hypercorn always accepts the extension when a client offers it (browsers and Node's
``ws`` do), and wsproto's zlib state costs about 110 KiB per connected socket — more than
the rest of a connection — to compress ~100-byte frames. hypercorn has no option for it:
it looks up ``PerMessageDeflate`` in ``hypercorn.protocol.ws_stream`` on every accept, so
that name is replaced by an extension that declines. This must run in the worker process,
which is why the app factory calls it.
"""

from __future__ import annotations

from hypercorn.protocol import ws_stream
from wsproto.extensions import PerMessageDeflate

_ORIGINAL = ws_stream.PerMessageDeflate


class DecliningPerMessageDeflate(PerMessageDeflate):
    def accept(self, offer: str) -> None:  # type: ignore[override]
        return None


def configure_ws_deflate(enabled: bool) -> None:
    ws_stream.PerMessageDeflate = _ORIGINAL if enabled else DecliningPerMessageDeflate  # type: ignore[misc]
