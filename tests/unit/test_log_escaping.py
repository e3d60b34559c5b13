"""A client-provided string cannot forge a log line or break the handler."""

from __future__ import annotations

import io
import logging

from presence_gateway.entrypoints.process.log_escaping import escape_log_records


def test_every_record_is_one_escaped_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    escape_log_records([handler])
    logger = logging.getLogger("test.escaping")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("Invalid session %s", "x\n2026-01-01 INFO forged")
        logger.warning("user %s", "\ud800\x00\u2028")
        logger.warning("plain %s", "alice")
    finally:
        logger.removeHandler(handler)

    lines = stream.getvalue().splitlines()
    assert lines == ["Invalid session x\\n2026-01-01 INFO forged", "user \\ud800\\x00\\u2028", "plain alice"]
