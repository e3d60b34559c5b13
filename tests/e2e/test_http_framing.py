"""HTTP/1.1 and WebSocket framing over a real socket, byte by byte, on the fast protocol
path and on hypercorn's own (``PRESENCE_FAST_PROTOCOL``): what a client that is not a
browser can send, and what it gets back. Both paths must answer alike."""

from __future__ import annotations

import base64
import os
import re
import socket
import struct
from pathlib import Path

import pytest

from .gateway_process import GatewayProcess

pytestmark = [pytest.mark.e2e]

WS_KEY = base64.b64encode(os.urandom(16)).decode()


@pytest.fixture(scope="module", params=["true", "false"], ids=["fast", "hypercorn"])
def gateway(request, tmp_path_factory: pytest.TempPathFactory):
    process = GatewayProcess(Path(tmp_path_factory.mktemp("framing")), PRESENCE_FAST_PROTOCOL=request.param).start()
    yield process
    process.stop()
    assert "Traceback" not in process.log(), process.log()


OPEN: list[socket.socket] = []


@pytest.fixture(autouse=True)
def _close_wires():
    """A connection left open would hold the gateway's graceful stop."""
    yield
    while OPEN:
        OPEN.pop().close()


class Wire:
    """One TCP connection; every read waits for bytes with a timeout."""

    def __init__(self, gateway: GatewayProcess, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=timeout)
        OPEN.append(self.sock)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _more(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        """The next HTTP response: status, headers (lower-case names), body."""
        while b"\r\n\r\n" not in self.buffer:
            assert self._more(), f"connection closed mid-head: {self.buffer!r}"
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
        if status < 200 or status == 101:
            return status, headers, b""
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                while b"\r\n" not in self.buffer:
                    assert self._more()
                size_line, self.buffer = self.buffer.split(b"\r\n", 1)
                size = int(size_line, 16)
                while len(self.buffer) < size + 2:
                    assert self._more()
                body, self.buffer = body + self.buffer[:size], self.buffer[size + 2 :]
                if size == 0:
                    return status, headers, body
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            assert self._more()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, headers, body

    def closed(self) -> bool:
        """True once the server has closed (reads until EOF or the timeout)."""
        try:
            while self._more():
                pass
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        return True

    def ws_frame(self) -> tuple[int, bytes]:
        while len(self.buffer) < 2:
            assert self._more(), "closed before a frame"
        first, second = self.buffer[0], self.buffer[1]
        length, offset = second & 0x7F, 2
        if length == 126:
            while len(self.buffer) < 4:
                assert self._more()
            (length,) = struct.unpack_from("!H", self.buffer, 2)
            offset = 4
        while len(self.buffer) < offset + length:
            assert self._more()
        payload = self.buffer[offset : offset + length]
        self.buffer = self.buffer[offset + length :]
        return first & 0x0F, payload

    def close(self) -> None:
        self.sock.close()


def masked(opcode: int, payload: bytes, fin: bool = True, mask: bool = True) -> bytes:
    first = (0x80 if fin else 0) | opcode
    key = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = bytes((first, (0x80 if mask else 0) | length))
    elif length < 65536:
        head = struct.pack("!BBH", first, (0x80 if mask else 0) | 126, length)
    else:
        head = struct.pack("!BBQ", first, (0x80 if mask else 0) | 127, length)
    if not mask:
        return head + payload
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def get(path: str, *extra: str) -> bytes:
    return ("\r\n".join([f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *extra]) + "\r\n\r\n").encode()


def ws_upgrade(*extra: str) -> bytes:
    return get(
        "/socket.io/?EIO=4&transport=websocket",
        "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {WS_KEY}", "Sec-WebSocket-Version: 13", *extra,
    )


def opened_websocket(gateway: GatewayProcess, *extra: str) -> tuple[Wire, dict[str, str]]:
    wire = Wire(gateway)
    wire.send(ws_upgrade(*extra))
    status, headers, _ = wire.response()
    assert status == 101
    opcode, payload = wire.ws_frame()
    assert opcode == 0x1 and payload.startswith(b"0{")  # Engine.IO's open packet
    return wire, headers


def polling_sid(wire: Wire) -> str:
    wire.send(get("/socket.io/?EIO=4&transport=polling"))
    status, _, body = wire.response()
    assert status == 200
    match = re.search(rb'"sid":"([^"]+)"', body)
    assert match
    return match.group(1).decode()


def test_keep_alive_serves_requests_one_after_another_on_one_connection(gateway) -> None:
    wire = Wire(gateway)
    for _ in range(3):
        wire.send(get("/healthz"))
        status, headers, body = wire.response()
        assert (status, body) == (200, b'{"status":"ok"}\n')
        assert headers.get("connection") != "close"
    wire.send(get("/healthz", "Connection: close"))
    assert wire.response()[0] == 200
    assert wire.closed()


def test_pipelined_requests_are_answered_in_order(gateway) -> None:
    wire = Wire(gateway)
    wire.send(get("/healthz") + get("/no-such-page") + get("/healthz", "Connection: close"))
    assert [wire.response()[0] for _ in range(3)] == [200, 404, 200]
    assert wire.closed()


@pytest.mark.parametrize(
    "request_bytes",
    [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: a\r\nBad Header Name: x\r\n\r\n"],
    ids=["request-line", "header-name"],
)
def test_a_malformed_request_gets_400_and_the_connection_closes(gateway, request_bytes: bytes) -> None:
    wire = Wire(gateway)
    wire.send(request_bytes)
    assert wire.response()[0] == 400
    assert wire.closed()


def fast(gateway: GatewayProcess) -> bool:
    return gateway.env["PRESENCE_FAST_PROTOCOL"] == "true"


def test_a_header_block_over_the_limit_is_refused_and_closed(gateway) -> None:
    wire = Wire(gateway)
    wire.send(get("/healthz", *(f"X-{i}: {'a' * 200}" for i in range(100))))  # 20 KiB, over hypercorn's 16 KiB
    status = wire.response()[0]
    if fast(gateway):  # h11 only counts a head still incomplete after a read, so hypercorn's path answers
        assert status == 431
        assert wire.closed()


def test_the_fast_path_refuses_an_unknown_http_version_and_too_many_headers(gateway) -> None:
    """hypercorn's own path (h11) is laxer and answers both: the test says so, so a change
    of either path shows."""
    wire = Wire(gateway)
    wire.send(b"GET / HTTP/9.9\r\n\r\n")
    version_status = wire.response()[0]
    wire = Wire(gateway)
    wire.send(get("/healthz", *(f"X-{i}: 1" for i in range(101))))
    headers_status = wire.response()[0]
    if fast(gateway):
        assert (version_status, headers_status) == (400, 431)
    else:
        assert (version_status, headers_status) == (200, 200)


def test_a_silent_connection_is_closed_after_the_keep_alive_timeout(gateway) -> None:
    wire = Wire(gateway, timeout=20)  # hypercorn's keep_alive_timeout is 5 s
    assert wire.closed()
    wire = Wire(gateway, timeout=20)
    wire.send(b"GET /healthz HTTP/1.1\r\n")  # a head that never ends
    assert wire.closed()


def test_a_chunked_body_reaches_the_app_whole_and_the_next_request_follows(gateway) -> None:
    wire = Wire(gateway)
    body = b'{"userId": "chunky"}'
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:5], body[5:11], body[11:]))
    wire.send(
        b"POST /demo/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n" + get("/healthz")
    )
    status, _, answer = wire.response()
    assert status == 200 and b'"userId":"chunky"' in answer.replace(b" ", b"")  # the three chunks, joined
    assert wire.response()[:3:2] == (200, b'{"status":"ok"}\n')  # the chunks ended where they said


def test_expect_100_continue_is_answered_before_the_body(gateway) -> None:
    wire = Wire(gateway)
    sid = polling_sid(wire)
    wire.send(
        f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: a\r\n"
        "Content-Type: text/plain\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n".encode()
    )
    assert wire.response()[0] == 100
    wire.send(b"40")  # CONNECT: read once the client sent it
    assert wire.response()[0] == 200


@pytest.mark.parametrize(
    "drop", ["Sec-WebSocket-Key", "Sec-WebSocket-Version"], ids=["no-key", "no-version"]
)
def test_an_incomplete_websocket_handshake_is_refused(gateway, drop: str) -> None:
    wire = Wire(gateway)
    request = b"\r\n".join(line for line in ws_upgrade().split(b"\r\n") if not line.startswith(drop.encode()))
    wire.send(request)
    assert wire.response()[0] == 400


def test_the_websocket_handshake_declines_permessage_deflate(gateway) -> None:
    wire, headers = opened_websocket(gateway, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
    assert "sec-websocket-extensions" not in headers
    wire.close()


def test_a_ping_is_answered_with_its_payload(gateway) -> None:
    wire, _ = opened_websocket(gateway)
    wire.send(masked(0x9, b"are you there"))
    assert wire.ws_frame() == (0xA, b"are you there")
    wire.close()


def test_a_close_is_answered_with_its_code_and_the_connection_ends(gateway) -> None:
    wire, _ = opened_websocket(gateway)
    wire.send(masked(0x8, struct.pack("!H", 1000) + b"bye"))
    opcode, payload = wire.ws_frame()
    assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1000
    assert wire.closed()


def test_a_fragmented_message_is_read_whole(gateway) -> None:
    wire, _ = opened_websocket(gateway)
    wire.send(masked(0x1, b"4", fin=False) + masked(0x9, b"mid") + masked(0x0, b"0", fin=True))  # "40": CONNECT
    assert wire.ws_frame() == (0xA, b"mid")  # a control frame may come between fragments
    opcode, payload = wire.ws_frame()
    assert opcode == 0x1 and payload.startswith(b"44")  # the CONNECT arrived whole (and has no token)
    wire.close()


def test_a_frame_over_the_message_limit_closes_with_1009(gateway) -> None:
    wire, _ = opened_websocket(gateway)
    wire.send(masked(0x1, b"4" + b"x" * 70000))
    opcode, payload = wire.ws_frame()
    assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1009


def test_an_unmasked_client_frame_closes_the_connection(gateway) -> None:
    wire, _ = opened_websocket(gateway)
    wire.send(masked(0x1, b"2", mask=False))
    if fast(gateway):
        opcode, payload = wire.ws_frame()
        assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1002
    assert wire.closed()  # hypercorn's own path drops it without a close frame


def test_the_http2_preface_is_served_by_hypercorns_http2(gateway) -> None:
    wire = Wire(gateway)
    wire.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # preface, empty SETTINGS
    while len(wire.buffer) < 9:
        assert wire._more()
    assert wire.buffer[3] == 0x04  # the server's SETTINGS frame
    wire.close()
