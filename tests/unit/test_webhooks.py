"""Webhooks: the Stripe-like signature, the retry schedule (doubling with jitter up to
5 minutes, given up after ``retry_for`` into the dead letters) measured on the Clock port,
and delivery in stream order, acknowledged only after a 2xx."""

from __future__ import annotations

import hashlib
import hmac
import json

import anyio
import pytest

from presence_gateway.domain.ports import StreamEntry
from presence_gateway.service_layer.webhooks import (
    SIGNATURE_HEADER,
    WebhookDeliverer,
    retry_delay,
    signature,
    verify_signature,
    webhook_body,
)
from tests.fakes import FakeClock

pytestmark = pytest.mark.anyio
SECRET = "whsec-" + "k" * 32


def test_the_signature_is_hmac_sha256_of_the_timestamp_dot_body() -> None:
    body = b'{"id":"1-0","type":"presence.changed"}'

    header = signature(SECRET, 1_800_000_000, body)

    expected = hmac.new(SECRET.encode(), b"1800000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1800000000,v1={expected}"


def test_a_receiver_accepts_a_fresh_signature_and_refuses_anything_else() -> None:
    body = b'{"seq":7}'
    header = signature(SECRET, 1_800_000_000, body)

    assert verify_signature(SECRET, header, body, now=1_800_000_299)
    assert not verify_signature(SECRET, header, body, now=1_800_000_301)  # older than 5 minutes
    assert not verify_signature(SECRET, header, b'{"seq":8}', now=1_800_000_000)
    assert not verify_signature("another secret", header, body, now=1_800_000_000)
    for junk in ("", "t=,v1=", "v1=00", header.replace("t=1800000000", "t=1800000001"), "t=x,v1=" + "0" * 64):
        assert not verify_signature(SECRET, junk, body, now=1_800_000_000)


def test_the_retry_delay_doubles_from_a_second_up_to_five_minutes_with_jitter() -> None:
    most = [retry_delay(attempt, lambda: 1.0) for attempt in range(1, 13)]
    least = [retry_delay(attempt, lambda: 0.0) for attempt in range(1, 13)]

    assert most == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    assert least == [delay / 2 for delay in most]


class Receiver:
    """Answers the statuses it is given in turn (then 200), keeping what it was sent."""

    def __init__(self, clock: FakeClock, answers: list[int | Exception]) -> None:
        self._clock = clock
        self._answers = answers
        self.attempts: list[tuple[float, dict[str, object], str]] = []

    async def post(self, body: bytes, headers: dict[str, str]) -> int:
        self.attempts.append((self._clock.now(), json.loads(body), headers[SIGNATURE_HEADER]))
        answer = self._answers.pop(0) if self._answers else 200
        if isinstance(answer, Exception):
            raise answer
        return answer


class Log:
    """A DeliveryLog in memory: entries owed in order, acknowledged or set aside."""

    def __init__(self, entries: list[StreamEntry], follow_fails: bool = False) -> None:
        self.owed_entries = list(entries)
        self.acked: list[str] = []
        self.dead: list[tuple[str, str]] = []
        self.follow_fails = follow_fails
        self.followed = 0

    async def follow(self) -> None:
        if self.follow_fails:
            raise ConnectionError("the store is away")
        self.followed += 1

    async def lead(self, holder: str, now: float, ttl: float) -> bool:
        return True

    async def owed(self, limit: int) -> list[StreamEntry]:
        return self.owed_entries[:limit]

    async def ack(self, entry_id: str) -> None:
        self.acked.append(entry_id)
        self.owed_entries = [e for e in self.owed_entries if e.id != entry_id]

    async def dead_letter(self, entry: StreamEntry, reason: str) -> None:
        self.dead.append((entry.id, reason))
        await self.ack(entry.id)

    async def pending(self) -> int:
        return len(self.owed_entries)

    async def dead_letters(self, limit: int) -> list[StreamEntry]:
        return []

    async def replay_dead_letters(self, limit: int) -> int:
        return 0


def change(entry_id: str, user: str, seq: int, at: float) -> StreamEntry:
    body: dict[str, object] = {
        "userId": user,
        "status": "ONLINE",
        "previous": "OFFLINE",
        "devices": {"web": "ONLINE"},
        "customStatus": None,
        "seq": seq,
        "timestamp": "2027-01-15T08:00:00.000Z",
        "instance": "a",
    }
    return StreamEntry(entry_id, body, at)


def deliverer(clock: FakeClock, log: Log, receiver: Receiver, retry_for: float = 3600.0) -> WebhookDeliverer:
    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    return WebhookDeliverer(
        log_=log,
        sender=receiver,
        clock=clock,
        secret=SECRET,
        holder="a",
        retry_for=retry_for,
        sleep=sleep,
        draw=lambda: 1.0,
    )


async def test_a_failing_receiver_is_retried_on_the_schedule_and_acknowledged_after_a_2xx() -> None:
    clock = FakeClock()
    start = clock.now()
    log = Log([change("1-0", "u1", 1, start), change("2-0", "u1", 2, start)])
    receiver = Receiver(clock, [500, ConnectionError("refused"), 302, 204])

    settled = await deliverer(clock, log, receiver).round()

    assert settled == 2
    assert [at - start for at, _, _ in receiver.attempts] == [0, 1, 3, 7, 7]
    assert [body["seq"] for _, body, _ in receiver.attempts] == [1, 1, 1, 1, 2]
    assert log.acked == ["1-0", "2-0"]
    for at, body, header in receiver.attempts:
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        assert verify_signature(SECRET, header, raw, now=at)


async def test_a_change_given_up_after_an_hour_of_retries_goes_to_the_dead_letters_and_the_next_goes_on() -> None:
    clock = FakeClock()
    start = clock.now()
    log = Log([change("1-0", "u1", 1, start), change("2-0", "u2", 1, start)])
    receiver = Receiver(clock, [503] * 30)

    await deliverer(clock, log, receiver, retry_for=3600.0).round()

    first = [at for at, body, _ in receiver.attempts if body["userId"] == "u1"]
    later = [at for at, body, _ in receiver.attempts if body["userId"] == "u2"]
    assert log.dead == [("1-0", "HTTP 503")]
    assert log.acked == ["1-0", "2-0"]
    assert len(later) == 11  # its own hour: 10 failures and a success
    assert first[-1] - start <= 3600 < first[-1] - start + 300  # retried until the hour was up
    assert len(first) == 20  # after 1, 2, 4 … 256 s, then every 300 s until the hour is up
    assert receiver.attempts[-1][1]["userId"] == "u2"


async def test_a_change_appended_after_a_newer_one_of_the_same_user_is_acknowledged_unsent() -> None:
    """Two instances changing one user at once can append in the other order than their
    seqs: the receiver still sees the user's seq only grow, and other users are untouched."""
    clock = FakeClock()
    start = clock.now()
    log = Log([change("1-0", "u1", 7, start), change("2-0", "u1", 6, start), change("3-0", "u2", 1, start),
               change("4-0", "u1", 8, start)])
    receiver = Receiver(clock, [])
    sending = deliverer(clock, log, receiver)

    await sending.round()

    assert [(body["userId"], body["seq"]) for _, body, _ in receiver.attempts] == [("u1", 7), ("u2", 1), ("u1", 8)]
    assert log.acked == ["1-0", "2-0", "3-0", "4-0"]
    assert sending.outcomes["superseded"] == 1


@pytest.mark.parametrize("away", [False, True], ids=["store-up", "store-away"])
async def test_the_consumer_group_is_made_before_the_gateway_is_ready(away: bool, caplog) -> None:
    """The changes of a client that connects the moment the gateway is ready are owed: the
    group is made before the deliverer reports started, not at its first lead. A store
    away at start does not stop the start."""
    clock = FakeClock()
    log = Log([], follow_fails=away)
    idle = WebhookDeliverer(
        log_=log, sender=Receiver(clock, []), clock=clock, secret=SECRET, holder="a", sleep=lambda _: anyio.sleep(0)
    )
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            await tg.start(idle.run)
            assert log.followed == (0 if away else 1)
            scope.cancel()
    assert ("could not be made at start" in caplog.text) == away


def test_the_body_is_the_documented_shape() -> None:
    body = json.loads(webhook_body(change("5-1", "u1", 9, 0.0)))

    assert body == {
        "id": "5-1",
        "type": "presence.changed",
        "userId": "u1",
        "status": "ONLINE",
        "previous": "OFFLINE",
        "devices": {"web": "ONLINE"},
        "customStatus": None,
        "seq": 9,
        "timestamp": "2027-01-15T08:00:00.000Z",
    }
