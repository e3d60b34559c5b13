"""Webhooks: each change of the change stream POSTed, signed, to the operator's URL.

At-least-once: delivery reads the stream through a consumer group (``DeliveryLog``) and
acknowledges an entry after the receiver answered 2xx, so an entry read and not
acknowledged — a gateway killed mid-retry, a receiver down — is delivered again by whoever
delivers next. One instance delivers at a time (it holds the lead), one entry after the
other in stream order. Two instances changing one user at the same moment can append
their changes to the stream in the other order than their ``seq``s; the older one is then
acknowledged unsent (counted ``superseded``), so a receiver sees each user's ``seq`` only
grow. A failing entry is
retried with exponential backoff and jitter (1 s, 2 s, 4 s … up to 5 min) until
``retry_for`` has passed since its first attempt; then it is set aside in the dead letters
(an operator replays them) and delivery goes on. Waits are measured on the ``Clock`` port;
nothing here is held in memory beyond one batch of entries.

The signature is Stripe's scheme: ``Presence-Signature: t=<unix seconds>,v1=<hex
HMAC-SHA256 of "<t>.<body>">``; a receiver recomputes it and refuses a ``t`` older than 5 minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import anyio

from ..domain.errors import Unavailable
from ..domain.ports import Clock, DeliveryLog, StreamEntry

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Presence-Signature"
EVENT_TYPE = "presence.changed"
FIRST_RETRY = 1.0
LONGEST_RETRY = 300.0
BATCH = 100
IDLE_POLL = 0.2  # seconds between looks at the stream when nothing is owed
TOLERANCE = 300  # what receivers are told to accept (docs/server-api.md)
SEQS_KEPT = 100_000  # users whose last delivered seq is remembered (the least recent forgotten)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, now: float, tolerance: float = TOLERANCE) -> bool:
    """What a receiver does (the docs' example does the same): a valid ``v1`` for ``t``,
    and ``t`` no older than ``tolerance`` seconds."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    timestamp = parts.get("t", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    expected = signature(secret, int(timestamp), body).rsplit("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def retry_delay(attempt: int, draw: Callable[[], float] = random.random) -> float:
    """The wait before retry ``attempt`` (1, 2, …): doubling from 1 s up to 5 min, each
    drawn between half and all of it (jitter, so receivers coming back are not stampeded)."""
    ceiling = min(LONGEST_RETRY, FIRST_RETRY * 2 ** (attempt - 1))
    return ceiling * (0.5 + draw() / 2)


def webhook_body(entry: StreamEntry) -> bytes:
    b = entry.body
    return json.dumps(
        {
            "id": entry.id,
            "type": EVENT_TYPE,
            "userId": b.get("userId"),
            "status": b.get("status"),
            "previous": b.get("previous"),
            "devices": b.get("devices", {}),
            "customStatus": b.get("customStatus"),
            "seq": b.get("seq"),
            "timestamp": b.get("timestamp"),
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


class WebhookSender(Protocol):
    async def post(self, body: bytes, headers: dict[str, str]) -> int:
        """The receiver's HTTP status; raises on no answer (refused, timed out)."""


class WebhookDeliverer:
    def __init__(
        self,
        *,
        log_: DeliveryLog,
        sender: WebhookSender,
        clock: Clock,
        secret: str,
        holder: str,
        retry_for: float = 3600.0,
        lead_ttl: float = 10.0,
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._log = log_
        self._sender = sender
        self._clock = clock
        self._secret = secret
        self._holder = holder
        self.retry_for = retry_for
        self._lead_ttl = lead_ttl
        self._sleep = sleep
        self._draw = draw
        # Read by the metrics collector.
        self.outcomes: dict[str, int] = {"delivered": 0, "failed": 0, "dead": 0, "superseded": 0}
        # user id -> the highest seq delivered (or given up) this lead, least recent first.
        self._delivered: dict[str, int] = {}
        self.depth = 0
        self.leading = False

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Owes every change made once the gateway is ready: the consumer group is made
        before it is (on a busy machine the first lead came after a client's first
        changes, and a group made then skipped them). A store away at start delays that
        to the first lead; it does not stop the start."""
        try:
            await self._log.follow()
        except Exception as error:
            log.warning("webhooks: the consumer group could not be made at start (%r); made at the first lead", error)
        task_status.started()
        while True:
            try:
                delivered = await self.round()
            except Unavailable as error:
                log.warning("webhooks: the change stream is unavailable (%s); retrying", error)
                delivered = 0
            except Exception:
                log.exception("webhooks: a delivery round failed; retrying")
                delivered = 0
            if not delivered:
                await self._sleep(IDLE_POLL if self.leading else self._lead_ttl / 3)

    async def _hold_lead(self) -> bool:
        self.leading = await self._log.lead(self._holder, self._clock.now(), self._lead_ttl)
        return self.leading

    async def round(self) -> int:
        """Deliver what is owed, oldest first; how many entries were settled."""
        if not await self._hold_lead():
            return 0
        entries = await self._log.owed(BATCH)
        self.depth = await self._log.pending()
        settled = 0
        for entry in entries:
            if not await self.settle(entry):
                break  # the lead was lost: the new leader goes on from this entry
            settled += 1
        return settled

    async def settle(self, entry: StreamEntry) -> bool:
        """Deliver one entry, retrying until it is delivered or given up; False when the
        lead was lost meanwhile (the entry stays owed, unacknowledged)."""
        user, seq = entry.body.get("userId"), entry.body.get("seq")
        if not (isinstance(user, str) and isinstance(seq, int)):
            user, seq = None, None
        elif seq <= self._delivered.get(user, -1):
            self.outcomes["superseded"] += 1
            await self._log.ack(entry.id)
            return True
        body = webhook_body(entry)
        attempt = 0
        # The window starts at the first attempt, not at the append: a change that waited
        # behind a failing one still gets its hour.
        first = self._clock.now()
        while True:
            attempt += 1
            if not await self._hold_lead():
                return False  # another instance delivers now: never two at once, nor out of order
            outcome = await self._attempt(body)
            if outcome is None:
                self.outcomes["delivered"] += 1
                await self._log.ack(entry.id)
                self._passed(user, seq)
                return True
            self.outcomes["failed"] += 1
            due = self._clock.now() + retry_delay(attempt, self._draw)
            if due - first > self.retry_for:
                self.outcomes["dead"] += 1
                log.warning("webhook for change %s gave up after %d attempts (%s): kept in the dead letters",
                            entry.id, attempt, outcome)
                await self._log.dead_letter(entry, outcome)
                self._passed(user, seq)
                return True
            if attempt in (1, 5) or attempt % 20 == 0:
                log.warning("webhook for change %s failed (%s), attempt %d; retrying", entry.id, outcome, attempt)
            if not await self._wait_until(due):
                return False

    def _passed(self, user: str | None, seq: int | None) -> None:
        if user is None or seq is None:
            return
        self._delivered.pop(user, None)
        self._delivered[user] = seq
        if len(self._delivered) > SEQS_KEPT:
            del self._delivered[next(iter(self._delivered))]

    async def _attempt(self, body: bytes) -> str | None:
        """None when delivered (2xx), else what went wrong."""
        timestamp = int(self._clock.now())
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(self._secret, timestamp, body)}
        try:
            status = await self._sender.post(body, headers)
        except Exception as error:
            return f"no answer: {type(error).__name__}"
        return None if 200 <= status < 300 else f"HTTP {status}"

    async def _wait_until(self, due: float) -> bool:
        """Wait on the clock until ``due``, holding the lead meanwhile; False if it was lost."""
        while (left := due - self._clock.now()) > 0:
            await self._sleep(min(left, self._lead_ttl / 3))
            if not await self._hold_lead():
                return False
        return True
