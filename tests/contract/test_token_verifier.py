"""The TokenVerifier contract: the user id, or a refusal that says which of three reasons."""

from __future__ import annotations

import base64
import json

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from presence_gateway.adapters.jwt.minter import mint_token
from presence_gateway.adapters.jwt.verifier import JwtTokenVerifier
from presence_gateway.domain.errors import ExpiredToken, InvalidToken, MissingToken
from tests.fakes import FakeClock

pytestmark = pytest.mark.anyio

SECRET = "your_secret_key"
CLOCK = FakeClock(1_800_000_000.0)


@pytest.fixture
def jwt_verifier() -> JwtTokenVerifier:
    return JwtTokenVerifier(SECRET, CLOCK)


@pytest.fixture(params=["jwt_verifier"])
def verifier(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


def signed(claims: dict, *, secret: str = SECRET, alg: str = "HS256") -> str:
    return jwt.encode({"alg": alg}, claims, OctKey.import_key(secret), algorithms=[alg])


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_a_valid_token_names_its_user(verifier) -> None:
    assert await verifier.verify(mint_token(SECRET, "42", 3600, now=CLOCK.now())) == "42"


async def test_a_numeric_subject_becomes_a_string(verifier) -> None:
    assert await verifier.verify(signed({"sub": 42})) == "42"


async def test_a_token_without_expiry_is_accepted(verifier) -> None:
    assert await verifier.verify(signed({"sub": "7"})) == "7"


async def test_a_bearer_prefix_is_tolerated(verifier) -> None:
    assert await verifier.verify("Bearer " + signed({"sub": "7"})) == "7"


@pytest.mark.parametrize("token", [None, ""])
async def test_no_token_is_missing(verifier, token) -> None:
    with pytest.raises(MissingToken, match="missing token"):
        await verifier.verify(token)


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "a.b.c",
        12345,
        {"token": "x"},
        "x" * 20_000,
        signed({"sub": "42"}, secret="another-secret"),
        signed({"sub": "42"}, alg="HS512"),
        f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'sub': '42'})}.",
        signed({"name": "no subject"}),
        signed({"sub": True}),
        signed({"sub": ""}),
        signed({"sub": "42", "nbf": int(CLOCK.now()) + 600}),
    ],
    ids=["garbage", "three-parts", "number", "object", "huge", "bad-signature", "other-alg", "alg-none", "no-sub", "bool-sub", "empty-sub", "not-yet-valid"],
)
async def test_a_token_that_does_not_verify_is_invalid(verifier, token) -> None:
    with pytest.raises(InvalidToken, match="invalid token"):
        await verifier.verify(token)


async def test_an_expired_token_says_so(verifier) -> None:
    with pytest.raises(ExpiredToken, match="expired token"):
        await verifier.verify(mint_token(SECRET, "42", 60, now=CLOCK.now() - 3600))
