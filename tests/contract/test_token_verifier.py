"""The TokenVerifier contract: the user id, or a refusal that says which of three reasons —
for the JWT verifier the gateway runs and the table verifier the unit tests run on. Each
names how it issues a token for a user; what follows the JWT section is its own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from presence_gateway.adapters.jwt.minter import mint_token
from presence_gateway.adapters.jwt.verifier import JwtTokenVerifier
from presence_gateway.domain.errors import ExpiredToken, InvalidToken, MissingToken
from presence_gateway.domain.ports import Identity, TokenVerifier
from tests.fakes import FakeClock, TableTokenVerifier

pytestmark = pytest.mark.anyio

SECRET = "your_secret_key"
CLOCK = FakeClock(1_800_000_000.0)


def signed(claims: dict, *, secret: str = SECRET, alg: str = "HS256") -> str:
    return jwt.encode({"alg": alg}, claims, OctKey.import_key(secret), algorithms=[alg])


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def signed_ascii(claims: dict, secret: str = SECRET) -> str:
    """HS256 over JSON with ``\\uXXXX`` escapes, as a hostile issuer can write a lone
    surrogate (no encoder would take the str itself)."""
    header = b64({"alg": "HS256", "typ": "JWT"})
    body = base64.urlsafe_b64encode(json.dumps(claims, ensure_ascii=True).encode()).rstrip(b"=").decode()
    mac = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


@dataclass(frozen=True)
class Issuer:
    """A verifier and how a token naming a user is made for it."""

    verifier: TokenVerifier
    token_for: Callable[[str], str]


@pytest.fixture
def jwt_verifier() -> JwtTokenVerifier:
    return JwtTokenVerifier(SECRET, CLOCK)


@pytest.fixture(params=["jwt", "table"])
def issuer(request: pytest.FixtureRequest) -> Issuer:
    if request.param == "jwt":
        return Issuer(JwtTokenVerifier(SECRET, CLOCK), lambda user: signed_ascii({"sub": user}))
    return Issuer(TableTokenVerifier(), lambda user: "token-" + user)


# ---------------------------------------------------------------- every verifier


async def test_a_valid_token_names_its_user(issuer: Issuer) -> None:
    assert await issuer.verifier.verify(issuer.token_for("42")) == "42"


@pytest.mark.parametrize("token", [None, ""])
async def test_no_token_is_missing(issuer: Issuer, token) -> None:
    with pytest.raises(MissingToken, match="missing token"):
        await issuer.verifier.verify(token)


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b.c", 12345, {"token": "x"}, ["token-42"], "x" * 20_000],
    ids=["garbage", "three-parts", "number", "object", "list", "huge"],
)
async def test_what_no_issuer_made_is_invalid(issuer: Issuer, token) -> None:
    with pytest.raises(InvalidToken, match="invalid token"):
        await issuer.verifier.verify(token)


@pytest.mark.parametrize("scheme", ["Bearer ", "bearer ", "BEARER "])
async def test_the_bearer_scheme_is_tolerated_in_any_case_as_in_http(issuer: Issuer, scheme) -> None:
    assert await issuer.verifier.verify(scheme + issuer.token_for("7")) == "7"


# Subjects that would forge log lines, break an encoder or a database, or reach another
# key's name in Redis (domain/user_ids.py).
HOSTILE_SUBJECTS = {
    "empty": "",
    "newline": "42\nINFO forged line",
    "carriage-return": "42\r",
    "nul": "nul\x00user",
    "lone-surrogate": "\ud800",
    "bidi-override": "42\u202e",
    "key-word-sockets": "sockets",
    "key-word-instance": "instance",
    "colon": "a:b",
    "hash-tag": "{42}",
    "too-long": "x" * 256,
}


@pytest.mark.parametrize("subject", list(HOSTILE_SUBJECTS.values()), ids=list(HOSTILE_SUBJECTS))
async def test_a_token_naming_what_is_not_a_valid_user_id_is_invalid(issuer: Issuer, subject) -> None:
    with pytest.raises(InvalidToken, match="^invalid token$"):
        await issuer.verifier.verify(issuer.token_for(subject))


@pytest.mark.parametrize("subject", ["42", "u-7", "alice@example.com", "auth0|5f3a", "Sockets", "x" * 255, "é-ü"])
async def test_ordinary_ids_are_valid_subjects(issuer: Issuer, subject) -> None:
    assert await issuer.verifier.verify(issuer.token_for(subject)) == subject


async def test_identify_names_the_same_user_and_a_token_without_expiry_lasts(issuer: Issuer) -> None:
    identity = await issuer.verifier.identify(issuer.token_for("7"))

    assert identity == Identity("7", float("inf"))
    assert await issuer.verifier.verify(issuer.token_for("7")) == identity.user_id


async def test_identify_refuses_as_verify_does(issuer: Issuer) -> None:
    with pytest.raises(MissingToken):
        await issuer.verifier.identify(None)
    with pytest.raises(InvalidToken):
        await issuer.verifier.identify("not-a-jwt")


# ---------------------------------------------------------------- JWT


@pytest.fixture
def verifier(jwt_verifier: JwtTokenVerifier) -> JwtTokenVerifier:
    return jwt_verifier


async def test_a_token_the_token_command_mints_names_its_user(verifier) -> None:
    assert await verifier.verify(mint_token(SECRET, "42", 3600, now=CLOCK.now())) == "42"


async def test_a_numeric_subject_becomes_a_string(verifier) -> None:
    assert await verifier.verify(signed({"sub": 42})) == "42"


@pytest.mark.parametrize(
    "token",
    [
        signed({"sub": "42"}, secret="another-secret"),
        signed({"sub": "42"}, alg="HS512"),
        f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'sub': '42'})}.",
        signed({"name": "no subject"}),
        signed({"sub": True}),
        signed({"sub": ""}),
        signed({"sub": "42", "nbf": int(CLOCK.now()) + 600}),
    ],
    ids=["bad-signature", "other-alg", "alg-none", "no-sub", "bool-sub", "empty-sub", "not-yet-valid"],
)
async def test_a_token_not_signed_as_configured_is_invalid(verifier, token) -> None:
    with pytest.raises(InvalidToken, match="invalid token"):
        await verifier.verify(token)


async def test_an_expired_token_says_so(verifier) -> None:
    with pytest.raises(ExpiredToken, match="expired token"):
        await verifier.verify(mint_token(SECRET, "42", 60, now=CLOCK.now() - 3600))


async def test_identify_carries_the_expiry(verifier) -> None:
    exp = int(CLOCK.now()) + 60
    identity = await verifier.identify(signed({"sub": "7", "exp": exp}))
    assert (identity.user_id, identity.expires_at) == ("7", float(exp))
    assert (await verifier.identify(signed({"sub": "7"}))).expires_at == float("inf")


async def test_tokens_signed_with_a_previous_secret_verify_during_rotation() -> None:
    new, old = "n" * 32, "o" * 32
    verifier = JwtTokenVerifier(new, CLOCK, previous_secrets=[old])
    assert await verifier.verify(signed({"sub": "1"}, secret=old)) == "1"
    assert await verifier.verify(signed({"sub": "2"}, secret=new)) == "2"
    with pytest.raises(InvalidToken):
        await verifier.verify(signed({"sub": "3"}, secret="x" * 32))


async def test_issuer_and_audience_are_required_when_configured() -> None:
    verifier = JwtTokenVerifier(SECRET, CLOCK, issuer="https://id.example", audience="presence")
    good = {"sub": "1", "iss": "https://id.example", "aud": "presence"}
    assert await verifier.verify(signed(good)) == "1"
    for claims in ({**good, "iss": "https://evil.example"}, {**good, "aud": "other"}, {"sub": "1"}):
        with pytest.raises(InvalidToken):
            await verifier.verify(signed(claims))
