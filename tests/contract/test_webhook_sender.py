"""The webhooks' HTTP client against a real server on 127.0.0.1: it posts to the
configured URL only (a redirect is answered back as a failure, never followed) and a
receiver that does not answer is given up after the timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from presence_gateway.adapters.webhook_sender import HttpWebhookSender
from tests.support.local_http import serving

pytestmark = pytest.mark.anyio


class Server:
    def __init__(self) -> None:
        self.hits: list[str] = []
        self.url = ""


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    seen = Server()

    async def moved(request: web.Request) -> web.Response:
        seen.hits.append(request.path)
        raise web.HTTPFound("/elsewhere")

    async def elsewhere(request: web.Request) -> web.Response:
        seen.hits.append(request.path)
        return web.Response(status=200)

    async def slow(request: web.Request) -> web.Response:
        seen.hits.append(request.path)
        await asyncio.sleep(5)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", moved)
    app.router.add_post("/elsewhere", elsewhere)
    app.router.add_post("/slow", slow)
    async with serving(app) as url:
        seen.url = url
        yield seen


async def test_a_redirect_is_not_followed(server: Server) -> None:
    sender = HttpWebhookSender(server.url + "/hook", timeout=5)
    try:
        status = await sender.post(b"{}", {"Content-Type": "application/json"})
    finally:
        await sender.aclose()

    assert status == 302
    assert server.hits == ["/hook"]


async def test_a_receiver_that_does_not_answer_is_given_up_after_the_timeout(server: Server) -> None:
    sender = HttpWebhookSender(server.url + "/slow", timeout=0.3)
    started = time.monotonic()
    try:
        with pytest.raises(httpx.TimeoutException):
            await sender.post(b"{}", {})
    finally:
        await sender.aclose()

    assert time.monotonic() - started < 2
