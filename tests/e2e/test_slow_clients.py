"""Clients that hold a connection by being slow, over real sockets, on the fast protocol
path and on hypercorn's own (``PRESENCE_FAST_PROTOCOL``): a request whose head or body
trickles a byte a second is cut off at the request deadline (``PRESENCE_REQUEST_DEADLINE``,
made short here), however steadily it trickles; a request sent in pieces inside the
deadline is served; a WebSocket client that stops reading while the gateway writes to it
is cut off once its queue passes ``PRESENCE_MAX_QUEUED_BYTES`` (or
``PRESENCE_MAX_QUEUED_PACKETS``). A bystander on the same
address is served throughout."""

from __future__ import annotations

import asyncio
import json
import re
import select
import socket
import time
from pathlib import Path

import aiohttp
import pytest

from .clients import token_for
from .gateway_process import GatewayProcess
from .raw_socket import RawSocket

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

DEADLINE = 2.0
MAX_QUEUED = 10
MAX_QUEUED_BYTES = 256 * 1024
TRICKLE = 1.0  # seconds between bytes: far inside hypercorn's 60 s idle read timeout
LATE = 2.0  # how much later than the deadline a loaded machine may cut


@pytest.fixture(scope="module", params=["true", "false"], ids=["fast", "hypercorn"])
def gateway(request, tmp_path_factory: pytest.TempPathFactory):
    process = GatewayProcess(
        Path(tmp_path_factory.mktemp("slow-clients")),
        PRESENCE_FAST_PROTOCOL=request.param,
        PRESENCE_REQUEST_DEADLINE=str(DEADLINE),
        PRESENCE_MAX_QUEUED_PACKETS=str(MAX_QUEUED),
        PRESENCE_MAX_QUEUED_BYTES=str(MAX_QUEUED_BYTES),
        PRESENCE_EVENTS_PER_MINUTE="100000",  # the client that stops reading asks for a lot of output
        PRESENCE_USER_EVENTS_PER_MINUTE="100000",
    ).start()
    yield process
    process.stop()
    assert "Traceback" not in process.log(), process.log()


async def trickle(gateway: GatewayProcess, head: bytes, rest: bytes) -> tuple[float, bytes]:
    """Sends ``head`` at once, then ``rest`` a byte every ``TRICKLE`` seconds until the
    server ends the connection: how long the connection lived, and what it answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    started = time.monotonic()
    answer = b""
    try:
        writer.write(head)
        for byte in rest[: int((DEADLINE + LATE) / TRICKLE) + 3]:  # well past the deadline, not the whole request
            try:
                answer += await asyncio.wait_for(reader.read(4096), TRICKLE)  # the pace, and the end when it comes
            except TimeoutError:
                writer.write(bytes([byte]))
                continue
            if reader.at_eof():
                break
        else:
            pytest.fail(f"still open after {time.monotonic() - started:.1f} s: {answer!r}")
    except ConnectionError:
        pass
    finally:
        writer.close()
    return time.monotonic() - started, answer


async def polling_sid(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(f"{url}/socket.io/?EIO=4&transport=polling") as response:
        return json.loads((await response.text())[1:])["sid"]


def polling_post(sid: str, body: bytes) -> bytes:
    return (
        f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()


async def test_a_polling_post_whose_body_trickles_is_cut_off_at_the_deadline(gateway) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        sid = await polling_sid(http, gateway.url)
        body = b"40" + json.dumps({"token": token_for("trickler")}).encode()
        bystander = await RawSocket.connect(gateway.url, token_for("slow-bystander"))
        try:
            waiting = asyncio.ensure_future(trickle(gateway, polling_post(sid, body), body))
            while not waiting.done():  # served the whole time
                await bystander.round_trip()
                await asyncio.wait([waiting], timeout=0.1)
            lived, answer = await waiting
            assert DEADLINE - 0.1 <= lived <= DEADLINE + LATE, lived
            assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer  # never taken as a whole request
            async with http.get(f"{gateway.url}/socket.io/?EIO=4&transport=polling&sid={sid}") as response:
                assert response.status == 400  # the session whose POST was cut is gone, not fed half a packet
            await bystander.round_trip()
        finally:
            await bystander.close()


async def test_a_head_that_trickles_is_cut_off_at_the_deadline(gateway) -> None:
    lived, answer = await trickle(gateway, b"GET /healthz HTTP/1.1\r\n", b"X-Slow: " + b"y" * 40 + b"\r\n\r\n")
    assert DEADLINE - 0.1 <= lived <= DEADLINE + LATE, lived
    assert answer == b"", answer


async def test_a_request_sent_in_pieces_inside_the_deadline_is_served(gateway) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        sid = await polling_sid(http, gateway.url)
    body = b"40" + json.dumps({"token": token_for("in-pieces")}).encode()
    request = polling_post(sid, body) + body
    cut = len(request) - len(body) // 2
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:
        for piece in (request[:20], request[20:cut]):  # the head split, then half the body
            writer.write(piece)
            with pytest.raises(TimeoutError):  # nothing comes back until the request is whole
                await asyncio.wait_for(reader.read(1), DEADLINE / 4)
        writer.write(request[cut:])
        answer = b""
        while not answer.endswith(b"0\r\n\r\n"):  # the chunked answer's end
            answer += await asyncio.wait_for(reader.read(4096), 5)
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert b"\r\n2\r\nOK\r\n" in answer, answer
    finally:
        writer.close()


def websocket_frame(text: str) -> bytes:
    """A client's text frame, masked with a zero key (every byte XORed with 0)."""
    data = text.encode()
    n = len(data)
    length = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return b"\x81" + length + b"\0\0\0\0" + data


def reset_or_closed(sock: socket.socket, timeout: float) -> bool:
    """Waits, reading nothing, until the server resets or closes the connection."""
    poller = select.epoll()
    try:
        poller.register(sock.fileno(), select.EPOLLRDHUP | select.EPOLLERR | select.EPOLLHUP)
        return bool(poller.poll(timeout))
    finally:
        poller.close()


async def test_a_websocket_client_that_stops_reading_is_cut_off_once_its_queue_passes_the_bound(gateway) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a client that takes little, then nothing
    sock.connect(("127.0.0.1", gateway.port))
    sock.sendall(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.settimeout(5)
    opened = b""
    while b'"sid"' not in opened:  # the 101 and Engine.IO's OPEN: the last bytes this client reads
        opened += sock.recv(4096)
    sock.sendall(websocket_frame("40" + json.dumps({"token": token_for("never-reads")})))
    ids = json.dumps({"userIds": [f"watched-{n:04d}-" + "x" * 45 for n in range(1000)]})
    bystander = await RawSocket.connect(gateway.url, token_for("reader-bystander"))
    try:
        stopped = time.monotonic()  # it read its last byte above
        try:
            for n in range(60):  # ~150 KB acks: more than the kernel (up to 4 MiB) and the transport take
                sock.sendall(websocket_frame(f'42{n}["presence:subscribe",{ids}]'))
            for n in range(2000):  # then pongs, quick to make, each queued behind them
                sock.sendall(websocket_frame('42["ping"]'))
                if n % 50 == 49:
                    await bystander.round_trip()
                    if reset_or_closed(sock, 0):
                        break
        except (ConnectionError, TimeoutError):
            pass  # the reset reached this side while it was still sending
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, reset_or_closed, sock, 2 * DEADLINE + 5)
        cut = time.monotonic() - stopped
        assert cut <= 2 * DEADLINE + LATE, cut
        why = re.compile(r"stopped reading \(\d+ packets, \d+ bytes waiting\)|whose client read nothing of its output for 2 s")
        assert why.search(gateway.log())
        await bystander.round_trip()
    finally:
        sock.close()
        await bystander.close()


async def test_a_websocket_client_that_reads_what_it_asked_for_keeps_its_socket(gateway) -> None:
    """The same ~50 KB answers, 10 MB of them in bursts of 2 MB, to a client that reads
    them: each is answered and the socket stays (the bound cuts non-readers only)."""
    ids = json.dumps({"userIds": [f"watched-{n:04d}-" + "x" * 45 for n in range(1000)]})
    reader = await RawSocket.connect(gateway.url, token_for("reads-all"))
    try:
        answered = 0
        for burst in range(5):
            for n in range(40):
                await reader.send(f'42{burst * 40 + n}["presence:subscribe",{ids}]')
            while answered < (burst + 1) * 40:
                if (await reader.frame(10)).startswith("43"):
                    answered += 1
        assert answered == 200
        await reader.round_trip()  # still connected
    finally:
        await reader.close()
