"""Tests sharing the session's Redis do not see each other's leftovers: what one test's
instance left registered (a lease it keeps renewing, say) is not in the next test's
database."""

from __future__ import annotations

import redis

from tests.support.redis_server import RedisServer, fresh_database


def test_a_lease_left_by_one_test_is_not_in_the_next_tests_redis(redis_server: RedisServer) -> None:
    earlier, later = fresh_database(redis_server), fresh_database(redis_server)
    with redis.Redis.from_url(earlier) as left_behind:
        left_behind.set("presence:instance:gw-left-behind:lease", "1", ex=60)
    with redis.Redis.from_url(later) as client:
        assert client.keys("presence:instance:*") == []
