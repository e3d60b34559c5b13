"""Key names, exactly as the integration guide names them (other services read them).

On one Redis (the default) user 42 has ``presence:sockets:42`` and the shared indexes
have one key each. On Redis Cluster a script may only touch keys of one slot, and the
socket-event scripts touch a user's keys and the shared indexes together. So the users
are spread over a fixed number of buckets, ``bucket = CRC16(user id) mod buckets``, and
every key of bucket 7 — the users' keys and that bucket's share of each index — carries
the hash tag ``{b7}``: ``presence:sockets:{b7}42``. Instance-wide keys (the registry and
the leases) carry bucket 0's tag. The naming lives here alone, so both forms are the same
code; docs/redis.md lists both.
"""

from __future__ import annotations

from binascii import crc_hqx

# Buckets of a cluster layout unless configured: each is one slot, so 64 spread over up to
# 64 primaries (a few per primary balance them), and a sweep round reads 64 keys per index.
DEFAULT_BUCKETS = 64
MAX_BUCKETS = 16384  # as many as Redis Cluster has slots
# Where every change others can see is published for backend services (the README's message).
UPDATES_CHANNEL = "presence:updates"



class RedisKeys:
    __slots__ = ("cluster", "buckets", "_tags")

    def __init__(self, cluster: bool = False, buckets: int = DEFAULT_BUCKETS) -> None:
        if not 1 <= buckets <= MAX_BUCKETS:
            raise ValueError(f"buckets={buckets}: use 1 to {MAX_BUCKETS}")
        self.cluster = cluster
        self.buckets = buckets if cluster else 1
        self._tags = tuple(f"{{b{b}}}" for b in range(self.buckets)) if cluster else ("",)

    def bucket(self, user_id: str) -> int:
        return crc_hqx(user_id.encode(), 0) % self.buckets if self.cluster else 0

    def _user(self, user_id: str) -> str:
        return self._tags[crc_hqx(user_id.encode(), 0) % self.buckets] + user_id if self.cluster else user_id

    def session(self, user_id: str, session_id: str) -> str:
        return f"presence:{self._user(user_id)}:{session_id}"

    def sockets(self, user_id: str) -> str:
        return f"presence:sockets:{self._user(user_id)}"

    def online(self, user_id: str) -> str:
        return f"presence:online:{self._user(user_id)}"

    def choice(self, user_id: str) -> str:
        return f"presence:status:{self._user(user_id)}"

    def leaving(self, user_id: str) -> str:
        return f"presence:leaving:{self._user(user_id)}"

    def devices(self, user_id: str) -> str:
        """Each session's device kind and state, and the user's ``seq`` (field ``#``)."""
        return f"presence:devices:{self._user(user_id)}"

    def blocked(self, user_id: str) -> str:
        """Set while the server API keeps the user's reconnects out (it expires by itself)."""
        return f"presence:blocked:{self._user(user_id)}"

    def restored_choice(self, user_id: str) -> str:
        return f"presence:restored:{self._user(user_id)}"

    def user_channel(self, prefix: str, user_id: str) -> str:
        """The pub/sub channel of one user's changes between instances (heard only by the
        instances whose sockets are in the user's rooms). On a cluster it carries the
        bucket's tag, first, so that it lives on the slot of the user's keys whatever the
        prefix holds: a subscription confirmed there is ordered before any later change of
        the user on the same primary."""
        if self.cluster:
            return f"{self._tags[crc_hqx(user_id.encode(), 0) % self.buckets]}{prefix}:user:{user_id}"
        return f"{prefix}:user:{user_id}"

    def bucket_tags(self) -> tuple[str, ...]:
        """One name per bucket's slot (``{b7}``): the routes a sharded publisher looks up
        before it serves, one per bucket rather than one per user."""
        return self._tags if self.cluster else ()

    def user_session(self, user_id: str, session_id: str) -> tuple[int, str, str, str, str, str, str]:
        """The bucket, then session, sockets, online, choice, leaving and devices keys, the
        bucket hashed once (a socket event needs them all)."""
        bucket = crc_hqx(user_id.encode(), 0) % self.buckets if self.cluster else 0
        user = self._tags[bucket] + user_id
        return (
            bucket, f"presence:{user}:{session_id}", f"presence:sockets:{user}", f"presence:online:{user}",
            f"presence:status:{user}", f"presence:leaving:{user}", f"presence:devices:{user}",
        )

    # ---------------------------------------------------------------- one Redis's names

    @staticmethod
    def instance_sessions(instance: str) -> str:
        return f"presence:instance:{instance}:sessions"

    @staticmethod
    def decays() -> str:
        return "presence:decays"

    @staticmethod
    def epoch() -> str:
        return "presence:epoch"

    @staticmethod
    def graces() -> str:
        return "presence:graces"

    @staticmethod
    def customs() -> str:
        """Users whose custom status clears itself, by when (sorted set)."""
        return "presence:customs"

    @staticmethod
    def instances() -> str:
        return "presence:instances"

    @staticmethod
    def lease(instance: str) -> str:
        return f"presence:instance:{instance}:lease"

    @staticmethod
    def instance_restored(instance: str) -> str:
        return f"presence:instance:{instance}:restored"

    # ---------------------------------------------------------------- per bucket
    # Bucket 0 of one Redis is the names above.

    def bucket_instance_sessions(self, instance: str, bucket: int) -> str:
        return f"presence:instance:{self._tags[bucket]}{instance}:sessions"

    def bucket_instance_restored(self, instance: str, bucket: int) -> str:
        return f"presence:instance:{self._tags[bucket]}{instance}:restored"

    def bucket_decays(self, bucket: int) -> str:
        return f"presence:decays:{self._tags[bucket]}" if self.cluster else "presence:decays"

    def bucket_graces(self, bucket: int) -> str:
        return f"presence:graces:{self._tags[bucket]}" if self.cluster else "presence:graces"

    def bucket_customs(self, bucket: int) -> str:
        return f"presence:customs:{self._tags[bucket]}" if self.cluster else "presence:customs"

    def bucket_epoch(self, bucket: int) -> str:
        return f"presence:epoch:{self._tags[bucket]}" if self.cluster else "presence:epoch"

    def sweep_claim(self, index: str, bucket: int) -> str:
        """Held (SET PX) by the instance sweeping ``index`` ("graces", "decays") in a bucket."""
        return f"presence:{index}:{self._tags[bucket]}:claim"

    def instance_registry(self) -> str:
        return f"presence:instances:{self._tags[0]}" if self.cluster else "presence:instances"

    def instance_lease(self, instance: str) -> str:
        return f"presence:instance:{self._tags[0]}{instance}:lease"

    @staticmethod
    def bucket_count() -> str:
        """The bucket count the data was written with (cluster layout only), next to the
        seeding epochs: both say what the data in Redis is."""
        return "presence:epoch:buckets"


def split_member(member: str) -> tuple[str, str]:
    """An instance index member, as the scripts write it: the session id first (session
    ids never contain ':'; user ids may)."""
    session_id, _, user_id = member.partition(":")
    return user_id, session_id
