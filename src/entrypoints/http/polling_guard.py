"""Polling POST bodies, bounded before python-engineio sees them.

python-engineio reads a polling body whole, whatever its length says, and on a body over
its limit it closes the session waiting for a client that is not polling: the POST was
never answered (65 537 bytes were enough). Here a POST to the Engine.IO path must say its
length (browsers and socket.io clients do) and stay within the limit: 411 or 413 at once,
and the body is not read.
"""

from __future__ import annotations

from typing import Any


def polling_post_refusal(scope: dict[str, Any], limit: int) -> tuple[int, bytes] | None:
    """The status and message for a POST this gateway will not read, or None."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            if not value.isdigit():
                return 400, b"invalid Content-Length"
            if int(value) > limit:
                return 413, b"body too large"
            return None
    return 411, b"Content-Length required"


async def send_refusal(send: Any, status: int, message: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(message)).encode()),
                        (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": message})
