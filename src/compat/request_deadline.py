"""A deadline for each HTTP request as its client sends it, head and whole body, after
which the connection is closed; and the same seconds as the patience given to a client
that stops reading what it is sent.

hypercorn 0.18 bounds only each read, by ``read_timeout`` (60 s here): a request trickled
one byte at a time, each byte inside that timeout, is never cut off, and a few hundred
such connections hold the server's connections and the app's request tasks for as long
as their clients like. The polling transport's POSTs are such requests. Both protocol
paths apply the deadline in the read they already make, so it costs no timer and no task:

- the fast path (``fast_http.HTTPConnection``) times a request from its first byte (or
  from when the previous response was done, for one pipelined behind it) and bounds the
  reads of its head and of its body by what is left;
- hypercorn's own path (``hypercorn_server._read_data``) asks ``reading_request`` after
  each chunk whether h11 is part-way through a request, and bounds the next read alike.

When it passes, the connection is closed as on hypercorn's idle timeout, without an
answer; the app sees its request end (``http.disconnect``). A WebSocket is timed until
its handshake request is whole, then no more (its frames have the heartbeat and the
message bound). Out of scope: HTTP/2 (hypercorn's h2 path, TLS only).

The other direction: an asyncio transport holds what the kernel has not taken, and a
write waits (``drain``) while it holds more than its high-water mark. A client that reads
nothing makes that wait last for ever, holding hypercorn's send lock (so even the
gateway's own close of such a socket never goes out), and ``transport.close()`` keeps
the connection until its buffer is flushed. ``drain`` and ``close`` below give such a
client the deadline's seconds to take something, then reset the connection and free what
it held. A client reading slowly, but reading, is never cut by them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from hypercorn.protocol.h11 import H11Protocol, H11WSConnection

log = logging.getLogger(__name__)

DEFAULT_SECONDS = 10.0
LOG_EVERY = 10.0  # seconds between two lines about reset connections, however many there are
# Bounds of the setting: shorter cuts off honest clients on a slow network; longer lets a
# connection be held nearly as long as the idle read timeout would.
MIN_SECONDS = 0.5
MAX_SECONDS = 60.0


class RequestDeadline:
    """The setting (``PRESENCE_REQUEST_DEADLINE``; None: off) and what it cut, per process."""

    __slots__ = ("_logged", "_logged_at", "expired", "seconds", "stalled")

    def __init__(self, seconds: float | None = DEFAULT_SECONDS) -> None:
        self.seconds = seconds
        self.expired = 0  # requests cut at the deadline
        self.stalled = 0  # connections reset because their client read nothing
        self._logged = 0
        self._logged_at: float | None = None

    def reset_stalled(self, transport: Any) -> None:
        """Reset a connection whose client read nothing for the deadline; said in the log
        at most once per ``LOG_EVERY`` seconds, with how many since the last line."""
        self.stalled += 1
        transport.abort()
        now = asyncio.get_running_loop().time()
        if self._logged_at is None or now - self._logged_at >= LOG_EVERY:
            log.warning(
                "reset %d connection(s) whose client read nothing of its output for %g s",
                self.stalled - self._logged, self.seconds,
            )
            self._logged, self._logged_at = self.stalled, now

    def due(self, started: float | None) -> float | None:
        """The loop time at which a request that began arriving at ``started`` must be whole."""
        if started is None or self.seconds is None:
            return None
        return started + self.seconds

    def next_wait(self, started: float | None, idle: float | None, now: float) -> float | None:
        """Seconds the next read may wait: the idle timeout, or less while a request is
        arriving (0 once its deadline has passed)."""
        due = self.due(started)
        if due is None:
            return idle
        left = max(0.0, due - now)
        return left if idle is None or left < idle else idle


# One per process, set where the app is built (``patch_hypercorn``).
DEADLINE = RequestDeadline()


def reading_request(protocol: Any) -> bool:
    """Whether hypercorn's HTTP/1.1 connection is part-way through receiving a request:
    a head begun but not whole, or a body not yet whole. ``protocol`` is the
    ``ProtocolWrapper`` of a ``TCPServer``."""
    inner = getattr(protocol, "protocol", None)
    if not isinstance(inner, H11Protocol):
        return False  # HTTP/2: not timed here
    connection = inner.connection
    if isinstance(connection, H11WSConnection):
        return False  # a WebSocket now
    state = connection.their_state
    if state is h11.SEND_BODY:
        return True
    return state is h11.IDLE and bool(connection.trailing_data[0])  # a head begun


async def drain(writer: asyncio.StreamWriter) -> None:
    """``writer.drain()``; once what the transport holds has not shrunk for the deadline's
    seconds, the transport is aborted (and the drain raises ``ConnectionResetError``).

    A watchdog timer rather than ``asyncio.timeout``: a write may begin in one task and be
    finished by another (``lean_engineio``), and a timeout cancels the task it began in."""
    transport = writer.transport
    if DEADLINE.seconds is None or transport.get_write_buffer_size() <= transport.get_write_buffer_limits()[1]:
        await writer.drain()  # not paused: returns at once
        return
    watchdog = _Watchdog(transport, DEADLINE.seconds)
    try:
        await writer.drain()
    finally:
        watchdog.cancel()


def close(transport: asyncio.BaseTransport) -> None:
    """``transport.close()``; if what it still holds is not taken within the deadline's
    seconds, the transport is aborted (one timer, only for a connection closed unflushed)."""
    held = transport.get_write_buffer_size()  # type: ignore[attr-defined]
    transport.close()
    if held and DEADLINE.seconds is not None:
        _Watchdog(transport, DEADLINE.seconds)


class _Watchdog:
    """Aborts ``transport`` when what it holds has not shrunk for ``seconds``."""

    __slots__ = ("handle", "held", "seconds", "transport")

    def __init__(self, transport: Any, seconds: float) -> None:
        self.transport = transport
        self.seconds = seconds
        self.held = transport.get_write_buffer_size()
        self.handle = asyncio.get_running_loop().call_later(seconds, self.check)

    def check(self) -> None:
        held = self.transport.get_write_buffer_size()
        if not held:
            return  # flushed, or gone
        if held >= self.held:
            DEADLINE.reset_stalled(self.transport)
            return
        self.held = held  # taking it, however slowly: patience again
        self.handle = asyncio.get_running_loop().call_later(self.seconds, self.check)

    def cancel(self) -> None:
        self.handle.cancel()
