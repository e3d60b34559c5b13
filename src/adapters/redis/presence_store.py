"""PresenceStore on Redis, shared by every gateway instance.

Each operation is one EVALSHA of a script from ``scripts.py`` (loaded at start; redis-py
reloads it on NOSCRIPT), so it costs one round trip and is atomic across instances. The
sweeper's ``expire_due`` reads this instance's session index and ends the due sessions in
one pipeline: two round trips per batch.
"""

from __future__ import annotations

from typing import Any, AsyncIterable, Iterable

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from ...domain.errors import Unavailable
from ...domain.ports import DueDecay, Expired, SessionMeta
from ...domain.presence import Choice, Transition, UserState
from . import scripts
from .keys import RedisKeys, split_member

# After its last session's TTL, a user's socket set and online flag linger this long, so
# the sweeper (not Redis) ends the session and the change is announced.
USER_KEYS_LINGER = 60.0
# A user known to have chosen nothing is remembered for this long after their last visit.
NO_CHOICE_TTL = 30 * 86400.0
SEED_BATCH = 500


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def _ms_or_blank(seconds: float | None) -> int | str:
    return "" if seconds is None else _ms(seconds)


def _choice(chosen: str, remembered: str) -> Choice | None:
    return Choice(chosen, remembered == "1") if chosen else None


def _transition(reply: list[Any]) -> Transition:
    before, after, c1, r1, c2, r2, known = reply
    known_flag = bool(int(known))
    return Transition(
        UserState(int(before), _choice(c1, r1), known_flag),
        UserState(int(after), _choice(c2, r2), known_flag),
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
    ) -> None:
        self._redis = redis
        self._keys = keys or RedisKeys()
        self.instance = instance
        self._index = self._keys.instance_sessions(instance)
        self._session_ttl = _ms(session_ttl)
        self._user_ttl = _ms(session_ttl + USER_KEYS_LINGER)
        self._choice_ttl = _ms(NO_CHOICE_TTL)
        self._hidden = " " + " ".join(sorted(hidden_statuses)) + " "
        self._register = redis.register_script(scripts.REGISTER)
        self._choose = redis.register_script(scripts.CHOOSE)
        self._end = redis.register_script(scripts.END)
        self._expire = redis.register_script(scripts.EXPIRE)
        self._adopt = redis.register_script(scripts.ADOPT)
        self._state = redis.register_script(scripts.STATE)
        self._claim_decays = redis.register_script(scripts.CLAIM_DECAYS)
        self._decay = redis.register_script(scripts.DECAY)
        self._seed = redis.register_script(scripts.SEED)
        self._all_scripts = (
            self._register, self._choose, self._end, self._expire, self._adopt, self._state,
            self._claim_decays, self._decay, self._seed,
        )
        self._decays = self._keys.decays()
        self._epoch = self._keys.epoch()

    async def load_scripts(self) -> None:
        """SCRIPT LOAD at start, so the first event is one EVALSHA, not a NOSCRIPT retry."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for script in self._all_scripts:
                pipe.script_load(script.script)
            await pipe.execute()

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except RedisError as error:
            raise Unavailable("presence store unavailable") from error

    def _session_args(self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float) -> list[Any]:
        return [
            user_id, session_id, _ms(expires_at), self._session_ttl, self._user_ttl,
            meta.device, _ms(meta.connected_at), meta.ip, self.instance, self._hidden,
        ]

    def _session_keys(self, user_id: str, session_id: str) -> list[str]:
        return [*self._keys.user_keys(user_id, session_id), self._index]

    async def register(self, user_id: str, session_id: str, meta: SessionMeta, expires_at: float) -> Transition:
        keys = [*self._session_keys(user_id, session_id), self._epoch]
        reply = await self._call(self._register, keys, self._session_args(user_id, session_id, meta, expires_at))
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
        args += [choice.status, "1" if choice.remember else "0", self._choice_ttl, _ms_or_blank(decays_at)]
        keys = [*self._session_keys(user_id, session_id), self._decays]
        return _transition(await self._call(self._choose, keys, args))

    async def adopt_choice(self, user_id: str, choice: Choice | None, decays_at: float | None = None) -> UserState:
        keys = [self._keys.sockets(user_id), self._keys.choice(user_id), self._keys.online(user_id), self._decays]
        chosen, remembered = (choice.status, "1" if choice.remember else "0") if choice else ("", "0")
        args = [chosen, remembered, self._hidden, self._user_ttl, self._choice_ttl, _ms_or_blank(decays_at), user_id]
        return _transition(await self._call(self._adopt, keys, args)).after

    async def claim_due_decays(self, now: float, limit: int) -> list[DueDecay]:
        claimed = await self._call(self._claim_decays, [self._decays], [_ms(now), limit])
        if not claimed:
            return []
        users = claimed[0::2]
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user_id in users:
                    pipe.hget(self._keys.choice(user_id), "c")
                statuses = await pipe.execute()
        except RedisError as error:
            raise Unavailable("presence store unavailable") from error
        return [
            DueDecay(user_id, status, int(due) / 1000)
            for user_id, due, status in zip(users, claimed[1::2], statuses)
            if status
        ]

    async def decay(self, due: DueDecay, to: Choice, decays_at: float | None) -> Transition | None:
        keys = [self._keys.choice(due.user_id), self._keys.sockets(due.user_id), self._keys.online(due.user_id), self._decays]
        args = [
            due.user_id, due.status, _ms(due.due), to.status, "1" if to.remember else "0", _ms_or_blank(decays_at),
            self._hidden, self._user_ttl, self._choice_ttl,
        ]
        reply = await self._call(self._decay, keys, args)
        return None if reply is None else _transition(reply)

    def _end_args(self, user_id: str, session_id: str) -> list[Any]:
        return [user_id, session_id, self._user_ttl, self._hidden, self._choice_ttl]

    async def end(self, user_id: str, session_id: str) -> Transition:
        reply = await self._call(self._end, self._session_keys(user_id, session_id), self._end_args(user_id, session_id))
        return _transition(reply)

    async def expire_due(self, now: float, limit: int) -> list[Expired]:
        try:
            members = await self._redis.zrangebyscore(self._index, "-inf", _ms(now), start=0, num=limit)
            if not members:
                return []
            candidates = [split_member(member) for member in members]
            try:
                replies = await self._expire_all(candidates, now)
            except NoScriptError:  # Redis restarted and lost its scripts
                await self.load_scripts()
                replies = await self._expire_all(candidates, now)
        except RedisError as error:
            raise Unavailable("presence store unavailable") from error
        return [
            Expired(user_id, session_id, _transition(reply))
            for (user_id, session_id), reply in zip(candidates, replies)
            if reply is not None
        ]

    async def _expire_all(self, candidates: list[tuple[str, str]], now: float) -> list[Any]:
        # Plain EVALSHA in the pipeline: redis-py's script objects would add a SCRIPT
        # EXISTS round trip to every pipeline.
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id, session_id in candidates:
                keys = self._session_keys(user_id, session_id)
                pipe.evalsha(self._expire.sha, len(keys), *keys, *self._end_args(user_id, session_id), _ms(now))
            return await pipe.execute()

    async def state(self, user_id: str) -> UserState:
        keys = [self._keys.sockets(user_id), self._keys.choice(user_id), self._epoch]
        return _transition(await self._call(self._state, keys, [])).after

    async def needs_seeding(self) -> bool:
        try:
            return not await self._redis.exists(self._epoch)
        except RedisError as error:
            raise Unavailable("presence store unavailable") from error

    async def seed_choices(self, choices: AsyncIterable[tuple[str, Choice, float | None]]) -> int:
        learnt = 0
        batch: list[tuple[str, Choice, float | None]] = []

        async def flush() -> int:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user_id, choice, decays_at in batch:
                    keys = [self._keys.choice(user_id), self._decays]
                    args = [choice.status, "1" if choice.remember else "0", _ms_or_blank(decays_at), user_id, self._choice_ttl]
                    pipe.evalsha(self._seed.sha, len(keys), *keys, *args)
                replies = await pipe.execute()
            batch.clear()
            return sum(int(r) for r in replies)

        try:
            await self.load_scripts()
            async for item in choices:
                batch.append(item)
                if len(batch) >= SEED_BATCH:
                    learnt += await flush()
            if batch:
                learnt += await flush()
            await self._redis.set(self._epoch, self.instance)
        except RedisError as error:
            raise Unavailable("presence store unavailable") from error
        return learnt
