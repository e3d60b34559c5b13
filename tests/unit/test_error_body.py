"""The one body every refusal is answered with, by socket or HTTP."""

from __future__ import annotations

import logging

import orjson
import pytest

from presence_gateway.domain.errors import LimitExceeded, Unavailable
from presence_gateway.entrypoints.error_body import error_body
from presence_gateway.entrypoints.http.presence_api import error_response


def test_a_core_error_says_its_code_and_message() -> None:
    assert error_body(LimitExceeded("at most 3 ids")) == {"code": "limit", "message": "at most 3 ids"}


def test_anything_else_is_logged_with_its_traceback_and_told_as_internal(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        body = error_body(KeyError("secret detail"), "ping from socket s1")
    assert body == {"code": "internal", "message": "internal error"}
    [record] = caplog.records
    assert record.getMessage() == "ping from socket s1 failed"
    assert record.exc_info is not None and isinstance(record.exc_info[1], KeyError)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_http_answers_with_the_same_body_and_the_status_of_its_kind() -> None:
    from quart import Quart

    async with Quart(__name__).app_context():
        for error, status in ((Unavailable(), 503), (RuntimeError("boom"), 500)):
            response = error_response(error)
            assert response.status_code == status
            assert orjson.loads(await response.get_data()) == {"error": error_body(error)}
