"""From per-operation costs measured on one Redis primary to what a fleet of a given size
needs: primaries, memory per primary, gateway instances, and where the fan-out of changes
to every instance overtakes the socket events themselves.

Pure arithmetic, kept apart from the measurement so docs/scaling.md can show every step
and a test can hold the steps to what the page says they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Costs:
    """What one Redis primary and one gateway instance spend, as measured."""

    # Redis CPU seconds per operation (one script call, one publish).
    connect_s: float
    ping_s: float
    update_s: float
    disconnect_s: float
    settle_s: float  # the sweeper's end of a user's grace, once per last-session end
    publish_s: float  # one PUBLISH of a change with no subscriber
    publish_per_subscriber_s: float  # added per subscribed instance
    # used_memory bytes.
    user_bytes: float  # an online user with one session and a remembered status
    extra_session_bytes: float  # each further session of that user
    # One gateway instance (one process, one core): sockets it holds at its measured CPU,
    # and its CPU seconds per change received from another instance for users it does
    # not serve.
    sockets_per_instance: int
    instance_cpu_at_capacity: float  # fraction of one core, pings included
    receive_s: float


@dataclass(frozen=True)
class Load:
    users: int
    sessions_per_user: float = 1.5
    ping_every_s: float = 30.0
    change_every_s: float = 600.0
    # Mean time a user stays online: users/visit arrive (and as many leave) each second.
    visit_s: float = 3600.0
    target_cpu: float = 0.5  # of one Redis core
    # used_memory of a primary is its data; RSS adds allocator fragmentation, replication
    # and client buffers: plan this much more.
    memory_overhead: float = 1.5


@dataclass(frozen=True)
class Plan:
    sessions: float
    pings_per_s: float
    updates_per_s: float
    connects_per_s: float
    disconnects_per_s: float
    settles_per_s: float
    changes_per_s: float  # visible changes published: updates, arrivals, departures
    instances: int
    events_core_s: float  # Redis core-seconds per second for the socket events
    fanout_core_s: float  # Redis core-seconds per second for publishing the changes
    primaries: int
    memory_bytes: float
    memory_per_primary_bytes: float
    instance_receive_cpu: float  # fraction of one core each instance spends on others' changes
    fanout_equals_events_at_users: float  # the fleet size where fan-out costs Redis as much


def rates(load: Load) -> dict[str, float]:
    sessions = load.users * load.sessions_per_user
    arrivals = load.users / load.visit_s
    updates = load.users / load.change_every_s
    return {
        "sessions": sessions,
        "pings": sessions / load.ping_every_s,
        "updates": updates,
        "connects": sessions / load.visit_s,
        "disconnects": sessions / load.visit_s,
        "settles": arrivals,
        # A first connect makes a user ONLINE, an ended grace OFFLINE, an update changes
        # the status: each is one change for every instance.
        "changes": updates + 2 * arrivals,
    }


def events_core_seconds(load: Load, costs: Costs) -> float:
    r = rates(load)
    return (
        r["connects"] * costs.connect_s
        + r["pings"] * costs.ping_s
        + r["updates"] * costs.update_s
        + r["disconnects"] * costs.disconnect_s
        + r["settles"] * costs.settle_s
    )


def instances_for(load: Load, costs: Costs) -> int:
    return max(1, math.ceil(load.users * load.sessions_per_user / costs.sockets_per_instance))


def plan(load: Load, costs: Costs) -> Plan:
    r = rates(load)
    instances = instances_for(load, costs)
    events = events_core_seconds(load, costs)
    fanout = r["changes"] * (costs.publish_s + instances * costs.publish_per_subscriber_s)
    primaries = max(1, math.ceil((events + fanout) / load.target_cpu))
    memory = load.users * (costs.user_bytes + (load.sessions_per_user - 1) * costs.extra_session_bytes)
    return Plan(
        sessions=r["sessions"],
        pings_per_s=r["pings"],
        updates_per_s=r["updates"],
        connects_per_s=r["connects"],
        disconnects_per_s=r["disconnects"],
        settles_per_s=r["settles"],
        changes_per_s=r["changes"],
        instances=instances,
        events_core_s=events,
        fanout_core_s=fanout,
        primaries=primaries,
        memory_bytes=memory,
        memory_per_primary_bytes=memory * load.memory_overhead / primaries,
        instance_receive_cpu=r["changes"] * costs.receive_s,
        fanout_equals_events_at_users=fanout_crossover(load, costs),
    )


def fanout_crossover(load: Load, costs: Costs) -> float:
    """Users at which publishing changes to every instance costs Redis as much as all the
    socket events. Per user, events cost a constant e and the fan-out c·(p0 + p·G) with
    G = users·s/S instances, so (ignoring the rounding of G and the small p0):
    e = c·p·users·s/S, users = e·S / (c·p·s)."""
    one = Load(**{**load.__dict__, "users": 1})
    per_user_events = events_core_seconds(one, costs)
    per_user_changes = rates(one)["changes"]
    per_instance = costs.publish_per_subscriber_s * load.sessions_per_user / costs.sockets_per_instance
    if per_instance <= 0:
        return math.inf
    return per_user_events / (per_user_changes * per_instance)


def receive_wall_users(load: Load, costs: Costs, share: float = 0.5) -> float:
    """Users at which each instance spends ``share`` of its core only on the changes of
    users it does not serve — whatever the number of instances, since every instance gets
    every change."""
    per_user_changes = rates(Load(**{**load.__dict__, "users": 1}))["changes"]
    if costs.receive_s <= 0:
        return math.inf
    return share / (per_user_changes * costs.receive_s)


def one_channel_users(load: Load, costs: Costs) -> float:
    """Users at which the publishes on one channel — which lives on one primary however
    many there are — take ``target_cpu`` of that primary: changes grow with users and so
    does the number of instances each change goes to."""

    def cost(users: float) -> float:
        at = Load(**{**load.__dict__, "users": max(1, int(users))})
        return rates(at)["changes"] * (costs.publish_s + instances_for(at, costs) * costs.publish_per_subscriber_s)

    low, high = 1.0, 1e12
    if cost(high) < load.target_cpu:
        return math.inf
    while high - low > max(1.0, low * 1e-4):
        middle = (low + high) / 2
        if cost(middle) < load.target_cpu:
            low = middle
        else:
            high = middle
    return low
