"""Log lines an operator can ship: text for a terminal, or ``LOG_FORMAT=json`` for one
JSON object per line; and never a secret in either.

Secrets could reach a line through an exception's text (a database URL with its password,
a Redis URL, a token a client sent). So every handler the gateway installs carries a
filter that replaces the configured secrets and anything shaped like a JWT before the line
is written. It runs per line written, not per socket event: the gateway does not log on
its hot path.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import sys
from collections.abc import Iterable

# A JWT: three base64url parts, the first a JSON header ("eyJ" is '{"' encoded).
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
# A password inside a URL: scheme://user:password@host
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+@", re.IGNORECASE)
HIDDEN = "***"
# Fields of a LogRecord that are not extras a caller passed.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, HIDDEN)
    text = _URL_PASSWORD.sub(r"\1" + HIDDEN + "@", text)
    return _JWT.sub("[token]", text)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then hides secrets in the whole line (traceback included)."""

    def __init__(self, fmt: str | None = None, *, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = tuple(s for s in secrets if s and len(s) >= 4)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


class JsonFormatter(RedactingFormatter):
    """One object per line: time, level, logger, message, extras, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return redact(json.dumps(entry, ensure_ascii=False, default=str), self.secrets)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_installed: logging.Handler | None = None


def configure_logging(level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Install the gateway's handler on the root logger, once per process; a second call
    (the app factory after the CLI) updates its format and the secrets it hides. A host
    that configured logging itself keeps its handlers."""
    global _installed
    root = logging.getLogger()
    formatter = JsonFormatter(secrets=secrets) if fmt == "json" else RedactingFormatter(TEXT_FORMAT, secrets=secrets)
    if _installed is not None and _installed in root.handlers:
        _installed.setFormatter(formatter)
    elif not root.handlers:
        _installed = logging.StreamHandler(sys.stderr)
        _installed.setFormatter(formatter)
        root.addHandler(_installed)
        root.setLevel(level)
    logging.getLogger("presence_gateway").setLevel(level)
