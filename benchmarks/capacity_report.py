"""The generated parts of docs/scaling.md: the measured tables, and the plan for a million
and ten million users with every step of its arithmetic written out."""

from __future__ import annotations

from benchmarks.capacity_model import Costs, Load, fanout_crossover, plan

OPS = (
    ("connect", "connect (REGISTER)"),
    ("ping", "ping: session refresh (REGISTER on a known session)"),
    ("update", "status update (CHOOSE)"),
    ("disconnect", "disconnect (END, grace started)"),
    ("grace settled (sweeper)", "grace ended by the sweeper (FINISH_GRACE)"),
)
SIZES = (1_000_000, 10_000_000)


def n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}".replace(",", " ")


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def size(value: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value:.0f} B"


def users_text(value: float) -> str:
    if value == float("inf"):
        return "never"
    return f"{value / 1e6:.1f} million" if value >= 1e6 else n(value)


def instance_total(cpu: float) -> str:
    text = f"{100 * cpu:.0f} %"
    return text + " — over one core: **not possible as built**" if cpu > 1 else text


def one_primary(cores: float, target: float) -> str:
    text = f"{100 * cores:.0f} % of its core"
    if cores > 1:
        return text + ": **not possible on one channel**; the primaries above assume it split over slots"
    return text + (" (over the target)" if cores > target else "")


def measured_section(figures: dict) -> str:
    env = figures["environment"]
    lines = [
        f"Measured {env['date']} at `{env['source']}` on one machine: {env['nproc']} cores ({env['cpu']}), "
        f"Redis {env['redis_server']}, Python {env['python']}, redis-py {env['redis_py']}; load average "
        f"{', '.join(f'{x:.2f}' for x in env['load_average_at_start'])} at the start (the cores are shared), "
        f"whole run {figures['elapsed_s']:.0f} s, {n(figures['users'])} users per phase. Figures from one run "
        "on one machine: a Redis core elsewhere is faster or slower, the ratios hold better than the "
        "absolute values.",
        "",
        "### Socket events, per Redis core",
        "",
        "Redis CPU per operation is INFO CPU (`used_cpu_user` + `used_cpu_sys`, the whole server) over the "
        "phase ÷ operations; events/s per core is its inverse. \"In the script\" is `INFO commandstats` µs per "
        "EVALSHA (time inside the command; it excludes reading and writing the socket). Client p50/p99 is "
        "the call as the gateway's store sees it, in a Python loop that shares the 2 cores with Redis: it "
        "is the client's queueing, not Redis's. commandstats counts wall time inside the command, so on a "
        "shared machine where Redis is descheduled mid-script it can exceed the CPU figure.",
        "",
        "| operation | client shape | Redis CPU µs/op | in the script µs | events/s per Redis core | Redis busy "
        "| client ops/s | client p50 ms | client p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for op, label in OPS:
        for shape, results in figures["events"].items():
            if op not in results:
                continue
            r = results[op]
            client = "—" if "replayed" in shape else n(r["client_ops_per_s"])
            if op.startswith("grace"):
                client = "—"
            lines.append(
                f"| {label} | {shape} | {r['redis_cpu_us_per_op']:.1f} | {r['evalsha_usec_per_call']:.1f} | "
                f"{n(r['events_per_core_s'])} | {100 * r['redis_busy']:.0f} % | {client} | "
                f"{ms(r['client_p50_ms'])} | {ms(r['client_p99_ms'])} |"
            )
    m = figures["memory"]
    lines += [
        "",
        "### Memory",
        "",
        "INFO `used_memory` (less `mem_clients_normal`, the load's own connections) after each step, "
        f"over {n(m['users'])} users (user ids are 36-character UUIDs, "
        "session ids 20 characters, as python-engineio's): every key the scripts write — the session hash, "
        "the socket set, the online flag, the status hash, the entry in the instance's session index.",
        "",
        "| step | bytes per user |",
        "|---|---:|",
        f"| online, one session, no status chosen | {m['bytes_user_one_session']:.0f} |",
        f"| + a remembered status (DND) | {m['bytes_remembered_status']:.0f} |",
        f"| + a second session | {m['bytes_second_session']:.0f} |",
        f"| + a third session | {m['bytes_third_session']:.0f} |",
        f"| **online user with one session and a remembered status** | **{m['bytes_user_with_status']:.0f}** |",
    ]
    p = figures["pubsub"]
    fit = p["fit_us_per_change"]
    lines += [
        "",
        "### Pub/sub, per delivered change",
        "",
        f"{n(p['changes'])} changes published by the gateway's own broadcaster (a user's visible status "
        f"change: the Socket.IO channel message, {p['socketio_message_bytes']} bytes, and the "
        f"`presence:updates` message, about {p['updates_message_bytes']} bytes, with no follower), to k "
        "gateway instances subscribed to the Socket.IO channel (raw connections read by one thread; every "
        "message counted).",
        "",
        "| instances subscribed | Redis CPU µs per change | PUBLISH per change | µs per PUBLISH (commandstats) "
        "| every change delivered |",
        "|---:|---:|---:|---:|---|",
    ]
    for k, r in p["subscribers"].items():
        lines.append(
            f"| {k} | {r['redis_cpu_us_per_op']:.2f} | {r['publishes_per_change']:.0f} | "
            f"{r['publish_usec_per_call']:.2f} | {'yes' if r['all_delivered'] else 'no'} |"
        )
    rc = figures["receive"]
    lines += [
        "",
        f"Least squares over k: **{fit['fixed']:.2f} µs + {fit['per_subscriber']:.2f} µs per subscribed "
        "instance**, Redis CPU per change.",
        "",
        f"On the receiving side, one real `presence-gateway serve` process on the same Redis, sent "
        f"{n(rc['sent'])} changes of users it does not serve at {n(rc['rate_per_s'])}/s: "
        f"**{rc['gateway_cpu_us_per_change']:.0f} µs of its CPU per change** (idle CPU subtracted; "
        f"{n(rc['received'])} received by its own count) — work every instance does for every change in the "
        "fleet, to find it has no socket in the rooms.",
    ]
    return "\n".join(lines)


def plan_section(figures: dict, costs: Costs) -> str:
    inst = figures["instance"]
    load0 = Load(users=1)
    lines = [
        "### Assumptions",
        "",
        f"- {load0.sessions_per_user} sessions (tabs, devices) per online user; every session pings every "
        f"{load0.ping_every_s:.0f} s; one status change per user every {load0.change_every_s / 60:.0f} minutes.",
        f"- Churn: a user stays online {load0.visit_s / 60:.0f} minutes on average, so users ÷ "
        f"{load0.visit_s:.0f} arrive and as many leave each second; each arrival opens and each departure "
        "closes all their sessions, the first connect publishes ONLINE and the sweeper's end of the grace "
        "publishes OFFLINE.",
        f"- Redis: at most {100 * load0.target_cpu:.0f} % of a primary's core in steady state (the rest is "
        "headroom for reconnect storms, failover catch-up and the sweepers' batches); per operation, the "
        "highest Redis CPU any client shape above measured. Memory: used_memory × "
        f"{load0.memory_overhead} for fragmentation, replication and client buffers.",
        f"- Gateway instance (one process, one core), from docs/benchmarks.md ({inst['date']}): "
        f"{n(inst['sockets'])} idle websocket sockets held with pings every 30 s at "
        f"{100 * inst['cpu']:.1f} % CPU, ping p99 {inst['p99_ms']:.2f} ms, {inst['rss_mib']:.0f} MiB RSS "
        f"(the step to 20 000 was not tried: the harness's open-files limit, not CPU); "
        f"{inst['cpu_ms_per_ping']:.2f} ms CPU per ping (steady-ping scenario); "
        f"{inst['kib_per_socket']:.1f} KiB per idle socket.",
        "- Pub/sub as today: every instance subscribes to the one Socket.IO channel, so every change goes "
        "to every instance.",
        "",
        "Per-operation costs used (Redis CPU): "
        + ", ".join(
            f"{label} {1e6 * value:.1f} µs"
            for label, value in (
                ("connect", costs.connect_s), ("ping", costs.ping_s), ("update", costs.update_s),
                ("disconnect", costs.disconnect_s), ("grace end", costs.settle_s),
            )
        )
        + f"; publish {1e6 * costs.publish_s:.2f} µs + {1e6 * costs.publish_per_subscriber_s:.2f} µs per "
        f"instance; {costs.user_bytes:.0f} B per online user, {costs.extra_session_bytes:.0f} B per further "
        f"session; {1e6 * costs.receive_s:.0f} µs of gateway CPU per change received.",
        "",
        "### One million and ten million concurrent users",
        "",
        "| | how | " + " | ".join(f"{users_text(u)} users" for u in SIZES) + " |",
        "|---|---|" + "---:|" * len(SIZES),
    ]
    plans = {u: plan(Load(users=u), costs) for u in SIZES}
    loads = {u: Load(users=u) for u in SIZES}

    def row(label: str, how: str, cell) -> None:
        lines.append(f"| {label} | {how} | " + " | ".join(cell(plans[u], loads[u]) for u in SIZES) + " |")

    row("sessions", f"users × {load0.sessions_per_user}", lambda p, load: n(p.sessions))
    row("pings/s", f"sessions ÷ {load0.ping_every_s:.0f}", lambda p, load: n(p.pings_per_s))
    row("status updates/s", f"users ÷ {load0.change_every_s:.0f}", lambda p, load: n(p.updates_per_s))
    row("connects/s = disconnects/s", f"sessions ÷ {load0.visit_s:.0f}", lambda p, load: n(p.connects_per_s))
    row("graces ended/s", f"users ÷ {load0.visit_s:.0f}", lambda p, load: n(p.settles_per_s))
    row("visible changes/s", "updates + 2 × arrivals", lambda p, load: n(p.changes_per_s))
    row(
        "Redis cores, socket events",
        "Σ rate × CPU per op",
        lambda p, load: " + ".join(
            f"{v:.2f}" for v in (
                p.pings_per_s * costs.ping_s, p.connects_per_s * costs.connect_s, p.updates_per_s * costs.update_s,
                p.disconnects_per_s * costs.disconnect_s, p.settles_per_s * costs.settle_s,
            )
        ) + f" = **{p.events_core_s:.2f}**",
    )
    row(
        "gateway instances",
        f"sessions ÷ {n(costs.sockets_per_instance)}",
        lambda p, load: f"**{n(p.instances)}**",
    )
    row(
        "Redis cores, pub/sub fan-out",
        "changes/s × (fixed + per instance × instances)",
        lambda p, load: f"{n(p.changes_per_s)} × ({1e6 * costs.publish_s:.2f} + {1e6 * costs.publish_per_subscriber_s:.2f} × "
        f"{n(p.instances)}) µs = **{p.fanout_core_s:.2f}**",
    )
    row(
        "Redis primaries",
        f"(events + fan-out) ÷ {load0.target_cpu}",
        lambda p, load: f"⌈{p.events_core_s + p.fanout_core_s:.2f} ÷ {load.target_cpu}⌉ = **{p.primaries}**",
    )
    row("memory, all primaries (used_memory)", "users × (user + 0.5 × session)", lambda p, load: size(p.memory_bytes))
    row(
        "memory per primary",
        f"× {load0.memory_overhead} ÷ primaries",
        lambda p, load: f"**{size(p.memory_per_primary_bytes)}**",
    )
    row(
        "each instance's CPU for others' changes",
        "changes/s × receive CPU",
        lambda p, load: f"{n(p.changes_per_s)} × {1e6 * costs.receive_s:.0f} µs "
        f"= **{100 * p.instance_receive_cpu:.0f} %** of a core",
    )
    row(
        "each instance's CPU, total",
        f"{100 * costs.instance_cpu_at_capacity:.0f} % (sockets, pings) + the above",
        lambda p, load: instance_total(costs.instance_cpu_at_capacity + p.instance_receive_cpu),
    )
    row(
        "gateway RSS, all instances",
        f"instances × {inst['rss_mib']:.0f} MiB",
        lambda p, load: size(p.instances * inst["rss_mib"] * (1 << 20)),
    )
    row(
        "the one channel's primary, pub/sub alone",
        "fan-out cores, all on the primary of the channel's slot",
        lambda p, load: one_primary(p.fanout_core_s, load.target_cpu),
    )
    limits = figures["limits"]
    storm = {u: plans[u].sessions * costs.connect_s / (plans[u].primaries * 1.0) for u in SIZES}
    lines += [
        "",
        "Reconnect storm (every session reconnects at once, say after a load balancer's restart): the "
        "primaries at a full core each take sessions × connect CPU ÷ primaries = "
        + " and ".join(f"{storm[u]:.0f} s for {users_text(u)}" for u in SIZES)
        + " of Redis time; the gateway instances' connect rate (docs/benchmarks.md, connect storm) is the "
        "tighter bound.",
    ]
    walls = sorted(
        [
            (
                limits["one_channel_users"],
                f"**the one channel's primary**: the Socket.IO channel's publishes grow as changes × "
                f"instances, both proportional to users, and a channel lives on one primary however many "
                f"there are; they take {100 * load0.target_cpu:.0f} % of that primary's core at "
                f"**{users_text(limits['one_channel_users'])} users**, while the socket events spread over "
                "the primaries by slot. Splitting the channel over slots (sharded pub/sub, below) lifts it.",
            ),
            (
                limits["receive_half_core_users"],
                f"**every instance receives every change in the fleet**: at {1e6 * costs.receive_s:.0f} µs "
                "per change, an instance spends half its core on changes of users it does not serve at "
                f"**{users_text(limits['receive_half_core_users'])} users**, whatever the number of "
                "instances — adding instances adds none of that capacity. Only subscribing by interest "
                "(below) lifts it.",
            ),
        ]
    )
    lines += [
        "",
        "### Where the next bottleneck is",
        "",
        "The socket events scale with primaries; the fan-out of changes to every instance does not.",
        "",
        f"- First, {walls[0][1]}",
        f"- Then, {walls[1][1]}",
        f"- Summed over the fleet, the fan-out costs Redis as much as all the socket events at "
        f"{users_text(fanout_crossover(load0, costs))} users: past that, pub/sub dominates Redis too.",
        "- **What shards it.** Sharded pub/sub on Redis Cluster (`SPUBLISH`/`SSUBSCRIBE`) places each "
        "channel on the primary that owns its slot, instead of every node relaying every message over the "
        "cluster bus as plain `PUBLISH` does: with the channel split by user bucket, the fan-out's Redis "
        "cost spreads over the primaries with the socket events. It does not shrink the deliveries: as "
        "long as every instance subscribes to every bucket, each change still reaches every instance, "
        "and the instances' receive work stays. What removes that is subscribing by interest — an "
        "instance subscribes to the channels of the users it holds sockets or watchers for (as the Node "
        "sharded adapter's dynamic subscription mode does, a channel per room), so a change reaches only "
        "the instances that deliver it.",
        "- **Memory is not the limit.** "
        + " and ".join(f"{size(plans[u].memory_per_primary_bytes)} per primary at {users_text(u)}" for u in SIZES)
        + ": CPU sets the number of primaries.",
    ]
    return "\n".join(lines)
