"""The webhooks' HTTP client (httpx): to the configured URL only — no redirect is followed
(a 3xx is a failed delivery), the receiver's body is never read, each POST bounded by a
timeout, one connection pool for the process."""

from __future__ import annotations

import httpx

MAX_CONNECTIONS = 4


class HttpWebhookSender:
    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS),
            trust_env=False,  # no proxy from the environment: the URL the operator gave
            headers={"User-Agent": "presence-gateway-webhooks"},
        )

    async def post(self, body: bytes, headers: dict[str, str]) -> int:
        async with self._client.stream("POST", self.url, content=body, headers=headers) as response:
            return response.status_code  # the body is not read: it is closed with the stream

    async def aclose(self) -> None:
        await self._client.aclose()
