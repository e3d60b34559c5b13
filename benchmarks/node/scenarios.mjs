#!/usr/bin/env node
/**
 * One scenario of benchmarks/compare.py against one server (or two instances of it),
 * with the stock socket.io-client 4: the same client drives the gateway and its peers.
 *
 *   storm     --clients, --concurrency at a time, --transports websocket|default;
 *             connects/s and time to the `connected` greeting
 *   cleanup   --clients connect (websocket), print their ids (IDS <json>), then all
 *             close at once when the caller answers SAMPLE close (it watches Redis)
 *   idle      --clients idle websocket clients: SAMPLE baseline / idle_ready (memory),
 *             then --pings round trips one at a time, then SAMPLE cpu_start, every
 *             socket pings once a second for --cpu-seconds, SAMPLE cpu_end
 *   cross     user X has socket A on --url and B on --url2; A emits presence:update
 *             (ONLINE/DND in turn) open loop at --rate/s for --seconds; delivery to B and
 *             to A itself
 *   fanout    --clients watchers of user X (--watch subscribe: presence:subscribe to X;
 *             room: they are X's own sockets, in room user:X); X changes status
 *             --changes times; time until the last watcher has each change
 *   hold      --clients sockets that ping every --ping-every ms; then answers stdin
 *             commands `probe N GAP_MS` (N pings, one at a time, GAP_MS apart) and `exit`
 *
 * Stdout: SAMPLE lines (with --sync the caller answers each on stdin), IDS, RESULT <json>.
 * Progress on stderr. Loopback only; every loop bounded in count and time.
 */
import { parseArgs } from 'node:util';
import {
  closeAll, connectClient, connectMany, countBy, describe, log, loopbackOrigin, makeSampler, ownCpuS,
  pingOnce, round, sequential, sleep, stdinLines, summary, timed, timeUntil, transportOf, waitUpgraded,
} from './lib.mjs';

const SETTLE_MS = 2_000;
const PROBE_LIMIT_MS = 60_000; // a probe of a saturated server ends here, with what it has

function options() {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      url: { type: 'string' },
      url2: { type: 'string' },
      secret: { type: 'string' },
      prefix: { type: 'string', default: 'u' },
      clients: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '100' },
      pings: { type: 'string', default: '2000' },
      'cpu-seconds': { type: 'string', default: '10' },
      rate: { type: 'string', default: '500' },
      seconds: { type: 'string', default: '5' },
      changes: { type: 'string', default: '20' },
      watch: { type: 'string', default: 'subscribe' },
      'ping-every': { type: 'string', default: '30000' },
      transports: { type: 'string', default: 'websocket' },
      sync: { type: 'boolean', default: false },
    },
  });
  const secret = values.secret ?? process.env.JWT_SECRET_ACCESS;
  if (!secret) throw new Error('give --secret or JWT_SECRET_ACCESS');
  const count = (name, min = 1, max = 1_000_000) => {
    const n = Number.parseInt(values[name], 10);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in ${min}..${max}`);
    return n;
  };
  if (!['subscribe', 'room'].includes(values.watch)) throw new Error('--watch is subscribe or room');
  return {
    scenario: values.scenario,
    url: loopbackOrigin(values.url),
    url2: values.url2 ? loopbackOrigin(values.url2) : null,
    secret,
    prefix: values.prefix.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || 'u',
    clients: count('clients', 1, 60_000),
    concurrency: count('concurrency', 1, 1_000),
    pings: count('pings', 1, 100_000),
    cpuSeconds: count('cpu-seconds', 1, 120),
    rate: count('rate', 1, 10_000),
    seconds: count('seconds', 1, 120),
    changes: count('changes', 1, 1_000),
    watch: values.watch,
    pingEveryMs: count('ping-every', 100, 600_000),
    // 'default' = the library default: polling first, then the upgrade, as a browser does
    transports: values.transports === 'default' ? undefined : values.transports.split(','),
    sync: values.sync,
  };
}

const emitResult = (result) => process.stdout.write(`RESULT ${JSON.stringify({ ...result, clientCpuS: ownCpuS() })}\n`);

/** A few clients connect, ping, update and leave: imports, caches and JITs warm up. */
async function warmup(opts) {
  const { sockets, failures } = await connectMany(opts, (i) => `${opts.prefix}-warm-${i}`, 20, 10);
  await sequential(sockets.length, (i) => pingOnce(sockets[i]));
  for (const s of sockets) s.emit('presence:update', { status: 'DND' });
  await sleep(300);
  closeAll(sockets);
  await sleep(500);
  return { connected: sockets.length, failures };
}

// ---------------------------------------------------------------- storm

async function storm(opts, sample) {
  const warm = await warmup(opts);
  await sample('start', 0);
  const run = await timed(() => connectMany(opts, (i) => `${opts.prefix}-${i}`, opts.clients, opts.concurrency));
  const onWebsocket = run.sockets.filter((s) => transportOf(s) === 'websocket').length;
  log(`storm: ${run.sockets.length}/${opts.clients} in ${run.elapsedS.toFixed(2)} s`);
  await sample('done', run.sockets.length);
  closeAll(run.sockets);
  emitResult({
    warmupFailures: warm.failures, requested: opts.clients, connected: run.sockets.length, failures: run.failures,
    elapsedS: round(run.elapsedS), perSecond: round(run.sockets.length / run.elapsedS, 1),
    connectMs: summary(run.latencies), onWebsocketAtEnd: onWebsocket, wallS: run.wallS, phaseCpuS: run.clientCpuS,
  });
}

// ---------------------------------------------------------------- cleanup

async function cleanup(opts, sample) {
  await warmup(opts);
  const run = await connectMany(opts, (i) => `${opts.prefix}-${i}`, opts.clients, opts.concurrency);
  log(`cleanup: ${run.sockets.length}/${opts.clients} connected`);
  await sleep(1_000); // the last registrations land
  process.stdout.write(`IDS ${JSON.stringify(run.ids)}\n`);
  await sample('close', run.sockets.length); // the caller starts watching Redis as it answers
  closeAll(run.sockets);
  await sample('closed', 0); // the caller answers when Redis is clean or its limit passed
  emitResult({ requested: opts.clients, connected: run.sockets.length, failures: run.failures });
}

// ---------------------------------------------------------------- idle: memory, ping, cpu

/** Every socket pings once per `periodMs`, spread evenly over the period; pongs counted. */
async function pingEveryone(sockets, periodMs, durationMs) {
  let sent = 0;
  let received = 0;
  const onPong = () => (received += 1);
  for (const s of sockets) s.on('pong', onPong);
  const t0 = performance.now();
  const gap = periodMs / sockets.length;
  let i = 0;
  while (performance.now() - t0 < durationMs) {
    const due = Math.floor((performance.now() - t0) / gap);
    for (; i < due; i++) {
      sockets[i % sockets.length].emit('ping');
      sent += 1;
    }
    await sleep(10);
  }
  await sleep(500);
  for (const s of sockets) s.off('pong', onPong);
  return { sent, received, wallS: round((performance.now() - t0) / 1000) };
}

async function idle(opts, sample) {
  const warm = await warmup(opts);
  await sample('baseline', 0);
  const run = await timed(() => connectMany(opts, (i) => `${opts.prefix}-${i}`, opts.clients, opts.concurrency));
  const upgraded = await waitUpgraded(run.sockets, 10_000);
  await sleep(SETTLE_MS);
  log(`idle: ${run.sockets.length}/${opts.clients} connected`);
  await sample('idle_ready', run.sockets.length);
  const ping = await timed(() => sequential(opts.pings, (i) => pingOnce(run.sockets[i % run.sockets.length])));
  log(`ping: ${ping.samples.length}/${opts.pings} round trips`);
  await sample('cpu_start', run.sockets.length);
  const load = await timed(() => pingEveryone(run.sockets, 1_000, opts.cpuSeconds * 1_000));
  await sample('cpu_end', run.sockets.length);
  closeAll(run.sockets);
  emitResult({
    warmupFailures: warm.failures, requested: opts.clients, connected: run.sockets.length, upgraded,
    connectFailures: run.failures, connectCpuS: run.clientCpuS,
    ping: { requested: opts.pings, ms: summary(ping.samples), failures: ping.failures, cpuS: ping.clientCpuS },
    cpuLoad: { ...load, cpuS: load.clientCpuS },
  });
}

// ---------------------------------------------------------------- cross-instance

/** Match the k-th arrival to the oldest unmatched send with that status, in order. */
function arrivals(sends) {
  let next = 0;
  const ms = [];
  return {
    ms,
    seen(status) {
      while (next < sends.length && sends[next].status !== status) next += 1;
      if (next < sends.length) ms.push(performance.now() - sends[next++].at);
    },
  };
}

async function cross(opts) {
  if (!opts.url2) throw new Error('cross needs --url2');
  const userId = `${opts.prefix}-x`;
  const a = (await connectClient(opts, userId)).socket;
  const b = (await connectClient({ ...opts, url: opts.url2 }, userId)).socket;
  await sleep(500); // the ONLINE announcements of the two arrivals pass
  // warm the path: a few round trips one at a time, DND first and ONLINE last (the user is
  // ONLINE now, and the gateway sends nothing for a status it already shows: the measured
  // run below starts with DND, so its first send must be a change too)
  for (let i = 0; i < 10; i++) {
    const status = i % 2 === 0 ? 'DND' : 'ONLINE';
    await timeUntil(b, 'presence:updated', (p) => p?.status === status, () => a.emit('presence:update', { status }))
      .catch(() => undefined);
  }
  await sleep(300);
  const sends = [];
  const atB = arrivals(sends);
  const atA = arrivals(sends);
  const onB = (p) => p?.userId === userId && atB.seen(p.status);
  const onA = (p) => p?.userId === userId && atA.seen(p.status);
  b.on('presence:updated', onB);
  a.on('presence:updated', onA);
  const total = opts.rate * opts.seconds;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  while (sends.length < total && performance.now() - t0 < opts.seconds * 1_000 + 5_000) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * opts.rate));
    while (sends.length < due) {
      const status = sends.length % 2 === 0 ? 'DND' : 'ONLINE';
      sends.push({ status, at: performance.now() });
      a.emit('presence:update', { status });
    }
    await sleep(2);
  }
  const sendS = (performance.now() - t0) / 1000;
  const drain = performance.now() + 5_000;
  while ((atB.ms.length < sends.length || atA.ms.length < sends.length) && performance.now() < drain) await sleep(20);
  const cpu = process.cpuUsage(cpu0);
  closeAll([a, b]);
  emitResult({
    sent: sends.length, sendS: round(sendS), rateAchieved: round(sends.length / sendS, 1),
    other: { ...summary(atB.ms), delivered: atB.ms.length },
    own: { ...summary(atA.ms), delivered: atA.ms.length },
    phaseCpuS: round((cpu.user + cpu.system) / 1e6),
  });
}

// ---------------------------------------------------------------- fan-out to watchers

async function fanout(opts) {
  const target = `${opts.prefix}-x`;
  const changer = (await connectClient(opts, target)).socket;
  const watcherOf = opts.watch === 'room' ? () => target : (i) => `${opts.prefix}-w${i}`;
  const run = await connectMany(opts, watcherOf, opts.clients, opts.concurrency);
  const watchers = run.sockets;
  const refused = {};
  if (opts.watch === 'subscribe') {
    await sequential(Math.ceil(watchers.length / 100), async (batch) => {
      const slice = watchers.slice(batch * 100, batch * 100 + 100);
      const replies = await Promise.all(slice.map((s) => s.timeout(10_000).emitWithAck('presence:subscribe', { userIds: [target] })
        .catch((error) => ({ error: describe(error) }))));
      for (const reply of replies) if (reply?.error || reply?.denied?.length) countBy(refused, JSON.stringify(reply).slice(0, 120));
    });
  }
  log(`fanout: ${watchers.length}/${opts.clients} watchers (${opts.watch})`);
  await sleep(1_000);
  const lastMs = [];
  const firstMs = [];
  let complete = 0;
  const cpu0 = process.cpuUsage();
  for (let c = 0; c < opts.changes; c++) {
    const status = c % 2 === 0 ? 'DND' : 'ONLINE';
    let got = 0;
    let first = null;
    let last = null;
    const t0 = performance.now();
    const handlers = watchers.map((s) => {
      const onUpdate = (p) => {
        if (p?.userId !== target || p?.status !== status) return;
        s.off('presence:updated', onUpdate);
        const at = performance.now() - t0;
        first ??= at;
        last = at;
        got += 1;
      };
      s.on('presence:updated', onUpdate);
      return [s, onUpdate];
    });
    changer.emit('presence:update', { status });
    const deadline = t0 + 5_000;
    while (got < watchers.length && performance.now() < deadline) await sleep(1);
    for (const [s, onUpdate] of handlers) s.off('presence:updated', onUpdate);
    if (got === watchers.length) complete += 1;
    if (last !== null) lastMs.push(last);
    if (first !== null) firstMs.push(first);
    await sleep(100);
  }
  const cpu = process.cpuUsage(cpu0);
  closeAll([changer, ...watchers]);
  emitResult({
    watchers: watchers.length, requested: opts.clients, connectFailures: run.failures, refused,
    changes: opts.changes, complete, last: summary(lastMs), first: summary(firstMs),
    phaseCpuS: round((cpu.user + cpu.system) / 1e6),
  });
}

// ---------------------------------------------------------------- hold (capacity)

async function hold(opts) {
  const nextLine = stdinLines();
  const run = await timed(() => connectMany(opts, (i) => `${opts.prefix}-${i}`, opts.clients, opts.concurrency));
  const sockets = run.sockets;
  let pongs = 0;
  let pings = 0;
  for (const s of sockets) s.on('pong', () => (pongs += 1));
  // each socket pings every --ping-every ms, the first at a random point of the period
  const timers = sockets.map((s) => setTimeout(() => {
    const beat = () => { pings += 1; s.emit('ping'); };
    beat();
    timers.push(setInterval(beat, opts.pingEveryMs));
  }, Math.random() * opts.pingEveryMs));
  process.stdout.write(`HELD ${JSON.stringify({
    connected: sockets.length, requested: opts.clients, failures: run.failures, connectS: run.wallS,
  })}\n`);
  for (;;) {
    const line = await nextLine(600_000);
    if (line === null || line.startsWith('exit')) break;
    const [command, n, gap] = line.split(' ');
    if (command !== 'probe') continue;
    const count = Math.min(10_000, Number.parseInt(n, 10) || 100);
    const gapMs = Math.min(1_000, Number.parseInt(gap, 10) || 50);
    const open = sockets.filter((s) => s.connected);
    const probe = await sequential(count, async (i) => {
      const ms = await pingOnce(open[Math.floor(Math.random() * open.length)]);
      await sleep(gapMs);
      return ms;
    }, PROBE_LIMIT_MS);
    process.stdout.write(`PROBE ${JSON.stringify({
      ms: summary(probe.samples), failures: probe.failures, open: open.length, pings, pongs,
    })}\n`);
  }
  for (const t of timers) clearTimeout(t);
  closeAll(sockets);
  emitResult({ connected: sockets.length });
}

// ---------------------------------------------------------------- main

const SCENARIOS = { storm, cleanup, idle, cross, fanout, hold };

async function main() {
  const opts = options();
  const run = SCENARIOS[opts.scenario];
  if (!run) throw new Error(`--scenario must be one of ${Object.keys(SCENARIOS).join(', ')}`);
  await run(opts, makeSampler(opts.sync));
}

main().then(
  () => process.exit(0),
  (error) => {
    log(`failed: ${error.stack ?? error}`);
    process.exit(1);
  },
);
