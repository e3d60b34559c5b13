"""The demo page's HTTP side: where it is served, what it offers, and the development token
endpoint that production never has — through Quart's test client on the app factory."""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
import pytest

from presence_gateway.adapters.jwt.verifier import JwtTokenVerifier
from presence_gateway.domain.statuses import BUILTIN_STATUSES, Status, StatusRegistry
from presence_gateway.domain.user_ids import user_id_problem
from presence_gateway.entrypoints.asgi import create_app
from presence_gateway.entrypoints.http.demo_page import demo_blueprint
from presence_gateway.entrypoints.wiring.settings import Settings
from tests.fakes import known

pytestmark = pytest.mark.anyio

SECRET = "unit-secret-that-is-long-enough-for-hs256"
STATUSES_FILE = Path(__file__).resolve().parents[2] / "examples" / "statuses.toml"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Quart is asyncio-only


def http_app(tmp_path: Path, **env: str):
    settings = Settings.from_env({"JWT_SECRET_ACCESS": SECRET, "PRESENCE_DATA_DIR": str(tmp_path), **env})
    return create_app(settings).other_asgi_app.test_client()


def page_config(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="demo-config">(.*?)</script>', html, re.S)
    assert found, html
    return json.loads(found.group(1))


async def get_page(client):
    response = await client.get("/")
    return response.status_code, await response.get_data(as_text=True), response.headers


async def mint(client, body: bytes | object, host: str = "localhost"):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    response = await client.post(
        "/demo/token", data=data, headers={"Content-Type": "application/json", "Host": host}
    )
    return response.status_code, await response.get_json()


async def test_the_page_offers_every_status_a_user_may_choose_including_the_statuses_file(tmp_path: Path) -> None:
    status, html, headers = await get_page(http_app(tmp_path, PRESENCE_STATUSES_FILE=str(STATUSES_FILE)))

    assert status == 200
    config = page_config(html)
    choosable = [s["name"] for s in config["statuses"] if s["choosable"]]
    assert choosable == ["ONLINE", "OFFLINE", "IDLE", "DND", "INVISIBLE", "STREAMING", "IN_CALL"]
    assert {"name": "AWAY", "choosable": False, "online": True, "seenAs": "AWAY"} in config["statuses"]
    assert {"name": "INVISIBLE", "choosable": True, "online": False, "seenAs": "OFFLINE"} in config["statuses"]
    assert config["tokenEndpoint"] == "/demo/token"
    assert "script-src 'self'" in headers["Content-Security-Policy"]


async def test_production_serves_no_page_unless_asked(tmp_path: Path) -> None:
    client = http_app(tmp_path, PRESENCE_ENV="production")

    status, _, _ = await get_page(client)

    assert status == 404
    assert (await client.post("/demo/token", json={"userId": "42"})).status_code == 404


async def test_production_asked_for_the_page_has_no_token_endpoint(tmp_path: Path) -> None:
    client = http_app(tmp_path, PRESENCE_ENV="production", PRESENCE_DEMO="1")

    status, html, _ = await get_page(client)

    assert status == 200
    assert page_config(html)["tokenEndpoint"] is None  # the page asks for a token instead
    assert (await mint(client, {"userId": "42"}))[0] == 404


async def test_development_can_turn_the_page_off(tmp_path: Path) -> None:
    client = http_app(tmp_path, PRESENCE_DEMO="false")

    assert (await get_page(client))[0] == 404
    assert (await mint(client, {"userId": "42"}))[0] == 404


async def test_a_development_token_signs_in_as_the_user_asked_for(tmp_path: Path) -> None:
    client = http_app(tmp_path, JWT_EXPIRES_IN="1h")

    status, body = await mint(client, {"userId": "alice"})
    numeric_status, numeric = await mint(client, {"userId": 42})

    assert (status, body["userId"]) == (200, "alice")
    assert JwtTokenVerifier(SECRET).identify_now(body["token"]).user_id == "alice"
    assert (numeric_status, JwtTokenVerifier(SECRET).identify_now(numeric["token"]).user_id) == (200, "42")


@pytest.mark.parametrize("host", ["127.0.0.1:3000", "[::1]:3000", "localhost"])
async def test_tokens_are_handed_out_on_loopback_names(tmp_path: Path, host: str) -> None:
    assert (await mint(http_app(tmp_path), {"userId": "alice"}, host=host))[0] == 200


@pytest.mark.parametrize("host", ["evil.test", "evil.test:3000", "192.168.1.20:3000", "localhost.evil.test"])
async def test_no_token_for_a_page_that_reached_the_gateway_under_another_name(tmp_path: Path, host: str) -> None:
    status, body = await mint(http_app(tmp_path), {"userId": "alice"}, host=host)

    assert (status, body["error"]["code"]) == (403, "forbidden")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"userId": ""}, 400, "invalid_payload"),
        ({"userId": "x" * 256}, 400, "invalid_payload"),
        ({"userId": "bad\nid"}, 400, "invalid_payload"),
        ({"userId": True}, 400, "invalid_payload"),
        (["alice"], 400, "invalid_payload"),
        (b"not json", 400, "invalid_payload"),
        ({"userId": "x" * 5000}, 413, "limit"),
    ],
)
async def test_a_bad_token_request_is_refused_with_its_reason(tmp_path: Path, body, status: int, code: str) -> None:
    answer_status, answer = await mint(http_app(tmp_path), body)

    assert (answer_status, answer["error"]["code"]) == (status, code)


@pytest.mark.parametrize("user_id", ["a:b", "{b1}x", "sockets"])
async def test_no_token_is_minted_for_an_id_the_gateway_refuses(tmp_path: Path, user_id: str) -> None:
    """The page answers with the domain's own refusal: the id would never connect."""
    answer_status, answer = await mint(http_app(tmp_path), {"userId": user_id})

    assert answer_status == 400
    problem = known(user_id_problem(user_id))
    assert answer["error"] == {"code": "invalid_payload", "message": f"user id {user_id!r} is refused: {problem}"}


def test_the_token_command_refuses_an_id_the_gateway_refuses(tmp_path: Path, monkeypatch, capsys) -> None:
    from presence_gateway.entrypoints.process.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JWT_SECRET_ACCESS", SECRET)
    assert main(["token", "--user", "a:b"]) == 2
    assert capsys.readouterr().err.strip() == "presence-gateway: user id 'a:b' is refused: contains ':', '{' or '}'"
    assert main(["token", "--user", "a-b"]) == 0
    assert JwtTokenVerifier(SECRET).identify_now(capsys.readouterr().out.strip()).user_id == "a-b"


async def test_without_the_client_script_the_page_says_so_and_still_loads(tmp_path: Path) -> None:
    from quart import Quart

    app = Quart(__name__)
    app.register_blueprint(demo_blueprint(StatusRegistry(BUILTIN_STATUSES), None, client_dist=tmp_path))
    client = app.test_client()

    status, html, _ = await get_page(client)

    assert (status, page_config(html)["clientScript"]) == (200, False)
    assert (await client.get("/demo/assets/socket.io.min.js")).status_code == 404
    assert (await client.get("/demo/assets/demo.js")).status_code == 200


async def test_the_page_serves_the_npm_client_and_nothing_else_from_its_folders(tmp_path: Path) -> None:
    from quart import Quart

    dist = tmp_path / "node_modules" / "socket.io-client" / "dist"
    dist.mkdir(parents=True)
    (dist / "socket.io.min.js").write_text("/* the client */")
    (dist / "socket.io.js").write_text("/* not served */")
    (tmp_path / "package.json").write_text("{}")
    app = Quart(__name__)
    app.register_blueprint(demo_blueprint(StatusRegistry(BUILTIN_STATUSES), None, client_dist=dist))
    client = app.test_client()

    script = await client.get("/demo/assets/socket.io.min.js")

    assert (script.status_code, await script.get_data()) == (200, b"/* the client */")
    assert script.headers["Content-Type"].startswith("text/javascript")
    for name in ("socket.io.js", "..%2F..%2F..%2Fpackage.json", "index.html", "%2Fetc%2Fpasswd"):
        assert (await client.get(f"/demo/assets/{name}")).status_code == 404


async def test_a_status_name_cannot_break_out_of_the_page_config(tmp_path: Path) -> None:
    from quart import Quart

    hostile = "</script <!-- &lt;img src=x onerror=alert(1)>"
    app = Quart(__name__)
    registry = StatusRegistry([*BUILTIN_STATUSES, Status(hostile)])
    app.register_blueprint(demo_blueprint(registry, None, client_dist=tmp_path))

    _, html, _ = await get_page(app.test_client())

    raw = html.split('id="demo-config">', 1)[1].split("</script>", 1)[0]
    assert not set("<>&") & set(raw)  # nothing an HTML parser could read inside the element
    assert hostile in [s["name"] for s in page_config(html)["statuses"]]


def test_the_page_looks_for_its_client_where_the_makefile_installs_it() -> None:
    """`make run` installs the script with `npm ci --prefix web` at the checkout's top; the
    page must look there, wherever its own module sits in the source tree."""
    from presence_gateway.entrypoints.http.demo_page import CLIENT_DIST

    checkout = Path(__file__).resolve().parents[2]
    assert CLIENT_DIST == checkout / "web" / "node_modules" / "socket.io-client" / "dist"


async def test_the_page_loads_the_presence_client_through_an_import_map_its_policy_allows(tmp_path: Path) -> None:
    """The page is built on @presence-gateway/client (clients/js/dist): an ES module whose
    ``socket.io-client`` import the page's inline import map resolves, allowed by its hash
    in the Content-Security-Policy and by nothing looser."""
    import base64
    import hashlib

    from quart import Quart

    dist, package = tmp_path / "sio", tmp_path / "package"
    dist.mkdir()
    package.mkdir()
    (dist / "socket.io.esm.min.js").write_text("export const io = () => {};")
    (package / "index.js").write_text("export { PresenceClient } from './client.js';")
    (package / "client.js").write_text("/* the client */")
    (package / "react.js").write_text("/* not for the page */")
    app = Quart(__name__)
    app.register_blueprint(
        demo_blueprint(StatusRegistry(BUILTIN_STATUSES), None, client_dist=dist, package_dist=package)
    )
    client = app.test_client()

    status, html, headers = await get_page(client)

    assert (status, page_config(html)["clientScript"]) == (200, True)
    import_map = re.search(r'<script type="importmap">(.*?)</script>', html, re.S)
    assert import_map is not None
    assert json.loads(import_map.group(1)) == {"imports": {"socket.io-client": "/demo/assets/socket.io.esm.min.js"}}
    digest = base64.b64encode(hashlib.sha256(import_map.group(1).encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert '<script type="module" src="/demo/assets/demo.js">' in html
    index = await client.get("/demo/assets/client/index.js")
    assert (index.status_code, index.headers["Content-Type"].split(";")[0]) == (200, "text/javascript")
    assert (await client.get("/demo/assets/socket.io.esm.min.js")).status_code == 200
    for name in ("react.js", "..%2Findex.js", "package.json"):
        assert (await client.get(f"/demo/assets/client/{name}")).status_code == 404
    (package / "index.js").unlink()
    _, html, _ = await get_page(client)
    assert page_config(html)["clientScript"] is False, "without the built package the page says so"
