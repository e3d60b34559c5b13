"""Transport bounds every surface shares (the socket server, hypercorn's WebSocket reader,
the polling guard): a leaf module, so the server, the wiring and the app factory read one
number without importing each other."""

from __future__ import annotations

# A frame over this closes the connection; presence frames are ~100 bytes.
MAX_FRAME_BYTES = 64 * 1024
