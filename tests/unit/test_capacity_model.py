"""The capacity plan's arithmetic (docs/scaling.md): the page shows each step beside the
result, so a rate off by a factor, a floor where a ceiling belongs, or a fan-out that
forgets the number of instances would size a fleet wrongly under a formula that reads
right."""

from __future__ import annotations

import math

import pytest

from benchmarks.capacity_model import (
    Costs,
    Load,
    events_core_seconds,
    fanout_crossover,
    instances_for,
    one_channel_users,
    plan,
    rates,
    receive_wall_users,
)

COSTS = Costs(
    connect_s=40e-6,
    ping_s=30e-6,
    update_s=50e-6,
    disconnect_s=20e-6,
    settle_s=10e-6,
    publish_s=2e-6,
    publish_per_subscriber_s=0.5e-6,
    user_bytes=1000.0,
    extra_session_bytes=500.0,
    sockets_per_instance=15_000,
    instance_cpu_at_capacity=0.4,
    receive_s=50e-6,
)


def test_rates_follow_from_users_sessions_and_intervals():
    r = rates(Load(users=3_600_000, sessions_per_user=1.5, ping_every_s=30, change_every_s=600, visit_s=3600))
    assert r["sessions"] == 5_400_000
    assert r["pings"] == 180_000  # every session, every 30 s
    assert r["updates"] == 6_000  # every user, every 10 minutes
    assert r["connects"] == r["disconnects"] == 1_500  # sessions ÷ visit
    assert r["settles"] == 1_000  # users ÷ visit: one grace per departing user
    assert r["changes"] == 6_000 + 2 * 1_000  # updates, arrivals, departures


def test_redis_cores_for_the_events_sum_rate_times_cost():
    load = Load(users=3_600_000)
    expected = 180_000 * 30e-6 + 1_500 * 40e-6 + 6_000 * 50e-6 + 1_500 * 20e-6 + 1_000 * 10e-6
    assert events_core_seconds(load, COSTS) == pytest.approx(expected)


def test_instances_and_primaries_round_up():
    load = Load(users=1_000_001)  # 1 500 001.5 sessions: one more instance than 100
    assert instances_for(load, COSTS) == 101
    result = plan(load, COSTS)
    total = result.events_core_s + result.fanout_core_s
    assert result.primaries == math.ceil(total / load.target_cpu)
    assert result.primaries > total / load.target_cpu


def test_the_fan_out_grows_with_changes_times_instances():
    small, large = plan(Load(users=1_000_000), COSTS), plan(Load(users=10_000_000), COSTS)
    assert small.fanout_core_s == pytest.approx(small.changes_per_s * (2e-6 + 100 * 0.5e-6))
    assert large.fanout_core_s == pytest.approx(large.changes_per_s * (2e-6 + 1000 * 0.5e-6))
    assert large.fanout_core_s / small.fanout_core_s > 90  # ten times the changes, ten times the instances


def test_memory_per_primary_spreads_the_data_with_its_overhead():
    load = Load(users=2_000_000, sessions_per_user=2.0, memory_overhead=1.5)
    result = plan(load, COSTS)
    assert result.memory_bytes == 2_000_000 * (1000 + 1 * 500)
    assert result.memory_per_primary_bytes == pytest.approx(result.memory_bytes * 1.5 / result.primaries)


def test_each_instance_receives_every_change_of_the_fleet():
    load = Load(users=6_000_000)
    result = plan(load, COSTS)
    assert result.instance_receive_cpu == pytest.approx(result.changes_per_s * 50e-6)
    wall = receive_wall_users(Load(users=1), COSTS, share=0.5)
    assert plan(Load(users=int(wall)), COSTS).instance_receive_cpu == pytest.approx(0.5, rel=1e-3)


def test_the_crossovers_solve_their_equations():
    users = fanout_crossover(Load(users=1), COSTS)
    at = Load(users=int(users))
    deliveries = rates(at)["changes"] * at.users * at.sessions_per_user / COSTS.sockets_per_instance * 0.5e-6
    assert deliveries == pytest.approx(events_core_seconds(at, COSTS), rel=1e-3)

    limit = one_channel_users(Load(users=1), COSTS)
    assert plan(Load(users=int(limit)), COSTS).fanout_core_s <= 0.5
    assert plan(Load(users=int(limit * 1.01)), COSTS).fanout_core_s > 0.5


def test_no_fan_out_cost_means_no_crossover():
    free = Costs(**{**COSTS.__dict__, "publish_per_subscriber_s": 0.0, "receive_s": 0.0})
    assert fanout_crossover(Load(users=1), free) == math.inf
    assert receive_wall_users(Load(users=1), free) == math.inf
