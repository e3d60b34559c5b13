"""Where a Redis failure becomes the core's ``Unavailable``: the store's callers know
nothing of redis-py, and a client is told ``unavailable`` whatever went wrong below.

Two forms, one translation. The socket events' one-script calls already pass through one
``try`` (``RedisPresenceStore._call``), which raises ``unavailable(error)``: nothing is
added per event. The other operations (sweeps, reads, seeding, leases, restore) are
wrapped whole by ``translates_redis_errors``: one more coroutine frame per call, on paths
that run a few times a second at most.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from redis.exceptions import RedisError

from ...domain.errors import Unavailable

P = ParamSpec("P")
R = TypeVar("R")

MESSAGE = "presence store unavailable"


def unavailable(error: RedisError) -> Unavailable:
    """What to raise for a Redis failure, as ``raise ... from error`` would (the cause
    stays in the traceback)."""
    translated = Unavailable(MESSAGE)
    translated.__cause__ = error
    translated.__suppress_context__ = True
    return translated


def translates_redis_errors(operation: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    @wraps(operation)
    async def translated(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await operation(*args, **kwargs)
        except RedisError as error:
            raise unavailable(error) from error

    return translated
