"""A bystander in its own process (so the fuzzer's CPU does not count against it): pings
every 50 ms until its stdin closes, then prints the round-trip times in seconds as JSON.

    python -m tests.e2e.bystander URL TOKEN
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import socketio


async def main(url: str, token: str) -> None:
    client = socketio.AsyncClient(reconnection=False)
    pong = asyncio.Event()
    client.on("pong", lambda *_: pong.set())
    connected = asyncio.Event()
    client.on("connected", lambda *_: connected.set())
    await client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=5)
    await asyncio.wait_for(connected.wait(), 5)
    stdin_closed = asyncio.ensure_future(asyncio.get_running_loop().run_in_executor(None, sys.stdin.read))
    print("ready", flush=True)
    times = []
    while not stdin_closed.done():
        pong.clear()
        started = time.perf_counter()
        await client.emit("ping")
        await asyncio.wait_for(pong.wait(), 5)
        times.append(time.perf_counter() - started)
        await asyncio.wait([stdin_closed], timeout=0.05)
    await client.disconnect()
    print(json.dumps(times), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
