"""Tokens from an identity provider: keys from a JWKS endpoint this test serves itself,
over real HTTP on the loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import warnings

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, OKPKey, RSAKey

from presence_gateway.adapters.jwt.jwks import JwksKeys
from presence_gateway.adapters.jwt.verifier import JwtTokenVerifier
from presence_gateway.domain.errors import InvalidToken
from tests.fakes import FakeClock

pytestmark = pytest.mark.anyio

SECRET = "hs256-secret-that-is-long-enough-for-it"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class JwksServer:
    """Serves ``keys`` (public parts) at /jwks.json and counts the requests."""

    def __init__(self) -> None:
        self.keys: list = []
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.requests += 1
                body = json.dumps(KeySet(outer.keys).as_dict(private=False)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def provider():
    server = JwksServer()
    yield server
    server.close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def issued(key, alg: str, claims: dict) -> str:
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def verifier_for(provider: JwksServer, clock: FakeClock) -> JwtTokenVerifier:
    return JwtTokenVerifier(SECRET, clock, jwks=JwksKeys(provider.url, clock=clock, min_refresh=60.0))


async def test_rs256_es256_and_eddsa_tokens_verify_with_the_providers_keys(provider) -> None:
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
    okp = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"})
    ed = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-2"})
    provider.keys = [rsa, ec, okp, ed]
    clock = FakeClock()
    verifier = verifier_for(provider, clock)

    assert await verifier.verify(issued(rsa, "RS256", {"sub": "1"})) == "1"
    assert await verifier.verify(issued(ec, "ES256", {"sub": "2"})) == "2"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc: the name EdDSA is deprecated, still issued
        assert await verifier.verify(issued(okp, "EdDSA", {"sub": "3"})) == "3"
    assert await verifier.verify(issued(ed, "Ed25519", {"sub": "5"})) == "5"
    assert await verifier.verify(jwt.encode({"alg": "HS256"}, {"sub": "4"}, OctKey.import_key(SECRET))) == "4"
    assert provider.requests == 1  # cached


async def test_a_rotated_key_is_fetched_once_and_invented_kids_do_not_hammer_the_provider(provider) -> None:
    old = RSAKey.generate_key(2048, parameters={"kid": "old"})
    provider.keys = [old]
    clock = FakeClock()
    verifier = verifier_for(provider, clock)
    assert await verifier.verify(issued(old, "RS256", {"sub": "1"})) == "1"

    new = RSAKey.generate_key(2048, parameters={"kid": "new"})
    provider.keys = [old, new]
    clock.advance(61)
    assert await verifier.verify(issued(new, "RS256", {"sub": "2"})) == "2"
    assert provider.requests == 2

    stranger = RSAKey.generate_key(2048, parameters={"kid": "invented"})
    for _minute in range(3):
        clock.advance(61)
        for n in range(20):
            with pytest.raises(InvalidToken):
                await verifier.verify(issued(stranger, "RS256", {"sub": str(n)}))
    assert provider.requests == 2 + 3  # one refresh per minute, whatever arrives


async def test_the_algorithm_comes_from_configuration_not_from_the_token(provider) -> None:
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    provider.keys = [rsa]
    verifier = verifier_for(provider, FakeClock())
    # HS256 "signed" with the provider's public key (the classic confusion) is refused.
    public_pem = rsa.as_pem(private=False)
    header = _b64(json.dumps({"alg": "HS256", "kid": "rsa-1"}).encode())
    body = _b64(json.dumps({"sub": "1"}).encode())
    mac = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{body}.{_b64(mac)}"
    with pytest.raises(InvalidToken):
        await verifier.verify(forged)
    # and an RS256 token means nothing to a gateway configured without a JWKS
    with pytest.raises(InvalidToken):
        await JwtTokenVerifier(SECRET, FakeClock()).verify(issued(rsa, "RS256", {"sub": "1"}))


async def test_a_provider_that_cannot_be_reached_refuses_the_token_and_crashes_nothing() -> None:
    clock = FakeClock()
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    verifier = JwtTokenVerifier(SECRET, clock, jwks=JwksKeys("http://127.0.0.1:9/jwks.json", clock=clock))
    with pytest.raises(InvalidToken):
        await verifier.verify(issued(rsa, "RS256", {"sub": "1"}))
