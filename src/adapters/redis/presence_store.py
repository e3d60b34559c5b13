"""The presence store on Redis, shared by every gateway instance: every role of
``domain/ports.py``.

Each socket-event operation is one EVALSHA of a script from ``scripts.py`` (loaded at
start; redis-py reloads it on NOSCRIPT), so it costs one round trip and is atomic across
instances. Sweeps (expiry, grace, decay, a dead instance's sessions) read an index, then
apply the due items in one pipeline: two round trips per batch. A Redis failure reaches
the caller as ``Unavailable`` (``unavailable.py``).

With a cluster layout (``RedisKeys(cluster=True)``) the shared indexes are split into
buckets (keys.py): a socket event still runs one script, on the slot of the user's bucket;
the sweeps read every bucket in one pipeline (one round trip per primary on a cluster), and
the shared ones (graces, decays) claim each bucket for one instance at a time, so two
instances never sweep the same bucket together, and a bucket that fails leaves the others
swept.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, Callable, Iterable, Sequence
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError, RedisError

from ...domain.ports import Clock, DueCustom, DueDecay, Expired, HeldSession, Renewal, Seed, SessionMeta, UserTransition
from ...domain.presence import Choice, Transition, Update, UserState
from ...domain.rich_presence import CustomStatus, ShownDecays
from ...domain.statuses import ONLINE
from ..clock import SystemClock
from . import scripts
from .keys import RedisKeys, split_member
from .unavailable import translates_redis_errors, unavailable

log = logging.getLogger(__name__)

# After its last session's TTL, a user's socket set and online flag linger this long, so
# the sweeper (not Redis) ends the session and the change is announced.
USER_KEYS_LINGER = 60.0
# A user known to have chosen nothing is remembered for this long after their last visit.
NO_CHOICE_TTL = 30 * 86400.0
# How long the notes of a restore live: the instance's "sessions are in" marker (renewed by
# every check, at least every few minutes; it outlives a killed instance by no more) and
# each user's restored-choice note (long enough for every instance to restore after the
# same loss).
RESTORED_MARKER_TTL = 600.0
RESTORED_CHOICE_TTL = 60.0
BATCH = 500
STATES_BATCH = 1000  # users per STATES call: about a millisecond of Redis time
LEAVING_TTL_MS = 86_400_000
# A bucket of the shared indexes is swept by the instance that claimed it; the claim lapses
# this long after its last sweep, so a survivor takes over a bucket of a dead instance.
BUCKET_CLAIM_TTL = 2.0


class BucketCountMismatch(RuntimeError):
    """The data in Redis was written with another bucket count: its users' keys are under
    other hash tags, so the gateway refuses to start rather than lose them (docs/redis.md)."""


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def _ms_or_blank(seconds: float | None) -> int | str:
    return "" if seconds is None else _ms(seconds)


def _flag(remember: bool) -> str:
    return "1" if remember else "0"


def _choice(chosen: str, remembered: str) -> Choice | None:
    return Choice(chosen, remembered == "1") if chosen else None


def _pairs(claimed: list[Any]) -> list[tuple[str, int]]:
    return [(member, int(float(due))) for member, due in zip(claimed[0::2], claimed[1::2], strict=False)]


def _partial(answered: list[tuple[int, Any]], failed: dict[int, BaseException]) -> list[tuple[int, Any]]:
    """The buckets that answered; those that failed are logged (all failing raises)."""
    if failed:
        first = next(iter(failed.values()))
        if not answered:
            raise first
        log.warning("presence buckets %s did not answer (%r); the others were swept", sorted(failed), first)
    return answered


def _sockets(packed: str | bytes) -> tuple[tuple[str, str], ...]:
    """'device US state' joined by RS (scripts.py) as (device, state) pairs."""
    if isinstance(packed, bytes):
        packed = packed.decode()
    pairs = (item.split("\x1f", 1) for item in packed.split("\x1e") if item)
    return tuple((pair[0], pair[1]) for pair in pairs if len(pair) == 2)


def _packed_custom(custom: CustomStatus | None) -> tuple[str, int | str]:
    """The custom status as the scripts keep it ('text US emoji US expires ms'), and its
    expiry in ms ('' for none)."""
    if custom is None:
        return "", ""
    expires = _ms_or_blank(custom.expires_at)
    return f"{custom.text}\x1f{custom.emoji or ''}\x1f{expires}", expires


def _custom(packed: str | bytes) -> CustomStatus | None:
    if isinstance(packed, bytes):
        packed = packed.decode()
    if not packed:
        return None
    text, _, rest = packed.partition("\x1f")
    emoji, _, expires = rest.partition("\x1f")
    return CustomStatus(text, emoji or None, int(expires) / 1000 if expires else None)


def _transition(reply: list[Any]) -> Transition:
    (
        before, after, c1, r1, c2, r2, known, lingering_before, lingering_after, sockets_before, sockets_after, seq,
        custom_before, custom_after,
    ) = reply
    known_flag = bool(int(known))
    seq_after = int(seq)
    return Transition(
        UserState(
            int(before), _choice(c1, r1), known_flag, bool(int(lingering_before)), _sockets(sockets_before),
            custom=_custom(custom_before),
        ),
        UserState(
            int(after), _choice(c2, r2), known_flag, bool(int(lingering_after)), _sockets(sockets_after), seq_after,
            _custom(custom_after),
        ),
    )


def _state_line(line: str) -> UserState:
    count, chosen, remembered, known, lingering, seq, sockets, custom = line.split("\t")
    return UserState(
        int(count), _choice(chosen, remembered), known == "1", lingering == "1", _sockets(sockets), int(seq),
        _custom(custom),
    )


class RedisPresenceStore:
    def __init__(
        self,
        redis: Redis,
        *,
        instance: str,
        session_ttl: float,
        hidden_statuses: Iterable[str],
        keys: RedisKeys | None = None,
        events: Any = None,
        clock: Clock | None = None,
        shown_decays: ShownDecays | None = None,
    ) -> None:
        self._redis = redis
        # A decay of the shown status falls due from the clock's now (the event's own).
        self._clock = clock or SystemClock()
        self._shown_decays = shown_decays or ShownDecays()
        # The one-call operations go through ``events`` when given (pipelined.py says why).
        self._events = events
        self._keys = keys or RedisKeys()
        self.instance = instance
        self._index = self._keys.instance_sessions(instance)
        self._session_ttl = _ms(session_ttl)
        self._user_ttl = _ms(session_ttl + USER_KEYS_LINGER)
        self._choice_ttl = _ms(NO_CHOICE_TTL)
        self._hidden = " " + " ".join(sorted(hidden_statuses)) + " "
        self._decays = self._keys.decays()
        self._graces = self._keys.graces()
        self._customs = self._keys.customs()
        self._epoch = self._keys.epoch()
        self._instances = self._keys.instances()
        # The cluster layout: each bucket's index keys, and the instance-wide keys under
        # bucket 0's tag; one Redis keeps the names above and the code paths of before.
        keys = self._keys
        self._bucketed = keys.cluster
        self._buckets = range(keys.buckets)
        self._many_nodes = isinstance(redis, RedisCluster)
        if self._bucketed:
            self._instances = keys.instance_registry()
            self._per_bucket = [
                (
                    keys.bucket_instance_sessions(instance, b), keys.bucket_epoch(b), keys.bucket_decays(b),
                    keys.bucket_graces(b), keys.bucket_customs(b),
                )
                for b in self._buckets
            ]
            self._session_keys: Callable[..., list[str]] = self._bucket_session_keys
        else:
            self._session_keys = self._plain_session_keys
        self._scripts: dict[str, Any] = {}
        for name in (
            "REGISTER", "RENEW", "CHOOSE", "END", "EXPIRE", "FINISH_GRACE", "ADOPT", "CLAIM_DUE",
            "DECAY", "SEED", "RENEW_LEASE", "RELEASE_LEASE", "CLAIM_INSTANCE",
            "RESTORE", "CLAIM_BUCKET_DUE", "CLEAR_CUSTOM", "IMPOSE",
        ):
            self._scripts[name] = redis.register_script(getattr(scripts, name))
        self._scripts["STATES"] = redis.register_script(scripts.STATES)

    async def load_scripts(self) -> None:
        """SCRIPT LOAD at start, so the first event is one EVALSHA, not a NOSCRIPT retry.
        With a cluster layout, also checks the bucket count the data was written with."""
        if self._many_nodes:  # SCRIPT LOAD goes to every primary; no pipeline spans them
            for script in self._scripts.values():
                await self._redis.script_load(script.script)
        else:
            async with self._redis.pipeline(transaction=False) as pipe:
                for script in self._scripts.values():
                    pipe.script_load(script.script)
                await pipe.execute()
        if self._bucketed:
            await self._check_bucket_count()

    async def _check_bucket_count(self) -> None:
        key = self._keys.bucket_count()
        wanted = len(self._buckets)
        await self._redis.set(key, wanted, nx=True)
        stored = await self._redis.get(key)
        if stored is not None and int(stored) != wanted:
            raise BucketCountMismatch(
                f"PRESENCE_REDIS_BUCKETS={wanted}, but Redis holds presence written with {int(stored)} buckets "
                f"({key}); start with {int(stored)}, or move the keys first (docs/redis.md)"
            )

    async def _call(self, name: str, keys: list[str], args: list[Any]) -> Any:
        script = self._scripts[name]
        try:
            if self._events is not None:
                return await self._events.evalsha(script.sha, script.script, keys, args)
            return await script(keys=keys, args=args)
        except RedisError as error:
            raise unavailable(error) from error

    async def _pipelined(self, name: str, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        """Many calls of one script in one round trip (plain EVALSHA: redis-py's script
        objects would add a SCRIPT EXISTS round trip to every pipeline)."""
        sha = self._scripts[name].sha

        async def run() -> list[Any]:
            async with self._redis.pipeline(transaction=False) as pipe:
                for keys, args in calls:
                    pipe.execute_command("EVALSHA", sha, len(keys), *keys, *args)
                return await pipe.execute()

        try:
            return await run()
        except NoScriptError:  # Redis restarted and lost its scripts
            await self.load_scripts()
            return await run()

    # ---------------------------------------------------------------- session events

    def _plain_session_keys(self, user_id: str, session_id: str, instance: str | None = None) -> list[str]:
        k = self._keys
        index = self._index if instance is None else k.instance_sessions(instance)
        return [
            k.session(user_id, session_id), k.sockets(user_id), k.online(user_id), k.choice(user_id),
            index, self._epoch, self._decays, k.leaving(user_id), self._graces, k.devices(user_id),
        ]

    def _bucket_session_keys(self, user_id: str, session_id: str, instance: str | None = None) -> list[str]:
        bucket, session, sockets, online, choice, leaving, devices = self._keys.user_session(user_id, session_id)
        own, epoch, decays, graces, _ = self._per_bucket[bucket]
        index = own if instance is None else self._keys.bucket_instance_sessions(instance, bucket)
        return [session, sockets, online, choice, index, epoch, decays, leaving, graces, devices]

    def _decays_of(self, user_id: str) -> str:
        return self._per_bucket[self._keys.bucket(user_id)][2] if self._bucketed else self._decays

    def _graces_of(self, user_id: str) -> str:
        return self._per_bucket[self._keys.bucket(user_id)][3] if self._bucketed else self._graces

    def _customs_of(self, user_id: str) -> str:
        return self._per_bucket[self._keys.bucket(user_id)][4] if self._bucketed else self._customs

    def _session_args(self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float) -> list[Any]:
        return [
            user_id, session_id, _ms(expires_at), self._session_ttl, self._user_ttl,
            meta.device, _ms(meta.connected_at), meta.ip, self.instance, self._hidden,
        ]

    def _shown_order(self) -> str:
        """The shown decays as the scripts take them (``follow_devices``), due from now."""
        order = self._shown_decays.order
        if not order:
            return ""
        now = self._clock.now()
        return "\x1e".join(f"{name}\x1f{_ms_or_blank(None if after is None else now + after)}" for name, after in order)

    def _end_args(self, user_id: str, session_id: str) -> list[Any]:
        return [user_id, session_id, self._user_ttl, self._hidden, self._choice_ttl]

    async def register(self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float) -> Transition:
        args = [*self._session_args(user_id, session_id, meta, expires_at), self._shown_order()]
        reply = await self._call("REGISTER", self._session_keys(user_id, session_id), args)
        return _transition(reply)

    async def touch(self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float) -> Transition:
        return await self.register(user_id, session_id, meta, expires_at)

    @translates_redis_errors
    async def renew_many(self, renewals: Sequence[Renewal]) -> list[bool]:
        if not renewals:
            return []
        calls = [
            (
                self._session_keys(r.user_id, r.session_id),
                [r.user_id, r.session_id, _ms(r.expires_at), self._session_ttl, self._user_ttl, "", 0, "",
                 self.instance, self._hidden],
            )
            for r in renewals
        ]
        return [bool(reply) for reply in await self._pipelined("RENEW", calls)]

    async def choose(
        self,
        user_id: str,
        session_id: str,
        meta: SessionMeta,
        choice: Choice | None,
        expires_at: float,
        decays_at: float | None = None,
        socket_state: str | None = ONLINE,
        custom: CustomStatus | None = None,
        set_custom: bool = False,
    ) -> Transition:
        args = self._session_args(user_id, session_id, meta, expires_at)
        chosen, remembered = (choice.status, _flag(choice.remember)) if choice is not None else ("", "0")
        packed, expires = _packed_custom(custom)
        args += [
            chosen, remembered, self._choice_ttl, _ms_or_blank(decays_at), socket_state or "",
            _flag(set_custom), packed, expires, self._shown_order(),
        ]
        keys = [*self._session_keys(user_id, session_id), self._customs_of(user_id)]
        return _transition(await self._call("CHOOSE", keys, args))

    async def end(self, user_id: str, session_id: str, grace_until: float | None = None) -> Transition:
        # The leaving marker outlives any grace, so a late sweep still finds it.
        args = [*self._end_args(user_id, session_id), _ms_or_blank(grace_until), LEAVING_TTL_MS, self._shown_order()]
        return _transition(await self._call("END", self._session_keys(user_id, session_id), args))

    async def adopt_choice(
        self, user_id: str, choice: Choice | None, decays_at: float | None = None, custom: CustomStatus | None = None
    ) -> UserState:
        k = self._keys
        keys = [
            k.sockets(user_id), k.choice(user_id), k.online(user_id), self._decays_of(user_id), k.devices(user_id),
            self._customs_of(user_id),
        ]
        chosen, remembered = (choice.status, _flag(choice.remember)) if choice else ("", "0")
        args = [
            chosen, remembered, self._hidden, self._user_ttl, self._choice_ttl, _ms_or_blank(decays_at), user_id,
            *_packed_custom(custom),
        ]
        return _transition(await self._call("ADOPT", keys, args)).after

    async def impose(self, user_id: str, update: Update) -> Transition:
        """The server API's status and custom status, connected or not (scripts.IMPOSE)."""
        k = self._keys
        keys = [
            k.sockets(user_id), k.choice(user_id), k.online(user_id), self._decays_of(user_id), k.devices(user_id),
            k.leaving(user_id), self._customs_of(user_id),
        ]
        choice = update.choice
        chosen, remembered = (choice.status, _flag(choice.remember)) if choice else ("", "0")
        args = [
            chosen, remembered, self._hidden, self._user_ttl, self._choice_ttl,
            _ms_or_blank(update.decays_at), user_id, _flag(choice is not None), _flag(update.set_custom),
            *_packed_custom(update.custom),
        ]
        return _transition(await self._call("IMPOSE", keys, args))

    @translates_redis_errors
    async def end_grace(self, user_id: str) -> Transition | None:
        """The user's offline grace ends now (the server API's disconnect): FINISH_GRACE
        with the marker's own value, so a reconnect meanwhile (no marker) wins."""
        k = self._keys
        due = await self._redis.get(k.leaving(user_id))
        if due is None:
            return None
        keys = [
            k.sockets(user_id), k.online(user_id), k.choice(user_id), k.leaving(user_id),
            self._graces_of(user_id), k.devices(user_id),
        ]
        reply = await self._call("FINISH_GRACE", keys, [user_id, due, self._hidden, self._user_ttl, self._choice_ttl])
        return None if reply is None else _transition(reply)

    def graces_of(self, user_id: str) -> str:
        return self._graces_of(user_id)

    def session_indexes(self, instance: str) -> list[str]:
        """Every key of an instance's session index (one per bucket in the cluster layout)."""
        if self._bucketed:
            return [self._keys.bucket_instance_sessions(instance, b) for b in self._buckets]
        return [self._keys.instance_sessions(instance)]

    @property
    def instance_registry(self) -> str:
        return self._instances

    @property
    def session_ttl(self) -> float:
        return self._session_ttl / 1000

    @translates_redis_errors
    async def states(self, user_ids: Sequence[str]) -> list[UserState]:
        """One round trip: the STATES script per thousand users, pipelined (Redis serves
        other clients between them). One script for many users, not one call each: the
        per-call cost of EVALSHA and of parsing its reply made 1000 users take 60 ms."""
        if not user_ids:
            return []
        if self._bucketed:
            return await self._bucket_states(user_ids)
        k = self._keys
        calls: list[tuple[list[str], list[Any]]] = []
        for start in range(0, len(user_ids), STATES_BATCH):
            keys = [self._epoch]
            for user_id in user_ids[start : start + STATES_BATCH]:
                keys += (k.sockets(user_id), k.choice(user_id), k.leaving(user_id), k.devices(user_id))
            calls.append((keys, []))
        return [_state_line(line) for reply in await self._pipelined("STATES", calls) for line in reply.split("\n")]

    async def _bucket_states(self, user_ids: Sequence[str]) -> list[UserState]:
        """STATES per bucket (a script touches one slot), all in one pipeline: one round
        trip per primary, the primaries asked together."""
        k = self._keys
        by_bucket: dict[int, list[int]] = {}
        for position, user_id in enumerate(user_ids):
            by_bucket.setdefault(k.bucket(user_id), []).append(position)
        calls: list[tuple[list[str], list[Any]]] = []
        order: list[int] = []
        for bucket, positions in by_bucket.items():
            for start in range(0, len(positions), STATES_BATCH):
                keys = [self._per_bucket[bucket][1]]
                for position in positions[start : start + STATES_BATCH]:
                    user_id = user_ids[position]
                    keys += (k.sockets(user_id), k.choice(user_id), k.leaving(user_id), k.devices(user_id))
                    order.append(position)
                calls.append((keys, []))
        states: list[UserState | None] = [None] * len(user_ids)
        lines = (line for reply in await self._pipelined("STATES", calls) for line in reply.split("\n"))
        for position, line in zip(order, lines, strict=False):
            states[position] = _state_line(line)
        return states  # type: ignore[return-value]

    # ---------------------------------------------------------------- buckets

    async def _each_bucket(
        self, command: Callable[[Any, int], Any], buckets: Sequence[int] | None = None
    ) -> tuple[list[tuple[int, Any]], dict[int, BaseException]]:
        """One command per bucket in one pipeline: the buckets that answered, with their
        reply, and those that failed, with their error."""
        chosen = self._buckets if buckets is None else buckets
        async with self._redis.pipeline(transaction=False) as pipe:
            for bucket in chosen:
                command(pipe, bucket)
            replies = await pipe.execute(raise_on_error=False)
        answered: list[tuple[int, Any]] = []
        failed: dict[int, BaseException] = {}
        for bucket, reply in zip(chosen, replies, strict=False):
            if isinstance(reply, BaseException):
                failed[bucket] = reply
            else:
                answered.append((bucket, reply))
        return answered, failed

    async def _swept(self, command: Callable[[Any, int], Any]) -> list[tuple[int, Any]]:
        """``_each_bucket`` for a sweep: a failed bucket is logged and left for the next
        round, the others are swept; all failing is Redis unavailable."""
        answered, failed = await self._each_bucket(command)
        return _partial(answered, failed)

    # ---------------------------------------------------------------- sweeps

    @translates_redis_errors
    async def expire_due(self, now: float, limit: int) -> list[Expired]:
        """This instance's own sessions: no other instance sweeps them while it lives."""
        if self._bucketed:
            due = _ms(now)
            answered = await self._swept(
                lambda pipe, b: pipe.zrangebyscore(
                    self._per_bucket[b][0], "-inf", due, start=0, num=limit, withscores=True
                )
            )
            # The most overdue first, as from one index; the rest stay for the next batch.
            overdue = sorted((item for _, found in answered for item in found), key=lambda item: item[1])
            members = [member for member, _ in overdue[:limit]]
        else:
            members = await self._redis.zrangebyscore(self._index, "-inf", _ms(now), start=0, num=limit)
        return await self._end_sessions([split_member(m) for m in members], "EXPIRE", [_ms(now), self._shown_order()])

    async def _end_sessions(
        self, candidates: list[tuple[str, str]], script: str, extra: list[Any], instance: str | None = None
    ) -> list[Expired]:
        if not candidates:
            return []
        calls = [
            (self._session_keys(user_id, session_id, instance), [*self._end_args(user_id, session_id), *extra])
            for user_id, session_id in candidates
        ]
        replies = await self._pipelined(script, calls)
        return [
            Expired(user_id, session_id, _transition(reply))
            for (user_id, session_id), reply in zip(candidates, replies, strict=False)
            if reply is not None
        ]

    async def _claim(self, index: str, now: float, limit: int) -> list[tuple[str, int]]:
        if self._bucketed:
            return await self._claim_buckets(index, now, limit)
        claimed = await self._call("CLAIM_DUE", [index], [_ms(now), limit])
        return _pairs(claimed)

    async def _claim_buckets(self, kind: str, now: float, limit: int) -> list[tuple[str, int]]:
        """Up to ``limit`` due items of each bucket this instance holds (or now claims)
        for ``kind``; buckets another instance holds are skipped this round."""
        sha = self._scripts["CLAIM_BUCKET_DUE"].sha
        position = {"decays": 2, "graces": 3, "customs": 4}[kind]
        args = [_ms(now), limit, self.instance, _ms(BUCKET_CLAIM_TTL)]
        k = self._keys

        def claim(pipe: Any, bucket: int) -> None:
            pipe.execute_command("EVALSHA", sha, 2, k.sweep_claim(kind, bucket), self._per_bucket[bucket][position], *args)

        answered, failed = await self._each_bucket(claim)
        # A primary that restarted lost its scripts: those buckets again, the others' items
        # are already claimed (removed) and are kept.
        lost = [bucket for bucket, error in failed.items() if isinstance(error, NoScriptError)]
        if lost:
            await self.load_scripts()
            more, still = await self._each_bucket(claim, lost)
            answered += more
            failed = {**{b: e for b, e in failed.items() if b not in lost}, **still}
        answered = _partial(answered, failed)
        return [pair for _, claimed in answered if claimed for pair in _pairs(claimed)]

    @translates_redis_errors
    async def settle_due_graces(self, now: float, limit: int) -> list[UserTransition]:
        claimed = await self._claim("graces" if self._bucketed else self._graces, now, limit)
        k = self._keys
        calls = [
            (
                [
                    k.sockets(user_id), k.online(user_id), k.choice(user_id), k.leaving(user_id),
                    self._graces_of(user_id), k.devices(user_id),
                ],
                [user_id, due, self._hidden, self._user_ttl, self._choice_ttl],
            )
            for user_id, due in claimed
        ]
        replies = await self._pipelined("FINISH_GRACE", calls) if calls else []
        return [
            UserTransition(user_id, _transition(reply))
            for (user_id, _), reply in zip(claimed, replies, strict=False)
            if reply is not None
        ]

    @translates_redis_errors
    async def claim_due_decays(self, now: float, limit: int) -> list[DueDecay]:
        claimed = await self._claim("decays" if self._bucketed else self._decays, now, limit)
        if not claimed:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id, _ in claimed:  # the devices' status ('i') or the choice's
                pipe.hmget(self._keys.choice(user_id), "i", "c")
            statuses = await pipe.execute()
        return [
            DueDecay(user_id, shown or chosen, due / 1000)
            for (user_id, due), (shown, chosen) in zip(claimed, statuses, strict=False)
            if shown or chosen
        ]

    async def decay(self, due: DueDecay, to: Choice, decays_at: float | None) -> Transition | None:
        k = self._keys
        keys = [
            k.choice(due.user_id), k.sockets(due.user_id), k.online(due.user_id), self._decays_of(due.user_id),
            k.devices(due.user_id),
        ]
        args = [
            due.user_id, due.status, _ms(due.due), to.status, _flag(to.remember), _ms_or_blank(decays_at),
            self._hidden, self._user_ttl, self._choice_ttl,
        ]
        reply = await self._call("DECAY", keys, args)
        return None if reply is None else _transition(reply)

    @translates_redis_errors
    async def claim_due_customs(self, now: float, limit: int) -> list[DueCustom]:
        claimed = await self._claim("customs" if self._bucketed else self._customs, now, limit)
        return [DueCustom(user_id, due / 1000) for user_id, due in claimed]

    async def clear_custom(self, due: DueCustom) -> Transition | None:
        k = self._keys
        keys = [k.choice(due.user_id), k.sockets(due.user_id), self._customs_of(due.user_id), k.devices(due.user_id)]
        args = [due.user_id, _ms(due.due), self._user_ttl, self._choice_ttl]
        reply = await self._call("CLEAR_CUSTOM", keys, args)
        return None if reply is None else _transition(reply)

    # ---------------------------------------------------------------- instances

    async def renew_lease(self, now: float, ttl: float) -> bool:
        keys = [self._lease(self.instance), self._instances]
        return bool(await self._call("RENEW_LEASE", keys, [self.instance, _ms(ttl), _ms(now)]))

    async def release_lease(self) -> None:
        await self._call("RELEASE_LEASE", [self._lease(self.instance), self._instances], [self.instance])

    def _lease(self, instance: str) -> str:
        return self._keys.instance_lease(instance) if self._bucketed else self._keys.lease(instance)

    @translates_redis_errors
    async def claim_dead_instances(self, now: float) -> list[str]:
        lapsed = await self._redis.zrangebyscore(self._instances, "-inf", _ms(now))
        won: list[str] = []
        for instance in cast(list[str], lapsed):
            if instance == self.instance:
                continue
            if await self._call("CLAIM_INSTANCE", [self._lease(instance), self._instances], [instance]):
                won.append(instance)
        return won

    @translates_redis_errors
    async def end_instance_sessions(self, instance: str | None, limit: int) -> list[Expired]:
        """End up to ``limit`` sessions of an instance (this one when None), with no grace."""
        if self._bucketed:
            return await self._end_bucket_sessions(instance, limit)
        index = self._index if instance is None else self._keys.instance_sessions(instance)
        members = await self._redis.zrange(index, 0, limit - 1)
        candidates = [split_member(m) for m in cast(list[str], members)]
        ended = await self._end_sessions(candidates, "END", ["", 0, self._shown_order()], instance)
        if len(members) < limit:
            await self._redis.delete(index)
        return ended

    async def _end_bucket_sessions(self, instance: str | None, limit: int) -> list[Expired]:
        """Up to ``limit`` sessions from the buckets in turn; a bucket's index is deleted
        once all it held was taken. Only this instance, or the one survivor that claimed a
        dead one, walks an instance's buckets."""
        owner = self.instance if instance is None else instance
        k = self._keys
        answered = await self._swept(lambda pipe, b: pipe.zrange(k.bucket_instance_sessions(owner, b), 0, limit - 1))
        members: list[str] = []
        drained = []
        for bucket, found in answered:  # at most ``limit`` in all; a bucket taken whole is drained
            taken = found[: limit - len(members)]
            members += taken
            if len(taken) == len(found) < limit:
                drained.append(bucket)
        ended = await self._end_sessions([split_member(m) for m in members], "END", ["", 0, self._shown_order()], owner)
        if drained:
            await self._pipelined_plain([("delete", k.bucket_instance_sessions(owner, b)) for b in drained])
        return ended

    async def _pipelined_plain(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Plain single-key commands in one pipeline (one round trip per primary)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for name, *args in commands:
                getattr(pipe, name)(*args)
            return await pipe.execute()

    # ---------------------------------------------------------------- seeding

    @translates_redis_errors
    async def needs_seeding(self) -> bool:
        if self._bucketed:
            seeded = await self._pipelined_plain([("exists", epoch) for _, epoch, *_ in self._per_bucket])
            return not all(seeded)
        return not await self._redis.exists(self._epoch)

    @translates_redis_errors
    async def seed_choices(self, choices: AsyncIterable[Seed]) -> int:
        learnt = 0
        batch: list[tuple[list[str], list[Any]]] = []

        async def flush() -> int:
            replies = await self._pipelined("SEED", batch)
            batch.clear()
            return sum(int(r) for r in replies)

        await self.load_scripts()
        async for user_id, choice, decays_at, custom in choices:
            chosen, remembered = (choice.status, _flag(choice.remember)) if choice is not None else ("", "0")
            batch.append(
                (
                    [self._keys.choice(user_id), self._decays_of(user_id), self._customs_of(user_id)],
                    [
                        chosen, remembered, _ms_or_blank(decays_at), user_id, self._choice_ttl,
                        *_packed_custom(custom),
                    ],
                )
            )
            if len(batch) >= BATCH:
                learnt += await flush()
        if batch:
            learnt += await flush()
        if self._bucketed:
            await self._pipelined_plain([("set", epoch, self.instance) for _, epoch, *_ in self._per_bucket])
            return learnt
        await self._redis.set(self._epoch, self.instance)
        return learnt

    # ---------------------------------------------------------------- restore

    @translates_redis_errors
    async def needs_restore(self) -> bool:
        """The marker's absence says Redis lost what this instance wrote; asking renews it.
        With buckets there is one per bucket (a primary may lose its own alone): all are
        put back when any is gone."""
        if self._bucketed:
            ttl = _ms(RESTORED_MARKER_TTL)
            held = await self._pipelined_plain([("pexpire", marker, ttl) for marker in self._restored_markers()])
            return not all(held)
        return not await self._redis.pexpire(self._keys.instance_restored(self.instance), _ms(RESTORED_MARKER_TTL))

    @translates_redis_errors
    async def restore_sessions(self, sessions: Sequence[HeldSession]) -> int:
        """One pipeline of RESTORE per batch (one round trip each), then the marker."""
        for start in range(0, len(sessions), BATCH):
            calls = []
            for held in sessions[start : start + BATCH]:
                choice = held.choice
                keys = [*self._session_keys(held.user_id, held.session_id), self._keys.restored_choice(held.user_id)]
                args = self._session_args(held.user_id, held.session_id, held.meta, held.expires_at)
                args += [
                    _flag(held.choice_known), choice.status if choice else "", _flag(bool(choice and choice.remember)),
                    _ms(held.choice_as_of), self._choice_ttl, _ms_or_blank(held.decays_at), _ms(RESTORED_CHOICE_TTL),
                ]
                calls.append((keys, args))
            await self._pipelined("RESTORE", calls)
        if self._bucketed:
            ttl = _ms(RESTORED_MARKER_TTL)
            await self._pipelined_plain([("psetex", marker, ttl, self.instance) for marker in self._restored_markers()])
            return len(sessions)
        await self._redis.set(self._keys.instance_restored(self.instance), self.instance, px=_ms(RESTORED_MARKER_TTL))
        return len(sessions)

    def _restored_markers(self) -> list[str]:
        return [self._keys.bucket_instance_restored(self.instance, b) for b in self._buckets]

    @translates_redis_errors
    async def release_restore(self) -> None:
        if self._bucketed:
            await self._pipelined_plain([("delete", marker) for marker in self._restored_markers()])
            return
        await self._redis.delete(self._keys.instance_restored(self.instance))
