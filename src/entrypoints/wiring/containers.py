"""The composition root: the one place that decides which adapter serves which port, which
resources an instance opens and closes, and which background jobs it runs.

The deployment's shape is chosen here, once, from the settings: the embedded default
(no Redis: ``embedded.py``), or instances sharing presence through one Redis (or one
behind Sentinel) or a Redis Cluster (``redis.py``). What every shape has is ``core.py``;
the shape's containers are laid over it (dependency-injector's container override), so
each of the core's ``Dependency`` providers is served by the shape's provider of the same
name. Clients and engines are built synchronously (an app factory runs before any event
loop) and each has a ``Resource`` that owns its lifetime: the lifecycle opens them with
``init_resources()`` at start and closes them with ``shutdown_resources()`` at stop, which
follows their dependencies (the embedded database's engine is disposed before the data
directory's lock is released). Tests build the service from this container too, with
``.override()`` for the fakes they need (``layer_of`` finds a shape's provider).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from ...compat.hypercorn_worker import HypercornWorker
from .core import Core
from .embedded import Embedded
from .redis import OneRedis, RedisCluster, Shared
from .settings import ConfigError, Settings


def shape_of(settings: Settings) -> str:
    """``embedded`` without Redis; else ``redis`` on one Redis (or Sentinel's primary), or
    ``cluster`` on a Redis Cluster."""
    if not settings.redis.shared_presence_url:
        return "embedded"
    return "cluster" if settings.redis.cluster else "redis"


def refuse_split_presence(settings: Settings, workers: int) -> None:
    """Several workers on one port are several instances: without Redis each would know
    only its own users. Refused at start, before any of them serves."""
    if workers > 1 and shape_of(settings) == "embedded":
        raise ConfigError(
            f"{workers} workers would share this port, but without Redis presence lives in one "
            "process and would be split between them: run one worker, or set CACHE_HOST (or REDIS_URL) "
            "so the workers share presence"
        )


def build_container(settings: Settings, worker: HypercornWorker | None = None, **given: Any) -> Core:
    """The instance these settings describe; ``given``: core providers' values fixed by the
    caller (tests give ``jwt_secret``)."""
    core = Core(settings=settings, worker=worker, **given)
    shape = shape_of(settings)
    layers: list[containers.DeclarativeContainer]
    if shape == "embedded":
        layers = [Embedded(core=core)]
    else:
        topology = (RedisCluster if shape == "cluster" else OneRedis)(core=core)
        layers = [Shared(core=core, topology=topology), topology]
    core.override(layers[0])
    core.layers = layers  # for layer_of
    return core


def layer_of(container: Core, name: str) -> providers.Provider[Any]:
    """The provider ``name`` as this deployment serves it — the shape's where the shape
    gives it, else the core's — for a test's ``.override()`` or a look at what it built."""
    for layer in getattr(container, "layers", ()):
        provider = getattr(layer, name, None)
        if isinstance(provider, providers.Provider) and not isinstance(provider, providers.Dependency):
            return provider  # the shape's: its siblings, and the core, are served by it
    provider = getattr(container, name, None)
    if isinstance(provider, providers.Provider):
        return provider
    raise AttributeError(f"no provider {name!r} in this deployment's containers")


@asynccontextmanager
async def database_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The gateway's engine for a one-off task (``db`` commands, the schema check before
    serving), in an event loop of its own, disposed after."""
    engine = Core(settings=settings).engine()
    try:
        yield engine
    finally:
        await engine.dispose()
