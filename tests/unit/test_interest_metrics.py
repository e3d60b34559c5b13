"""The interest routing's figures on ``/metrics``: the users' channels Redis delivers, and
the room entries served without Redis confirming them (``interest_manager._confirmed``)."""

from __future__ import annotations

from types import SimpleNamespace

from prometheus_client import CollectorRegistry

from presence_gateway.entrypoints.http.metrics import SharedPresenceFigures, exposition


def scraped(manager: object) -> str:
    service = SimpleNamespace(lease_renewals=0, takeovers=0)
    restorer = SimpleNamespace(restores=0, restore_seconds=0.0)
    publisher = SimpleNamespace(published=0)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SharedPresenceFigures(SimpleNamespace(is_open=False), service, restorer, manager, publisher))
    return exposition(registry).decode()


def test_subscriptions_served_unconfirmed_are_counted_on_metrics() -> None:
    manager = SimpleNamespace(messages_in=0, messages_out=0, channels=4, unconfirmed=3)
    text = scraped(manager)
    assert "# TYPE presence_pubsub_unconfirmed_subscriptions_total counter" in text
    assert "\npresence_pubsub_unconfirmed_subscriptions_total 3.0\n" in text
    assert "\npresence_pubsub_user_channels 4.0\n" in text


def test_a_manager_that_does_not_route_by_interest_shows_neither() -> None:
    text = scraped(SimpleNamespace(messages_in=0, messages_out=0))
    assert "unconfirmed" not in text and "user_channels" not in text
