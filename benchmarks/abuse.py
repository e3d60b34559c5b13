"""What one abusive client costs everyone else: each kind of abuser of docs/security.md
run alone against a fresh gateway (embedded, and on Redis), with a bystander user on the
same address pinging every 100 ms in a process of its own; the bystander's ping p99 and
max per abuser, and the same with no abuser at all, measured in the same run (on a shared
machine only that comparison says whether the gateway or the machine was slow).

    .venv/bin/python -m benchmarks.abuse [--modes embedded,redis] [--kinds ...] [--seconds 10] [--quick]

``--quick`` measures each abuser over a 4 s window instead (the abusers' sizes unchanged):
both modes in about three minutes.

Abusers (each in a process of its own, on 127.0.0.1 like the bystander):

- ``none``: nothing, the baseline;
- ``resent-connect``: a socket re-sending CONNECT, reconnecting when closed for it;
- ``subscribe-flood``: 200 sockets of 20 users, each sending 1000 subscribes of 100 ids;
- ``connect-storm``: 5000 sockets for one user, 200 connecting at a time;
- ``trickled-body``: 300 polling POSTs whose bodies trickle a byte a second;
- ``control-device``: connects with ``auth.device`` holding control characters;
- ``bare-authorization``: HTTP API requests with ``Authorization: <jwt>`` (no scheme).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from itertools import repeat
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.clients import token_for  # noqa: E402
from tests.e2e.gateway_process import GatewayProcess  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

KINDS = (
    "none",
    "resent-connect",
    "subscribe-flood",
    "connect-storm",
    "trickled-body",
    "control-device",
    "bare-authorization",
)
PING_EVERY = 0.1
QUICK_SECONDS = 4.0
GOAL_P99_MS, GOAL_MAX_MS = 20.0, 100.0


# ------------------------------------------------------------------ the bystander


async def bystander(url: str) -> None:
    """Pings every 100 ms until stdin closes; prints ``ready`` once connected, then the
    round trips in ms as JSON."""
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket")
        await _frame(ws)
        await ws.send_str("40" + json.dumps({"token": token_for("bystander")}))
        while '"connected"' not in await _frame(ws):
            pass
        print("ready", flush=True)
        stdin_closed = asyncio.ensure_future(asyncio.get_running_loop().run_in_executor(None, sys.stdin.read))
        rtts: list[float] = []
        while not stdin_closed.done():
            started = time.perf_counter()
            await ws.send_str('42["ping"]')
            while await _frame(ws) != '42["pong"]':
                pass
            rtts.append((time.perf_counter() - started) * 1000)
            await asyncio.wait([stdin_closed], timeout=max(0.0, PING_EVERY - (time.perf_counter() - started)))
        print(json.dumps(rtts), flush=True)


async def _frame(ws: aiohttp.ClientWebSocketResponse) -> str:
    while True:
        message = await asyncio.wait_for(ws.receive(), 10)
        if message.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"bystander's socket ended: {message.type}")
        if message.data == "2":
            await ws.send_str("3")
            continue
        return message.data


# ------------------------------------------------------------------ the abusers


async def _socket(http: aiohttp.ClientSession, url: str, auth: dict) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket", max_msg_size=0)
    await ws.receive()  # Engine.IO OPEN
    await ws.send_str("40" + json.dumps(auth))
    return ws


async def _drain(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Reads what the gateway answers (a flood that does not read is another abuser)."""
    async for message in ws:
        if message.type == aiohttp.WSMsgType.TEXT and message.data == "2":
            await ws.send_str("3")


async def _send_until_closed(
    http: aiohttp.ClientSession, url: str, auth: dict, frames: Iterable[str], until: float, every: int, pause: float
) -> int:
    """One socket sending ``frames`` (reading what comes back) until the gateway closes it
    or ``until``; a pause of ``pause`` s every ``every`` frames. How many it sent."""
    ws = await _socket(http, url, auth)
    reader = asyncio.ensure_future(_drain(ws))
    sent = 0
    try:
        for frame in frames:
            if ws.closed or time.monotonic() > until:
                break
            await ws.send_str(frame)
            sent += 1
            if sent % every == 0:
                await asyncio.sleep(pause)
    except ConnectionError:
        pass
    finally:
        await ws.close()
        reader.cancel()
    return sent


async def resent_connect(http: aiohttp.ClientSession, url: str, until: float) -> int:
    auth = {"token": token_for("resender")}
    sent = 0
    while time.monotonic() < until:  # about 2000 a second, reconnecting when closed for it
        sent += await _send_until_closed(http, url, auth, repeat("40" + json.dumps(auth)), until, 1, 0.0005)
    return sent


async def subscribe_flood(http: aiohttp.ClientSession, url: str, until: float) -> int:
    ids = json.dumps({"userIds": [f"target-{n}" for n in range(100)]})
    frames = [f'42{n}["presence:subscribe",{ids}]' for n in range(1000)]
    floods = (
        _send_until_closed(http, url, {"token": token_for(f"flooder-{n % 20}")}, frames, until, 50, 0)
        for n in range(200)
    )
    return sum(await asyncio.gather(*floods))


async def connect_storm(http: aiohttp.ClientSession, url: str, until: float) -> int:
    gate = asyncio.Semaphore(200)
    sockets: list[aiohttp.ClientWebSocketResponse] = []

    async def one() -> None:
        async with gate:
            if time.monotonic() > until:
                return
            try:
                ws = await _socket(http, url, {"token": token_for("stormer")})
                sockets.append(ws)
                await asyncio.wait_for(ws.receive(), 5)
            except (aiohttp.ClientError, TimeoutError, ConnectionError):
                pass

    await asyncio.gather(*(one() for _ in range(5000)))
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return len(sockets)


async def trickled_body(http: aiohttp.ClientSession, url: str, until: float) -> int:
    host, port = url.removeprefix("http://").split(":")

    async def one(n: int) -> None:
        await asyncio.sleep(n / 100)  # opened at 100 a second: a burst of them is the connect storm
        async with http.get(f"{url}/socket.io/?EIO=4&transport=polling") as response:
            sid = json.loads((await response.text())[1:])["sid"]
        body = b"40" + json.dumps({"token": token_for("trickler")}).encode()
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        )
        try:
            for byte in body:
                if time.monotonic() > until or reader.at_eof():
                    break
                writer.write(bytes([byte]))
                await asyncio.sleep(1.0)
        except ConnectionError:
            pass
        finally:
            writer.close()

    await asyncio.gather(*(one(n) for n in range(300)), return_exceptions=True)
    return 300


async def control_device(http: aiohttp.ClientSession, url: str, until: float) -> int:
    sent = 0
    while time.monotonic() < until and sent < 2000:
        ws = await _socket(http, url, {"token": token_for(f"device-{sent % 50}"), "device": "ios\nINFO forged\x1b[31m"})
        await asyncio.wait_for(ws.receive(), 5)  # connect_error invalid device
        await ws.close()
        sent += 1
    return sent


async def bare_authorization(http: aiohttp.ClientSession, url: str, until: float) -> int:
    sent = 0
    headers = {"Authorization": token_for("bare")}
    while time.monotonic() < until and sent < 5000:
        async with http.get(f"{url}/api/v1/presence/7", headers=headers) as response:
            assert response.status == 401, response.status
        sent += 1
    return sent


ABUSERS = {
    "resent-connect": resent_connect,
    "subscribe-flood": subscribe_flood,
    "connect-storm": connect_storm,
    "trickled-body": trickled_body,
    "control-device": control_device,
    "bare-authorization": bare_authorization,
}


async def abuser(kind: str, url: str, seconds: float) -> None:
    until = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as http:
        done = await ABUSERS[kind](http, url, until)
    print(json.dumps({"done": done}), flush=True)


# ------------------------------------------------------------------ the run


def _module(*args: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks.abuse", *args]


def _cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and its threads so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(gateway: GatewayProcess, kind: str, seconds: float) -> dict:
    watcher = subprocess.Popen(
        _module("bystander", gateway.url), cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert watcher.stdout is not None and watcher.stdin is not None
    try:
        assert watcher.stdout.readline().strip() == "ready"
        started = time.monotonic()
        gateway_cpu, abuser_cpu, load = _cpu_seconds(gateway.process.pid), _children_cpu(), os.getloadavg()[0]
        if kind == "none":
            time.sleep(seconds)
            done = 0
        else:
            out = subprocess.run(
                _module("abuser", kind, gateway.url, str(seconds)),
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=seconds + 120,
            )
            done = (
                json.loads(out.stdout.strip().splitlines()[-1])["done"]
                if out.returncode == 0
                else f"failed: {out.stderr[-300:]}"
            )
        elapsed = time.monotonic() - started
        gateway_cpu, abuser_cpu = _cpu_seconds(gateway.process.pid) - gateway_cpu, _children_cpu() - abuser_cpu
        watcher.stdin.close()
        rtts = json.loads(watcher.stdout.readline())
    finally:
        watcher.kill()
        watcher.wait()
    rtts.sort()
    p99 = rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))]
    return {
        "kind": kind,
        "done": done,
        "seconds": round(elapsed, 1),
        "pings": len(rtts),
        "median_ms": round(statistics.median(rtts), 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(rtts[-1], 1),
        # shares of one core over the window: the gateway's, the abuser's; the machine's load before
        "gateway_cpu": round(gateway_cpu / elapsed, 2),
        "abuser_cpu": round(abuser_cpu / elapsed, 2),
        "load": round(load, 1),
    }


def run_mode(mode: str, kinds: list[str], seconds: float, workdir: Path) -> list[dict]:
    redis = RedisServer(workdir / "redis").start() if mode == "redis" else None
    env = {"REDIS_URL": redis.url} if redis else {}
    gateway = GatewayProcess(workdir / f"gateway-{mode}", LOG_LEVEL="WARNING", **env).start()
    try:
        rows = []
        for kind in kinds:
            row = {"mode": mode, **measure(gateway, kind, seconds)}
            print(json.dumps(row), flush=True)
            rows.append(row)
        return rows
    finally:
        gateway.stop()
        if redis is not None:
            redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("bystander").add_argument("url")
    one = sub.add_parser("abuser")
    one.add_argument("kind", choices=sorted(ABUSERS))
    one.add_argument("url")
    one.add_argument("seconds", type=float)
    parser.add_argument("--modes", default="embedded,redis")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="a 4 s window per abuser")
    args = parser.parse_args()
    if args.quick:
        args.seconds = QUICK_SECONDS
    if args.command == "bystander":
        asyncio.run(bystander(args.url))
        return
    if args.command == "abuser":
        asyncio.run(abuser(args.kind, args.url, args.seconds))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="abuse-") as tmp:
        for mode in args.modes.split(","):
            rows += run_mode(mode, args.kinds.split(","), args.seconds, Path(tmp))
    print(
        "\n| mode | abuser | done | bystander pings | median ms | p99 ms | max ms | gateway CPU | abuser CPU | load before |"
        f" goal (p99 < {GOAL_P99_MS:g}, max < {GOAL_MAX_MS:g}) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        met = row["p99_ms"] < GOAL_P99_MS and row["max_ms"] < GOAL_MAX_MS
        cells = [row[name] for name in ("mode", "kind", "done", "pings", "median_ms", "p99_ms", "max_ms")]
        cells += [row["gateway_cpu"], row["abuser_cpu"], row["load"], "met" if met else "missed"]
        print("| " + " | ".join(str(cell) for cell in cells) + " |")


if __name__ == "__main__":
    main()
