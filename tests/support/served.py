"""An ASGI app served by hypercorn in the test's own event loop, for as long as a block
runs: ready once a Socket.IO client could connect, stopped on leaving."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import socketio
from hypercorn.asyncio import serve
from hypercorn.config import Config

from tests.e2e.clients import Client
from tests.e2e.gateway_process import free_port


@asynccontextmanager
async def served(app: Any, probe_auth: dict[str, Any], timeout: float = 10.0) -> AsyncIterator[str]:
    """The app's URL; ``probe_auth``, what a connect the app accepts sends."""
    config = Config()
    port = free_port()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.graceful_timeout = 0.5
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: serve(app, config, shutdown_trigger=stop.wait))
        url = f"http://127.0.0.1:{port}"
        with anyio.fail_after(timeout):
            while True:
                probe = Client()
                try:
                    await probe.connect(url, probe_auth)
                    await probe.close()
                    break
                except socketio.exceptions.ConnectionError:  # not listening yet
                    if probe.sio.eio.http is not None:
                        await probe.sio.eio.http.close()
                    await anyio.sleep(0.02)
        try:
            yield url
        finally:
            stop.set()
