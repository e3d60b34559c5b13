"""What ``presence-gateway serve`` asks of hypercorn beyond its defaults."""

from __future__ import annotations

from presence_gateway.entrypoints.process.serve import hypercorn_config
from presence_gateway.entrypoints.wiring.settings import Settings


def test_a_connect_storm_is_not_dropped_at_the_accept_queue() -> None:
    # hypercorn's default (100) overflowed under 100 polling clients connecting at once.
    assert hypercorn_config(Settings.from_env({})).backlog >= 1024


def test_a_websocket_message_is_bounded_before_it_is_buffered() -> None:
    assert hypercorn_config(Settings.from_env({})).websocket_max_message_size == 64 * 1024
