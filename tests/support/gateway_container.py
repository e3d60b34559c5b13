"""The gateway's own container for tests: production's wiring and defaults, settings read
from the variables production reads, and only what a test names replaced, with
dependency-injector's ``.override()``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from presence_gateway.entrypoints.wiring.containers import build_container, layer_of
from presence_gateway.entrypoints.wiring.core import Core
from presence_gateway.entrypoints.wiring.settings import load_settings

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
# The offline grace is 5 s in production; tests of what one event does say they want none.
NO_GRACE = {"PRESENCE_OFFLINE_GRACE": "0"}


def gateway_container(env: Mapping[str, str] | None = None, **overrides: Any) -> Core:
    """``env``: settings by their variable names; ``overrides``: provider name (of the core
    or of the deployment's shape) -> object."""
    settings = load_settings({"JWT_SECRET_ACCESS": SECRET, **(env or {})})
    container = build_container(settings, jwt_secret=SECRET)
    for name, replacement in overrides.items():
        layer_of(container, name).override(replacement)
    return container
