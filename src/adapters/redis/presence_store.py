"""The presence store on Redis, shared by every gateway instance: every role of
``domain/ports.py``.

Each socket-event operation is one EVALSHA of a script from ``scripts.py`` (loaded at
start; redis-py reloads it on NOSCRIPT), so it costs one round trip and is atomic across
instances. Sweeps (expiry, grace, decay, a dead instance's sessions) read an index, then
apply the due items in one pipeline: two round trips per batch. A Redis failure reaches
the caller as ``Unavailable`` (``unavailable.py``).
"""

from __future__ import annotations

from typing import Any, AsyncIterable, Iterable, Sequence

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from ...domain.ports import DueDecay, Expired, HeldSession, SessionMeta, UserTransition
from ...domain.presence import Choice, Transition, UserState
from . import scripts
from .keys import RedisKeys, split_member
from .pipelined import PipelinedRedis
from .unavailable import translates_redis_errors, unavailable

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


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def _ms_or_blank(seconds: float | None) -> int | str:
    return "" if seconds is None else _ms(seconds)


def _flag(remember: bool) -> str:
    return "1" if remember else "0"


def _choice(chosen: str, remembered: str) -> Choice | None:
    return Choice(chosen, remembered == "1") if chosen else None


def _transition(reply: list[Any]) -> Transition:
    before, after, c1, r1, c2, r2, known, lingering_before, lingering_after = reply
    known_flag = bool(int(known))
    return Transition(
        UserState(int(before), _choice(c1, r1), known_flag, bool(int(lingering_before))),
        UserState(int(after), _choice(c2, r2), known_flag, bool(int(lingering_after))),
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
        events: PipelinedRedis | None = None,
    ) -> None:
        self._redis = redis
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
        self._epoch = self._keys.epoch()
        self._instances = self._keys.instances()
        self._scripts: dict[str, Any] = {}
        for name in (
            "REGISTER", "CHOOSE", "END", "EXPIRE", "FINISH_GRACE", "ADOPT", "CLAIM_DUE",
            "DECAY", "SEED", "RENEW_LEASE", "RELEASE_LEASE", "CLAIM_INSTANCE",
            "RESTORE",
        ):
            self._scripts[name] = redis.register_script(getattr(scripts, name))
        self._scripts["STATES"] = redis.register_script(scripts.STATES)

    async def load_scripts(self) -> None:
        """SCRIPT LOAD at start, so the first event is one EVALSHA, not a NOSCRIPT retry."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for script in self._scripts.values():
                pipe.script_load(script.script)
            await pipe.execute()

    async def _call(self, name: str, keys: list[str], args: list[Any]) -> Any:
        script = self._scripts[name]
        try:
            if self._events is not None:
                return await self._events.evalsha(script.sha, script.script, keys, args)
            return await script(keys=keys, args=args)
        except RedisError as error:
            raise unavailable(error)

    async def _pipelined(self, name: str, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        """Many calls of one script in one round trip (plain EVALSHA: redis-py's script
        objects would add a SCRIPT EXISTS round trip to every pipeline)."""
        sha = self._scripts[name].sha

        async def run() -> list[Any]:
            async with self._redis.pipeline(transaction=False) as pipe:
                for keys, args in calls:
                    pipe.evalsha(sha, len(keys), *keys, *args)
                return await pipe.execute()

        try:
            return await run()
        except NoScriptError:  # Redis restarted and lost its scripts
            await self.load_scripts()
            return await run()

    # ---------------------------------------------------------------- session events

    def _session_keys(self, user_id: str, session_id: str, index: str | None = None) -> list[str]:
        k = self._keys
        return [
            k.session(user_id, session_id), k.sockets(user_id), k.online(user_id), k.choice(user_id),
            index or self._index, self._epoch, self._decays, k.leaving(user_id), self._graces,
        ]

    def _session_args(self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float) -> list[Any]:
        return [
            user_id, session_id, _ms(expires_at), self._session_ttl, self._user_ttl,
            meta.device, _ms(meta.connected_at), meta.ip, self.instance, self._hidden,
        ]

    def _end_args(self, user_id: str, session_id: str) -> list[Any]:
        return [user_id, session_id, self._user_ttl, self._hidden, self._choice_ttl]

    async def register(self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float) -> Transition:
        reply = await self._call(
            "REGISTER", self._session_keys(user_id, session_id), self._session_args(user_id, session_id, meta, expires_at)
        )
        return _transition(reply)

    async def touch(self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float) -> Transition:
        return await self.register(user_id, session_id, meta, expires_at)

    async def choose(
        self,
        user_id: str,
        session_id: str,
        meta: SessionMeta,
        choice: Choice,
        expires_at: float,
        decays_at: float | None = None,
    ) -> Transition:
        args = self._session_args(user_id, session_id, meta, expires_at)
        args += [choice.status, _flag(choice.remember), self._choice_ttl, _ms_or_blank(decays_at)]
        return _transition(await self._call("CHOOSE", self._session_keys(user_id, session_id), args))

    async def end(self, user_id: str, session_id: str, grace_until: float | None = None) -> Transition:
        # The leaving marker outlives any grace, so a late sweep still finds it.
        args = [*self._end_args(user_id, session_id), _ms_or_blank(grace_until), LEAVING_TTL_MS]
        return _transition(await self._call("END", self._session_keys(user_id, session_id), args))

    async def adopt_choice(self, user_id: str, choice: Choice | None, decays_at: float | None = None) -> UserState:
        keys = [self._keys.sockets(user_id), self._keys.choice(user_id), self._keys.online(user_id), self._decays]
        chosen, remembered = (choice.status, _flag(choice.remember)) if choice else ("", "0")
        args = [chosen, remembered, self._hidden, self._user_ttl, self._choice_ttl, _ms_or_blank(decays_at), user_id]
        return _transition(await self._call("ADOPT", keys, args)).after

    @translates_redis_errors
    async def states(self, user_ids: Sequence[str]) -> list[UserState]:
        """One round trip: the STATES script per thousand users, pipelined (Redis serves
        other clients between them). One script for many users, not one call each: the
        per-call cost of EVALSHA and of parsing its reply made 1000 users take 60 ms."""
        if not user_ids:
            return []
        k = self._keys
        calls = []
        for start in range(0, len(user_ids), STATES_BATCH):
            keys = [self._epoch]
            for user_id in user_ids[start : start + STATES_BATCH]:
                keys += (k.sockets(user_id), k.choice(user_id), k.leaving(user_id))
            calls.append((keys, []))
        states = []
        for reply in await self._pipelined("STATES", calls):
            for line in reply.split("\n"):
                count, chosen, remembered, known, lingering = line.split("\t")
                states.append(UserState(int(count), _choice(chosen, remembered), known == "1", lingering == "1"))
        return states

    # ---------------------------------------------------------------- sweeps

    @translates_redis_errors
    async def expire_due(self, now: float, limit: int) -> list[Expired]:
        members = await self._redis.zrangebyscore(self._index, "-inf", _ms(now), start=0, num=limit)
        return await self._end_sessions([split_member(m) for m in members], "EXPIRE", [_ms(now)])

    async def _end_sessions(
        self, candidates: list[tuple[str, str]], script: str, extra: list[Any], index: str | None = None
    ) -> list[Expired]:
        if not candidates:
            return []
        calls = [
            (self._session_keys(user_id, session_id, index), [*self._end_args(user_id, session_id), *extra])
            for user_id, session_id in candidates
        ]
        replies = await self._pipelined(script, calls)
        return [
            Expired(user_id, session_id, _transition(reply))
            for (user_id, session_id), reply in zip(candidates, replies)
            if reply is not None
        ]

    async def _claim(self, index: str, now: float, limit: int) -> list[tuple[str, int]]:
        claimed = await self._call("CLAIM_DUE", [index], [_ms(now), limit])
        return [(member, int(float(due))) for member, due in zip(claimed[0::2], claimed[1::2])]

    @translates_redis_errors
    async def settle_due_graces(self, now: float, limit: int) -> list[UserTransition]:
        claimed = await self._claim(self._graces, now, limit)
        k = self._keys
        calls = [
            (
                [k.sockets(user_id), k.online(user_id), k.choice(user_id), k.leaving(user_id), self._graces],
                [user_id, due, self._hidden, self._user_ttl, self._choice_ttl],
            )
            for user_id, due in claimed
        ]
        replies = await self._pipelined("FINISH_GRACE", calls) if calls else []
        return [
            UserTransition(user_id, _transition(reply))
            for (user_id, _), reply in zip(claimed, replies)
            if reply is not None
        ]

    @translates_redis_errors
    async def claim_due_decays(self, now: float, limit: int) -> list[DueDecay]:
        claimed = await self._claim(self._decays, now, limit)
        if not claimed:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id, _ in claimed:
                pipe.hget(self._keys.choice(user_id), "c")
            statuses = await pipe.execute()
        return [
            DueDecay(user_id, status, due / 1000)
            for (user_id, due), status in zip(claimed, statuses)
            if status
        ]

    async def decay(self, due: DueDecay, to: Choice, decays_at: float | None) -> Transition | None:
        k = self._keys
        keys = [k.choice(due.user_id), k.sockets(due.user_id), k.online(due.user_id), self._decays]
        args = [
            due.user_id, due.status, _ms(due.due), to.status, _flag(to.remember), _ms_or_blank(decays_at),
            self._hidden, self._user_ttl, self._choice_ttl,
        ]
        reply = await self._call("DECAY", keys, args)
        return None if reply is None else _transition(reply)

    # ---------------------------------------------------------------- instances

    async def renew_lease(self, now: float, ttl: float) -> bool:
        keys = [self._keys.lease(self.instance), self._instances]
        return bool(await self._call("RENEW_LEASE", keys, [self.instance, _ms(ttl), _ms(now)]))

    async def release_lease(self) -> None:
        await self._call("RELEASE_LEASE", [self._keys.lease(self.instance), self._instances], [self.instance])

    @translates_redis_errors
    async def claim_dead_instances(self, now: float) -> list[str]:
        lapsed = await self._redis.zrangebyscore(self._instances, "-inf", _ms(now))
        won = []
        for instance in lapsed:
            if instance == self.instance:
                continue
            if await self._call("CLAIM_INSTANCE", [self._keys.lease(instance), self._instances], [instance]):
                won.append(instance)
        return won

    @translates_redis_errors
    async def end_instance_sessions(self, instance: str | None, limit: int) -> list[Expired]:
        """End up to ``limit`` sessions of an instance (this one when None), with no grace."""
        index = self._index if instance is None else self._keys.instance_sessions(instance)
        members = await self._redis.zrange(index, 0, limit - 1)
        ended = await self._end_sessions([split_member(m) for m in members], "END", ["", 0], index)
        if len(members) < limit:
            await self._redis.delete(index)
        return ended

    # ---------------------------------------------------------------- seeding

    @translates_redis_errors
    async def needs_seeding(self) -> bool:
        return not await self._redis.exists(self._epoch)

    @translates_redis_errors
    async def seed_choices(self, choices: AsyncIterable[tuple[str, Choice, float | None]]) -> int:
        learnt = 0
        batch: list[tuple[list[str], list[Any]]] = []

        async def flush() -> int:
            replies = await self._pipelined("SEED", batch)
            batch.clear()
            return sum(int(r) for r in replies)

        await self.load_scripts()
        async for user_id, choice, decays_at in choices:
            batch.append(
                (
                    [self._keys.choice(user_id), self._decays],
                    [choice.status, _flag(choice.remember), _ms_or_blank(decays_at), user_id, self._choice_ttl],
                )
            )
            if len(batch) >= BATCH:
                learnt += await flush()
        if batch:
            learnt += await flush()
        await self._redis.set(self._epoch, self.instance)
        return learnt

    # ---------------------------------------------------------------- restore

    @translates_redis_errors
    async def needs_restore(self) -> bool:
        """The marker's absence says Redis lost what this instance wrote; asking renews it."""
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
        await self._redis.set(self._keys.instance_restored(self.instance), self.instance, px=_ms(RESTORED_MARKER_TTL))
        return len(sessions)

    @translates_redis_errors
    async def release_restore(self) -> None:
        await self._redis.delete(self._keys.instance_restored(self.instance))
