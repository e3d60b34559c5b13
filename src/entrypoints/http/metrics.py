"""``GET /metrics``: Prometheus text, read from counts the gateway keeps anyway.

The hot path only increments plain integers (``sockets/counts.py``, ``PresenceService``,
the Redis manager); this collector turns them into metric families when Prometheus
scrapes, so an event costs one integer increment and a scrape costs a few dozen reads.
The two latency histograms are observed where one measurement stands for many events:
once per Redis health probe (every 0.5 s) and once per durable batch write.
Every metric is documented in one table in ``docs/operating.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector
from quart import Blueprint, Response

from ..sockets.counts import SocketCounts

# Seconds: Redis on a LAN answers in well under a millisecond; a batch write in a few.
ROUND_TRIP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Each event, and the count of its frames received (``connect``: of sockets connected).
EVENTS = (
    ("connect", "connects"),
    ("ping", "pings"),
    ("presence:update", "updates"),
    ("presence:subscribe", "subscribes"),
    ("presence:unsubscribe", "unsubscribes"),
)
disable_created_metrics()  # no `_created` series beside each histogram: noise to every dashboard


class Latencies:
    """The histograms, in the registry ``/metrics`` serves; built once per process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.store_round_trip = Histogram(
            "presence_store_round_trip_seconds",
            "Round trip of the Redis health probe (INFO server), every 0.5 s.",
            buckets=ROUND_TRIP_BUCKETS,
            registry=self.registry,
        )
        self.durable_write = Histogram(
            "presence_durable_write_seconds",
            "Time to write one batch of durable status records.",
            buckets=WRITE_BUCKETS,
            registry=self.registry,
        )


class SharedPresenceFigures:
    """What only a Redis deployment has: the circuit, leases, restores and pub/sub."""

    def __init__(self, circuit: Any, service: Any, restorer: Any, manager: Any, publisher: Any) -> None:
        self._circuit = circuit
        self._service = service
        self._restorer = restorer
        self._manager = manager
        self._publisher = publisher

    def collect(self) -> Iterator[Metric]:
        service, restorer, manager = self._service, self._restorer, self._manager
        yield _gauge("presence_redis_circuit_open", "1 while Redis is known to be down (calls fail fast).",
                     int(self._circuit.is_open))
        yield _counter("presence_lease_renewals", "Renewals of this instance's lease.", service.lease_renewals)
        yield _counter("presence_instance_takeovers", "Dead instances whose sessions this one ended.",
                       service.takeovers)
        yield SummaryMetricFamily(
            "presence_restore_duration_seconds",
            "Restores of this instance's sessions after Redis lost them, and the time they took.",
            count_value=restorer.restores,
            sum_value=restorer.restore_seconds,
        )
        pubsub = CounterMetricFamily("presence_pubsub_messages", "Redis pub/sub messages, by channel and direction.",
                                     labels=["channel", "direction"])
        pubsub.add_metric(["socketio", "in"], manager.messages_in)
        pubsub.add_metric(["socketio", "out"], manager.messages_out)
        pubsub.add_metric(["updates", "out"], self._publisher.published)
        yield pubsub
        channels = getattr(manager, "channels", None)  # a manager routing by interest
        if channels is not None:
            yield _gauge("presence_pubsub_user_channels",
                         "Users' channels this instance is subscribed to: its sockets are in those users' rooms.",
                         channels)
            yield _counter("presence_pubsub_unconfirmed_subscriptions",
                           "Room entries served without Redis confirming the users' channels they needed "
                           "(given up on after the confirmation wait): updates sent meanwhile may have been missed.",
                           getattr(manager, "unconfirmed", 0))


class GatewayCollector(Collector):
    """``shared``: the Redis deployment's figures, None without Redis."""

    def __init__(
        self, sio: Any, service: Any, writer: Any, counts: SocketCounts, shared: SharedPresenceFigures | None
    ) -> None:
        self._sio = sio
        self._service = service
        self._writer = writer
        self._counts = counts
        self._shared = shared

    def collect(self) -> Iterator[Metric]:
        counts, service, writer = self._counts, self._service, self._writer
        yield _gauge("presence_connections", "Engine.IO connections open on this instance.", len(self._sio.eio.sockets))
        yield _counter("presence_connects", "Sockets that reached `connected`.", counts.connects)
        yield _by_label("presence_connect_refusals", "Connections refused at the handshake, by reason.", "reason",
                        counts.refusals)
        yield _counter("presence_disconnects", "Sockets whose disconnect was handled.", counts.disconnects)
        events = CounterMetricFamily("presence_events", "Socket events received, by name and outcome.",
                                     labels=["event", "outcome"])
        for event, attribute in EVENTS:
            total, failed = getattr(counts, attribute), counts.errors.get(event, 0)
            ok = total if event == "connect" else max(total - failed, 0)  # a failed connect never counted
            events.add_metric([event, "ok"], ok)
            events.add_metric([event, "error"], failed)
        yield events
        yield _by_label("presence_transitions", "Status changes sent to a user's sockets, by the new status.",
                        "status", service.changes)
        yield _gauge("presence_durable_queue_depth", "Durable status writes waiting for the database.", writer.pending)
        yield _counter("presence_durable_writes", "Durable status records written.", writer.written)
        yield _gauge("presence_database_available", "1 while durable writes succeed, 0 while they retry.",
                     int(writer.available))
        yield _counter("presence_sessions_expired", "Sessions the sweeper expired (no ping within the TTL).",
                       service.expired)
        if self._shared is not None:
            yield from self._shared.collect()


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _by_label(name: str, documentation: str, label: str, values: dict[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.copy().items()):  # a copy: taken in one step, safe from a change meanwhile
        family.add_metric([key], value)
    return family


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def metrics_registry(latencies: Latencies, collector: GatewayCollector, *more: Collector) -> CollectorRegistry:
    """The histograms' registry, with the collectors that read the counts at scrape time."""
    registry = latencies.registry
    registry.register(collector)
    for other in more:
        registry.register(other)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


class MetricsPort:
    """With PRESENCE_METRICS_PORT, one server listens on both ports: what arrives on the
    metrics port gets ``/metrics`` and nothing else, and the public port has no
    ``/metrics``. One comparison per HTTP request or handshake, none per socket event."""

    def __init__(self, app: Any, port: int, registry: CollectorRegistry) -> None:
        self.app = app
        self.port = port
        self._registry = registry

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        server = scope.get("server")
        if scope["type"] == "lifespan" or not server or server[1] != self.port:
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            return  # a WebSocket on the metrics port: closed unanswered
        found = scope["path"] == "/metrics" and scope["method"] in ("GET", "HEAD")
        body = exposition(self._registry) if found else b"not found\n"
        content_type = CONTENT_TYPE_LATEST if found else "text/plain; charset=utf-8"
        await send({
            "type": "http.response.start",
            "status": 200 if found else 404,
            "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())],
        })
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def metrics_blueprint(registry: CollectorRegistry) -> Blueprint:
    """On the public port only when no PRESENCE_METRICS_PORT is set."""
    bp = Blueprint("metrics", __name__)

    @bp.get("/metrics")
    async def metrics() -> Response:
        return Response(exposition(registry), content_type=CONTENT_TYPE_LATEST)

    return bp
