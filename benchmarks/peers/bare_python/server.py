"""The integration guide's flow on bare python-socketio, as a straightforward Python team
would write it: AsyncServer (ASGI) with AsyncRedisManager, served by hypercorn, and
redis.asyncio with one command per step. The peer the gateway is measured against, so it
does what the guide says and nothing more: no database, no watchers.

  connect          verify the HS256 JWT in auth.token (sub = user id); HSET
                   presence:{u}:{sid} {device, connectedAt, ip} + EXPIRE 90 s, SADD
                   presence:sockets:{u}, SET presence:online:{u} 'true', join room
                   user:{u}, emit `connected` {userId, socketId}
  ping             EXPIRE the socket's hash 90 s, emit `pong`
  presence:update  validate {status}, emit `presence:updated` {userId, status, timestamp}
                   to room user:{u} on every instance (through the Redis manager)
  disconnect       DEL the hash, SREM, and when no socket is left DEL the online flag and
                   emit OFFLINE to the room

The Redis pool blocks when all its 64 connections are busy (redis-py's default pool
raises instead, which loses a burst of disconnects), and the loop is uvloop, as the
gateway's: the two choices a team would make after its first load test.

Env: PORT, REDIS_URL, JWT_SECRET_ACCESS. One process (hypercorn.asyncio.serve, no worker
child), 127.0.0.1 only; GET /healthz answers once Redis answers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import datetime, timezone

import redis.asyncio as aioredis
import socketio
import uvloop
from hypercorn.asyncio import serve
from hypercorn.config import Config
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

PORT = int(os.environ.get("PORT", "3000"))
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
KEY = OctKey.import_key(os.environ["JWT_SECRET_ACCESS"])
TTL_S = 90
STATUSES = {"ONLINE", "OFFLINE", "IDLE", "DND"}
CLAIMS = jwt.JWTClaimsRegistry(sub={"essential": True})

store = aioredis.Redis(
    connection_pool=aioredis.BlockingConnectionPool.from_url(REDIS_URL, max_connections=64, timeout=20),
    decode_responses=True,
)
sio = socketio.AsyncServer(
    async_mode="asgi", cors_allowed_origins="*", client_manager=socketio.AsyncRedisManager(REDIS_URL)
)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def health(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    ok = scope.get("path") == "/healthz"
    await send({"type": "http.response.start", "status": 200 if ok else 404, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok" if ok else b"not found"})


@sio.event
async def connect(sid, environ, auth):
    try:
        token = jwt.decode((auth or {}).get("token", ""), KEY, algorithms=["HS256"])
        CLAIMS.validate(token.claims)
    except (JoseError, ValueError, TypeError, AttributeError) as error:
        raise socketio.exceptions.ConnectionRefusedError(f"unauthorized: {error}") from None
    user_id = str(token.claims["sub"])
    await sio.save_session(sid, {"user_id": user_id})
    key = f"presence:{user_id}:{sid}"
    await store.hset(key, mapping={"device": "web", "connectedAt": now(), "ip": environ.get("REMOTE_ADDR", "")})
    await store.expire(key, TTL_S)
    await store.sadd(f"presence:sockets:{user_id}", sid)
    await store.set(f"presence:online:{user_id}", "true")
    await sio.enter_room(sid, f"user:{user_id}")
    await sio.emit("connected", {"userId": user_id, "socketId": sid}, to=sid)


@sio.event
async def ping(sid):
    user_id = (await sio.get_session(sid))["user_id"]
    await store.expire(f"presence:{user_id}:{sid}", TTL_S)
    await sio.emit("pong", to=sid)


@sio.on("presence:update")
async def presence_update(sid, data):
    status = data.get("status") if isinstance(data, dict) else None
    if status not in STATUSES:
        await sio.emit("error", {"code": "invalid_status", "message": "status must be ONLINE, OFFLINE, IDLE or DND"}, to=sid)
        return
    user_id = (await sio.get_session(sid))["user_id"]
    await sio.emit("presence:updated", {"userId": user_id, "status": status, "timestamp": now()}, room=f"user:{user_id}")


@sio.event
async def disconnect(sid, reason=None):
    user_id = (await sio.get_session(sid))["user_id"]
    await store.delete(f"presence:{user_id}:{sid}")
    await store.srem(f"presence:sockets:{user_id}", sid)
    if await store.scard(f"presence:sockets:{user_id}") == 0:
        await store.delete(f"presence:online:{user_id}")
        await sio.emit("presence:updated", {"userId": user_id, "status": "OFFLINE", "timestamp": now()}, room=f"user:{user_id}")


async def main() -> None:
    await store.ping()
    config = Config()
    config.bind = [f"127.0.0.1:{PORT}"]
    config.accesslog = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"bare python-socketio peer on 127.0.0.1:{PORT}", file=sys.stderr, flush=True)
    await serve(socketio.ASGIApp(sio, other_asgi_app=health), config, shutdown_trigger=stop.wait)


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
