"""Redis stopped, then restarted empty: how long until presence is whole again.

Two real gateway processes on a throwaway Redis, ``--users`` users spread over them (a
quarter with a tab on each instance, a quarter with a chosen status: DND, or appearing
OFFLINE for this visit only, which only Redis knew).
Each run stops Redis for ``--outage`` seconds, measuring how fast a socket event is
answered ``unavailable`` meanwhile, starts it again empty on the same port, and measures
from the moment it answers PING:

* restore: until every live socket is back (``presence:sockets:{id}`` holds it, the
  ``presence:online:{id}`` flag and the chosen status are as before the outage);
* delivery: until a status set by a socket on instance A reaches the user's socket on B
  (A's socket sets a status every 20 ms until one arrives).

Run: .venv/bin/python benchmarks/redis_restart.py [--runs 5] [--outage 10] [--users 400]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.clients import Client, connected_client  # noqa: E402
from tests.e2e.gateway_process import GatewayProcess  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

CHANNEL = "sio-bench"


def picture(url: str, users: dict[str, list[Client]]) -> dict[str, tuple]:
    with redis.Redis.from_url(url, decode_responses=True) as r, r.pipeline(transaction=False) as pipe:
        for user in users:
            pipe.smembers(f"presence:sockets:{user}")
            pipe.get(f"presence:online:{user}")
            pipe.hget(f"presence:status:{user}", "c")
        replies = pipe.execute()
    return {user: (replies[3 * n], replies[3 * n + 1], replies[3 * n + 2] or "") for n, user in enumerate(users)}


async def one_run(redis_server: RedisServer, users: dict[str, list[Client]], sender: Client, receiver: Client, outage: float):
    before = picture(redis_server.url, users)
    redis_server.stop()
    stopped = time.monotonic()
    probe = next(iter(users.values()))[0]
    errors = len(probe.received("error"))
    asked = time.monotonic()
    await probe.sio.emit("ping")
    await probe.wait_until(lambda: len(probe.received("error")) > errors)
    answered = time.monotonic() - asked
    await asyncio.sleep(max(0.0, outage - (time.monotonic() - stopped)))

    redis_server.start()
    back = time.monotonic()
    restored = delivered = None
    seen = len(receiver.received("presence:updated"))
    n = 0
    while restored is None or delivered is None:
        now = time.monotonic()
        if now - back > 30:
            raise TimeoutError(f"not whole 30 s after the restart: restore {restored}, delivery {delivered}")
        if restored is None and await asyncio.to_thread(picture, redis_server.url, users) == before:
            restored = now - back
        if delivered is None:
            if len(receiver.received("presence:updated")) > seen:
                delivered = now - back
            else:
                n += 1
                await sender.sio.emit("presence:update", {"status": "ONLINE" if n % 2 else "DND"})
        await asyncio.sleep(0.02)
    return answered, restored, delivered


async def main_async(args: argparse.Namespace, root: Path) -> list[tuple[float, float, float]]:
    redis_server = RedisServer(root / "redis").start()
    env = {
        "REDIS_URL": redis_server.url, "PRESENCE_DATA_DIR": str(root / "data"), "LOG_LEVEL": "WARNING",
        "PRESENCE_SOCKETIO_CHANNEL": CHANNEL,
        # Load, not the per-socket limits, is measured here.
        "PRESENCE_EVENTS_PER_MINUTE": "100000000",
    "PRESENCE_USER_EVENTS_PER_MINUTE": "100000000", "PRESENCE_CONNECTS_PER_MINUTE_PER_USER": "100000000",
    "PRESENCE_CONNECTS_PER_MINUTE_PER_ADDRESS": "100000000", "PRESENCE_MAX_SOCKETS_PER_USER": "100000",
    }
    a = GatewayProcess(root / "a", **env).start()
    b = GatewayProcess(root / "b", **env).start()
    clients: list[Client] = []
    try:
        users: dict[str, list[Client]] = {}
        for n in range(args.users):
            home, other = (a, b) if n % 2 == 0 else (b, a)
            tabs = [await connected_client(home.url, f"u{n}")]
            if n % 4 == 0:  # a tab on each instance
                tabs.append(await connected_client(other.url, f"u{n}"))
            if n % 8 in (1, 3):  # remembered, and for this visit only (Redis alone knows it)
                await tabs[0].sio.emit("presence:update", {"status": "DND" if n % 8 == 1 else "OFFLINE"})
            users[f"u{n}"] = tabs
            clients += tabs
        sender = await connected_client(a.url, "delivery")
        receiver = await connected_client(b.url, "delivery")
        clients += [sender, receiver]
        for client in clients:
            await client.round_trip()
        results = []
        for run in range(args.runs):
            result = await one_run(redis_server, users, sender, receiver, args.outage)
            print(f"run {run + 1}: unavailable answered in {result[0] * 1000:.1f} ms; "
                  f"restored {result[1]:.2f}s, delivery {result[2]:.2f}s after the restart")
            results.append(result)
        assert all(c.sio.connected for c in clients), "a socket was disconnected"
        return results
    finally:
        for client in clients:
            await client.close()
        a.stop()
        b.stop()
        redis_server.stop()
        for gateway in (a, b):
            if "Traceback" in gateway.log():
                print(gateway.log(), file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--outage", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(main_async(args, Path(tmp)))
    answered, restored, delivered = zip(*results, strict=True)
    sockets = args.users + (args.users + 3) // 4 + 2
    print(f"\nRedis stopped {args.outage:g}s then restarted empty, {sockets} sockets on two instances, {len(results)} runs:")
    print(f"  event answered 'unavailable' during the outage: median {statistics.median(answered) * 1000:.1f} ms")
    print(f"  every live socket back in Redis: median {statistics.median(restored):.2f}s (max {max(restored):.2f}s)")
    print(f"  cross-instance delivery again:   median {statistics.median(delivered):.2f}s (max {max(delivered):.2f}s)")


if __name__ == "__main__":
    main()
