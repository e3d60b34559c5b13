"""The server API's metrics: requests by route and code, webhook deliveries by outcome,
the retry queue's depth and the change stream's length (the last two read every few
seconds by ``refresh``, never at scrape time: a scrape does no I/O)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .server_api import ServerApiCounts

REFRESH_EVERY = 5.0


class ServerApiFigures(Collector):
    def __init__(self, counts: ServerApiCounts, stream: Any, deliverer: Any) -> None:
        self._counts = counts
        self._stream = stream  # None: no change stream kept
        self._deliverer = deliverer  # None: no webhooks
        self.stream_length = 0

    async def refresh(self) -> None:
        if self._stream is not None:
            self.stream_length = await self._stream.length()

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "presence_server_api_requests", "Server API requests, by route and HTTP code.", labels=["route", "code"]
        )
        for (route, code), value in sorted(self._counts.requests.copy().items()):
            requests.add_metric([route, code], value)
        yield requests
        if self._stream is not None:
            yield GaugeMetricFamily("presence_change_stream_length", "Entries in the change stream.",
                                    value=self.stream_length)
            yield CounterMetricFamily("presence_change_stream_lost", "Changes the stream did not take (an outage).",
                                      value=self._stream.lost)
        if self._deliverer is not None:
            outcomes = CounterMetricFamily(
                "presence_webhook_deliveries", "Webhook delivery attempts, by outcome (delivered, failed, dead).",
                labels=["outcome"],
            )
            for outcome, value in sorted(self._deliverer.outcomes.items()):
                outcomes.add_metric([outcome], value)
            yield outcomes
            yield GaugeMetricFamily("presence_webhook_queue_depth",
                                    "Changes owed to the webhook receiver (retrying or not yet sent), as the leader saw.",
                                    value=self._deliverer.depth)
