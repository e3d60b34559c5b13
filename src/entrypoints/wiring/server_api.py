"""How the server API's parts join an instance: the change stream is kept (and appended to
by every change) only while the server API or the webhooks are on, since it costs Redis
memory (``PRESENCE_STREAM_MAXLEN`` entries) and a write per change; the webhooks' deliverer,
its HTTP client and its jobs exist only with ``PRESENCE_WEBHOOK_URL``."""

from __future__ import annotations

from functools import partial
from typing import Any

from ...adapters.fanout import FanOutBroadcaster
from ...adapters.webhook_sender import HttpWebhookSender
from ...domain.ports import Broadcaster
from ...service_layer.periodic import every
from ...service_layer.service_keys import ServiceKeys
from ...service_layer.webhooks import WebhookDeliverer
from ..http.server_api_metrics import REFRESH_EVERY, ServerApiFigures
from .settings import Settings


def stream_kept(settings: Settings, keys: ServiceKeys | None) -> bool:
    return keys is not None or bool(settings.server_api.webhook_url)


def with_stream(broadcaster: Broadcaster, stream: Any, kept: bool) -> Broadcaster:
    """The shape's broadcaster, then (with the stream kept) the stream: appended right after
    the ``presence:updates`` PUBLISH, in the same write on one Redis."""
    return FanOutBroadcaster(broadcaster, stream) if kept else broadcaster


def webhook_sender(settings: Settings) -> HttpWebhookSender | None:
    api = settings.server_api
    return HttpWebhookSender(api.webhook_url, timeout=api.webhook_timeout) if api.webhook_url else None


def webhook_deliverer(settings: Settings, log_: Any, sender: HttpWebhookSender | None, clock: Any) -> WebhookDeliverer | None:
    api = settings.server_api
    if sender is None or not api.webhook_secret:
        return None
    return WebhookDeliverer(
        log_=log_, sender=sender, clock=clock, secret=api.webhook_secret, holder=settings.server.instance_id,
        retry_for=api.webhook_retry_for,
        # Held across an attempt: longer than the longest one, so no other leader starts meanwhile.
        lead_ttl=max(settings.timing.lease_ttl, 3 * api.webhook_timeout),
    )


def server_api_jobs(kept: bool, stream: Any, figures: ServerApiFigures, deliverer: WebhookDeliverer | None) -> list[Any]:
    jobs: list[Any] = []
    if kept and hasattr(stream, "run"):
        jobs.append(stream.run)  # the embedded stream's writer
    if kept:
        jobs.append(partial(every, REFRESH_EVERY, figures.refresh, failure="change stream length not read"))
    if deliverer is not None:
        jobs.append(deliverer.run)
    return jobs


async def closed_sender(sender: HttpWebhookSender | None) -> Any:
    yield sender
    if sender is not None:
        await sender.aclose()
