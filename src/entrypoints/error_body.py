"""The body of every refusal a client gets — an ``error`` event, an acknowledgement, an
HTTP reply — ``{code, message}``, the code stable (``domain/errors.py``). A failure that
is not one of the core's errors is a bug or a library's surprise: it is logged here with
its traceback and the client is told ``internal``, with no detail of it."""

from __future__ import annotations

import logging

from ..domain.errors import PresenceError

log = logging.getLogger(__name__)


def error_body(error: BaseException, failed: str = "a request") -> dict[str, str]:
    """``failed`` names what failed, for the log line of an unexpected error."""
    if not isinstance(error, PresenceError):
        log.error("%s failed", failed, exc_info=error)
        error = PresenceError()
    return {"code": error.code, "message": error.message}
