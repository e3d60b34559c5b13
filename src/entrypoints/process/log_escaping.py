"""Every log line is one line: control characters in a message (a user id, an Origin
header, an Engine.IO ``sid`` from a query string — all client-provided) are written
escaped, so no client can forge a log line, and a lone surrogate cannot make the handler
fail. Tracebacks are left as they are.

Installed on the handlers the gateway configures; a message that is already printable
(nearly all) costs one ``str.isprintable`` call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F]}
_ESCAPES.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", 0x2028: "\\u2028", 0x2029: "\\u2029"})


def escape_text(text: str) -> str:
    if text.isprintable():
        return text
    escaped = text.translate(_ESCAPES)
    return escaped.encode("utf-8", "backslashreplace").decode("utf-8")


class EscapeControlCharacters(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        escaped = escape_text(message)
        if escaped is not message:
            record.msg, record.args = escaped, None
        return True


def escape_log_records(handlers: Iterable[logging.Handler]) -> None:
    for handler in handlers:
        if not any(isinstance(f, EscapeControlCharacters) for f in handler.filters):
            handler.addFilter(EscapeControlCharacters())


def quiet_socket_libraries() -> None:
    """python-engineio and python-socketio, finding their loggers unset, set them to ERROR
    and give each a handler of its own: every line (a malformed frame's traceback among
    them) was then written twice, once unescaped. Setting the level first keeps their
    records on the root handlers alone."""
    for name in ("engineio.server", "socketio.server"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.ERROR)
