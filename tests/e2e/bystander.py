"""A bystander in its own process (so the fuzzer's CPU does not count against it): pings
every 50 ms; after ``QUIET`` pings it prints ``ready`` (those are the machine's quiet
baseline), then goes on until its stdin closes, and prints ``{"quiet": [...], "busy":
[...]}``, round-trip times in seconds, as JSON.

    python -m tests.e2e.bystander URL TOKEN
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import socketio

QUIET = 60


async def main(url: str, token: str) -> None:
    client = socketio.AsyncClient(reconnection=False)
    pong = asyncio.Event()
    client.on("pong", lambda *_: pong.set())
    connected = asyncio.Event()
    client.on("connected", lambda *_: connected.set())
    await client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=5)
    await asyncio.wait_for(connected.wait(), 5)
    stdin_closed = asyncio.ensure_future(asyncio.get_running_loop().run_in_executor(None, sys.stdin.read))

    async def ping() -> float:
        pong.clear()
        started = time.perf_counter()
        await client.emit("ping")
        await asyncio.wait_for(pong.wait(), 5)
        return time.perf_counter() - started

    quiet = []
    for _ in range(QUIET):
        quiet.append(await ping())
        await asyncio.sleep(0.05)
    print("ready", flush=True)
    busy = []
    while not stdin_closed.done():
        busy.append(await ping())
        await asyncio.wait([stdin_closed], timeout=0.05)
    await client.disconnect()
    print(json.dumps({"quiet": quiet, "busy": busy}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
