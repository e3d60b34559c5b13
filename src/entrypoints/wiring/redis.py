"""Instances that share presence through Redis: the sessions in Redis (one Lua script per
socket event), emits crossing instances through python-socketio's manager on pub/sub,
instance leases, the health probe and its circuit, and the restore of this instance's
sessions should Redis lose them.

``Shared`` is what every Redis deployment has. The clients it talks through are its
topology's: ``OneRedis`` (one Redis, or one behind Sentinel: a pool, one pipelined
connection, PUBLISH) or ``RedisCluster`` (redis-py's cluster client, a pipelined
connection per primary, the bucketed key layout, sharded channels through the shard
owning each). ``containers.py`` picks the topology once.
"""

from __future__ import annotations

from functools import partial

from dependency_injector import containers, providers

from ...adapters.fanout import FanOutBroadcaster
from ...adapters.redis.change_stream import RedisChangeStream, RedisDeliveryLog
from ...adapters.redis.circuit import RedisCircuit
from ...adapters.redis.client import create_redis, create_redis_cluster, pubsub_client
from ...adapters.redis.cluster_events import ClusterPipelinedRedis
from ...adapters.redis.fleet import RedisFleet
from ...adapters.redis.health import RedisHealth, probe_client
from ...adapters.redis.interest import shard_routes, user_channels
from ...adapters.redis.keys import RedisKeys
from ...adapters.redis.pipelined import PipelinedRedis
from ...adapters.redis.presence_store import RedisPresenceStore
from ...adapters.redis.server_reads import RedisServerReads, RedisUserBlocks
from ...adapters.redis.shard_publisher import ShardPublisher
from ...adapters.redis.updates_publisher import RedisUpdatesPublisher
from ...adapters.socketio.room_users import rooms_of_user, user_of_room
from ...compat.interest_manager import InterestClusterManager, InterestRedisManager
from ...service_layer.held_sessions import HeldSessions, RecordingStore
from ...service_layer.instance_lease import keep_lease, watch_dead_instances
from ...service_layer.restore import RestoreRequests, SessionRestorer, keep_sessions_restored
from ..http.metrics import SharedPresenceFigures
from ..process.start_steps import announce_instance, initialize_manager, load_scripts
from .resources import closed_at_stop, disposed_at_stop


class OneRedis(containers.DeclarativeContainer):
    """One Redis, or the primary Sentinel names: every client asks for it when it connects."""

    core = providers.DependenciesContainer()
    redis_settings = core.settings.provided.redis

    # Open while Redis is known to be down: every pool refuses at once (circuit.py).
    circuit = providers.Singleton(RedisCircuit)
    # Pings wait for the next sweep only while the circuit is closed (held_pings.py).
    pings_may_wait = circuit.provided.is_closed
    # One client per purpose. Sweeps, leases, scripts: redis-py's pool.
    redis = providers.Singleton(
        create_redis, redis_settings.shared_presence_url, pool_size=redis_settings.pool_size, circuit=circuit
    )
    # The socket events' commands and publishes, written together (pipelined.py).
    redis_events = providers.Singleton(PipelinedRedis, redis_settings.shared_presence_url, circuit=circuit)
    # python-socketio's manager: its pub/sub listener.
    redis_pubsub = providers.Singleton(
        pubsub_client, redis_settings.shared_presence_url, pool_size=redis_settings.pool_size, circuit=circuit
    )
    # The health probe's one connection, outside the circuit (health.py).
    redis_probe = providers.Singleton(probe_client, redis_settings.shared_presence_url)
    keys = providers.Singleton(RedisKeys, redis_settings.cluster_keys, redis_settings.buckets)
    # Emits and presence:updates leave with the socket events' commands, and so does the
    # change stream's XADD.
    publisher = redis_events
    stream_events = redis_events
    # python-socketio's manager, routing each user's changes on that user's channel to the
    # instances whose rooms need it (interest_manager.py).
    client_manager = providers.Singleton(
        InterestRedisManager,
        redis_pubsub,
        channel=redis_settings.socketio_channel,
        circuit=circuit,
        events=redis_events,
        user_of_room=providers.Object(user_of_room),
        rooms_of_user=providers.Object(rooms_of_user),
        channel_of=providers.Callable(user_channels, keys, redis_settings.socketio_channel),
        by_interest=redis_settings.publish_by_interest,
    )
    resources = providers.List(
        providers.Resource(closed_at_stop, redis),
        providers.Resource(closed_at_stop, redis_events),
        providers.Resource(closed_at_stop, redis_pubsub),
        providers.Resource(closed_at_stop, redis_probe),
    )
    del redis_settings


class RedisCluster(containers.DeclarativeContainer):
    """A Redis Cluster: the bucketed key layout (keys.py), a pipelined connection per
    primary, and sharded channels, each published to through the shard owning it."""

    core = providers.DependenciesContainer()
    redis_settings = core.settings.provided.redis

    # One Redis's circuit: a cluster's primaries fail one by one, so nothing refuses at once.
    circuit = providers.Singleton(RedisCircuit)
    # Nor does a ping wait: each goes to its primary, which may be the one that is down.
    pings_may_wait: providers.Object[None] = providers.Object(None)
    redis = providers.Singleton(
        create_redis_cluster, redis_settings.shared_presence_url, pool_size=redis_settings.pool_size
    )
    redis_events = providers.Singleton(ClusterPipelinedRedis, redis_settings.shared_presence_url)
    redis_pubsub = providers.Singleton(
        pubsub_client, redis_settings.shared_presence_url, pool_size=redis_settings.pool_size, cluster=True
    )
    redis_probe = providers.Singleton(probe_client, redis_settings.shared_presence_url, cluster=True)
    keys = providers.Singleton(RedisKeys, True, redis_settings.buckets)
    # Emits and presence:updates through the shard owning each channel (shard_publisher.py).
    publisher = providers.Singleton(
        ShardPublisher,
        redis_settings.shared_presence_url,
        channels=providers.Callable(
            shard_routes, keys, redis_settings.socketio_channel, redis_settings.updates_channel
        ),
    )
    # The change stream's XADD goes to its slot's node through the cluster client.
    stream_events: providers.Object[None] = providers.Object(None)
    # Sharded channels: each user's on the slot of the user's keys, heard by the instances
    # whose rooms need it (interest_manager.py); the instance-wide one on its own shard.
    client_manager = providers.Singleton(
        InterestClusterManager,
        redis_pubsub,
        channel=redis_settings.socketio_channel,
        events=publisher,
        user_of_room=providers.Object(user_of_room),
        rooms_of_user=providers.Object(rooms_of_user),
        channel_of=providers.Callable(user_channels, keys, redis_settings.socketio_channel),
        by_interest=redis_settings.publish_by_interest,
    )
    resources = providers.List(
        providers.Resource(closed_at_stop, redis),
        providers.Resource(closed_at_stop, redis_events),
        providers.Resource(closed_at_stop, redis_pubsub),
        providers.Resource(closed_at_stop, redis_probe),
        providers.Resource(closed_at_stop, publisher),
    )
    del redis_settings


class Shared(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()
    topology = providers.DependenciesContainer()
    settings = core.settings

    shape_name = providers.Object("redis")
    shared_redis_url = settings.provided.redis.shared_presence_url
    # Presence lives in Redis: any number of instances, and no directory to hold.
    engine_resource = providers.Resource(disposed_at_stop, core.engine)
    instance_lock: providers.Object[None] = providers.Object(None)
    presence_store = providers.Singleton(
        RedisPresenceStore,
        topology.redis,
        instance=settings.provided.server.instance_id,
        session_ttl=settings.provided.timing.session_ttl,
        hidden_statuses=core.registry.provided.seen_offline.call(),
        keys=topology.keys,
        events=topology.redis_events,
        clock=core.clock,
        shown_decays=core.shown_decays,
    )
    # Only a shared store holds instance leases.
    instance_leases = presence_store
    pings_may_wait = topology.pings_may_wait
    fleet = providers.Singleton(RedisFleet, topology.redis)

    # The use cases' store also keeps what this instance would write back if Redis lost
    # it (held_sessions.py); the restorer does (restore.py).
    restore_requests = providers.Singleton(RestoreRequests)
    service_store = providers.Singleton(
        RecordingStore, presence_store, providers.Singleton(HeldSessions), core.clock, restore_requests.provided.request
    )
    session_restorer = providers.Singleton(
        SessionRestorer, recording=service_store, recovery=presence_store, service=core.presence_service, clock=core.clock
    )

    client_manager = topology.client_manager
    updates_publisher = providers.Singleton(
        RedisUpdatesPublisher,
        topology.publisher,
        instance=settings.provided.server.instance_id,
        channel=settings.provided.redis.updates_channel,
    )
    broadcaster = providers.Singleton(FanOutBroadcaster, core.socket_broadcaster, updates_publisher)

    server_reads = providers.Singleton(
        RedisServerReads, topology.redis, presence_store, topology.keys, instance=settings.provided.server.instance_id
    )
    user_blocks = providers.Singleton(RedisUserBlocks, topology.redis, topology.keys)
    change_stream = providers.Singleton(
        RedisChangeStream,
        topology.redis,
        key=settings.provided.server_api.stream_key,
        maxlen=settings.provided.server_api.stream_maxlen,
        instance=settings.provided.server.instance_id,
        events=topology.stream_events,
    )
    delivery_log = providers.Singleton(RedisDeliveryLog, topology.redis, key=settings.provided.server_api.stream_key)

    redis_health = providers.Singleton(
        RedisHealth,
        topology.redis_probe,
        topology.circuit,
        on_back=restore_requests.provided.request,
        on_round_trip=core.latencies.provided.store_round_trip.observe,
        listener=client_manager,
    )
    # For /readyz: whether Redis answers and whether this instance hears the others.
    shared_readiness = redis_health.provided.readiness
    shared_figures = providers.Singleton(
        SharedPresenceFigures, topology.circuit, core.presence_service, session_restorer, client_manager, updates_publisher
    )

    shape_start_steps = providers.List(
        providers.Callable(partial, load_scripts, presence_store),
        providers.Callable(partial, initialize_manager, core.socket_server),
        providers.Callable(partial, announce_instance, server_reads, core.clock),
    )
    shape_jobs = providers.List(
        providers.Callable(partial, keep_lease, core.presence_service, settings.provided.timing.lease_ttl),
        providers.Callable(
            partial, watch_dead_instances, core.presence_service, settings.provided.timing.lease_check_interval
        ),
        # Redis outages: the prober (circuit, /readyz), python-socketio's listener, and the
        # restore of this instance's sessions after Redis lost them.
        redis_health.provided.run,
        client_manager.provided.run,
        providers.Callable(partial, keep_sessions_restored, session_restorer, restore_requests),
    )
    shape_resources = topology.resources
    del settings
