"""The OpenAPI document: a valid OpenAPI 3.1 document, with one operation for each route
the app registers (no more, no fewer), served at /api/v1/openapi.json and written, the
same, to docs/openapi.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from presence_gateway.entrypoints.asgi import create_app
from presence_gateway.entrypoints.http.openapi import PATH, openapi_document, rendered
from presence_gateway.entrypoints.wiring.settings import ServerApiSettings, ServerSettings, Settings

pytestmark = pytest.mark.anyio
DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
# Not an API: the demo page and the files it loads (off in production).
NOT_DOCUMENTED = {"static", "demo.page", "demo.asset", "demo.package_file", "demo.token"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def app_for(tmp_path: Path):
    settings = Settings(
        server=ServerSettings(data_dir=tmp_path, loop_monitor=True),
        server_api=ServerApiSettings(api_keys=(("backend", "k" * 40),)),
    )
    return create_app(settings)


def routes(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.other_asgi_app.url_map.iter_rules():
        if rule.endpoint in NOT_DOCUMENTED:
            continue
        path = re.sub(
            r"<(?:\w+:)?(\w+)>", lambda m: "{" + re.sub(r"_(\w)", lambda c: c[1].upper(), m[1]) + "}", rule.rule
        )
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((method.lower(), path))
    return found


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()

    validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_route_of_the_app_has_an_operation_and_every_operation_a_route(tmp_path: Path) -> None:
    documented = {(method, path) for path, item in openapi_document()["paths"].items() for method in item}

    assert documented == routes(app_for(tmp_path))


def test_docs_openapi_json_is_the_generated_document() -> None:
    assert DOCS.read_text() == rendered(), "run `make openapi` to write docs/openapi.json again"


async def test_the_document_is_served(tmp_path: Path) -> None:
    client = app_for(tmp_path).other_asgi_app.test_client()

    answer = await client.get(PATH)

    assert answer.status_code == 200 and answer.content_type == "application/json"
    assert json.loads(await answer.get_data()) == openapi_document()
