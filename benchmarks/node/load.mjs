#!/usr/bin/env node
/**
 * Load client for the presence gateway, written with socket.io-client 4 so that the
 * figures compare with the Node socket.io 4 reference, which was measured the same way.
 *
 * Phases, in this order (memory is measured first, on a fresh process, because a
 * Python process seldom gives memory back: connecting and dropping 2000 clients
 * first would hide the cost of the idle ones):
 *   warmup    a few clients connect, ping, update and leave (imports, caches)
 *   idle      --idle clients connect and upgrade; the caller samples RSS before/after
 *   ping      --pings `ping` -> `pong` round trips, one at a time, over the idle clients
 *   delivery  user X has two sockets: socket 1 emits presence:update (IDLE/DND in turn),
 *             time until socket 2 receives the matching presence:updated
 *   connect   --clients clients, --concurrency at a time, each counted when its
 *             `connected` greeting arrives; they stay connected until the end
 *   shutdown  the caller stops the gateway; count the sockets that saw it go
 *
 * Protocol on stdout (progress goes to stderr):
 *   SAMPLE <label> <open sockets>   with --sync, waits for one line on stdin, so the
 *                                   caller can read the server's RSS at that moment
 *   RESULT <json>                   the figures
 *   SHUTDOWN <json>                 what the clients saw when the server stopped
 *
 * Usage: node load.mjs --url http://127.0.0.1:PORT [--secret S | env JWT_SECRET_ACCESS]
 *          [--clients 2000] [--concurrency 100] [--idle 1000] [--pings 2000]
 *          [--updates 1000] [--transports websocket] [--sync]
 * Only loopback URLs are accepted; every loop is bounded in count and in time.
 */
import { createHmac } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';

const CONNECT_TIMEOUT_MS = 20_000;
const REPLY_TIMEOUT_MS = 5_000;
const PHASE_LIMIT_MS = 180_000;
const UPGRADE_WAIT_MS = 30_000;
const SETTLE_MS = 2_000;
const MAX_CONSECUTIVE_FAILURES = 20;

// ---------------------------------------------------------------- options, tokens

function options() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      secret: { type: 'string' },
      clients: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '100' },
      idle: { type: 'string', default: '1000' },
      pings: { type: 'string', default: '2000' },
      updates: { type: 'string', default: '1000' },
      transports: { type: 'string' },
      sync: { type: 'boolean', default: false },
    },
  });
  const url = new URL(values.url ?? '');
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    throw new Error(`refusing ${url.hostname}: this benchmark only targets loopback`);
  }
  const secret = values.secret ?? process.env.JWT_SECRET_ACCESS;
  if (!secret) throw new Error('give --secret or JWT_SECRET_ACCESS');
  const count = (name, min) => {
    const n = Number.parseInt(values[name], 10);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  return {
    url: url.origin,
    secret,
    clients: count('clients', 1),
    concurrency: count('concurrency', 1),
    idle: count('idle', 1),
    pings: count('pings', 1),
    updates: count('updates', 1),
    // undefined = the library default, polling then upgrade, as a browser does
    transports: values.transports ? values.transports.split(',') : undefined,
    sync: values.sync,
  };
}

function mintJwt(secret, sub, lifetimeS = 3600) {
  const part = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const head = part({ alg: 'HS256', typ: 'JWT' });
  const body = part({ sub, exp: Math.floor(Date.now() / 1000) + lifetimeS });
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

// ---------------------------------------------------------------- small helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => process.stderr.write(`[load] ${msg}\n`);
const round = (x, digits = 3) => (x == null ? null : Number(x.toFixed(digits)));

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function summary(samplesMs) {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? null),
  };
}

/** Wall and client CPU seconds of a phase, to show how the two processes shared 2 cores. */
async function timed(fn) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await fn();
  const cpu = process.cpuUsage(cpu0);
  return { ...result, wallS: round((performance.now() - t0) / 1000), clientCpuS: round((cpu.user + cpu.system) / 1e6) };
}

/** engine.io-client hides the cause in `description` (an HTTP status, or the error). */
function describe(error) {
  const cause = error?.description;
  if (cause == null) return error.message;
  const detail = typeof cause === 'number' ? `HTTP status ${cause}` : (cause.message ?? cause.code ?? String(cause));
  return `${error.message} (${detail})`;
}

function countBy(map, key) {
  map[key] = (map[key] ?? 0) + 1;
}

// ---------------------------------------------------------------- sync with the caller

function makeSampler(sync) {
  const waiting = [];
  const lines = [];
  if (sync) {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => (waiting.length ? waiting.shift()(line) : lines.push(line)));
  }
  const nextLine = () =>
    lines.length
      ? Promise.resolve(lines.shift())
      : new Promise((resolve) => {
          const timer = setTimeout(() => resolve(null), 60_000);
          waiting.push((line) => (clearTimeout(timer), resolve(line)));
        });
  return async (label, open) => {
    process.stdout.write(`SAMPLE ${label} ${open}\n`);
    if (sync && (await nextLine()) === null) log(`no answer to SAMPLE ${label}; going on`);
  };
}

// ---------------------------------------------------------------- sockets

function connectClient(opts, userId) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = io(opts.url, {
      auth: { token: mintJwt(opts.secret, userId) },
      forceNew: true, // one engine.io connection per client, not multiplexed
      reconnection: false,
      timeout: CONNECT_TIMEOUT_MS,
      ...(opts.transports ? { transports: opts.transports } : {}),
    });
    const timer = setTimeout(() => fail(new Error('no connected event in time')), CONNECT_TIMEOUT_MS);
    const done = () => {
      clearTimeout(timer);
      socket.off('connected', onConnected).off('connect_error', fail).off('disconnect', onDisconnect);
    };
    function onConnected(greeting) {
      done();
      if (greeting?.userId !== userId) {
        socket.close();
        reject(new Error(`connected greeting for ${greeting?.userId}, expected ${userId}`));
        return;
      }
      resolve({ socket, ms: performance.now() - started });
    }
    function onDisconnect(reason) {
      fail(new Error(`disconnected before connected: ${reason}`));
    }
    function fail(error) {
      done();
      socket.close();
      reject(error);
    }
    socket.on('connected', onConnected).on('connect_error', fail).on('disconnect', onDisconnect);
  });
}

/** Connect `count` clients, `concurrency` at a time; failures are counted, not thrown. */
async function connectMany(opts, prefix, count, concurrency) {
  const sockets = [];
  const latencies = [];
  const failures = {};
  const deadline = performance.now() + PHASE_LIMIT_MS;
  let next = 0;
  const worker = async () => {
    while (next < count && performance.now() < deadline) {
      const i = next++;
      try {
        const { socket, ms } = await connectClient(opts, `${prefix}-${i}`);
        sockets.push(socket);
        latencies.push(ms);
      } catch (error) {
        countBy(failures, describe(error));
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const elapsedS = (performance.now() - t0) / 1000;
  return { sockets, latencies, failures, elapsedS, attempted: next };
}

const transportOf = (socket) => socket.io.engine?.transport?.name ?? 'closed';

async function waitUpgraded(sockets, limitMs = UPGRADE_WAIT_MS) {
  const deadline = performance.now() + limitMs;
  const upgraded = () => sockets.filter((s) => transportOf(s) === 'websocket').length;
  while (upgraded() < sockets.length && performance.now() < deadline) await sleep(50);
  return upgraded();
}

function closeAll(sockets) {
  for (const socket of sockets) socket.close();
}

/** Send, then time until `event` arrives on `receiver` with a payload that `matches`. */
function timeUntil(receiver, event, matches, send) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const timer = setTimeout(() => {
      receiver.off(event, onEvent);
      reject(new Error(`no ${event} within ${REPLY_TIMEOUT_MS} ms`));
    }, REPLY_TIMEOUT_MS);
    function onEvent(payload) {
      if (!matches(payload)) return;
      clearTimeout(timer);
      receiver.off(event, onEvent);
      resolve(performance.now() - t0);
    }
    receiver.on(event, onEvent);
    send();
  });
}

/** Run `count` timed steps one after another, bounded in time and in failures. */
async function sequential(count, step) {
  const samples = [];
  const failures = {};
  const deadline = performance.now() + PHASE_LIMIT_MS;
  let consecutive = 0;
  for (let i = 0; i < count && performance.now() < deadline; i++) {
    try {
      samples.push(await step(i));
      consecutive = 0;
    } catch (error) {
      countBy(failures, describe(error));
      if (++consecutive >= MAX_CONSECUTIVE_FAILURES) break;
    }
  }
  return { samples, failures };
}

// ---------------------------------------------------------------- phases

async function warmup(opts) {
  const { sockets, failures } = await connectMany(opts, 'warm', 20, 10);
  await waitUpgraded(sockets, 5_000);
  await sequential(sockets.length, (i) => timeUntil(sockets[i], 'pong', () => true, () => sockets[i].emit('ping')));
  for (const s of sockets) s.emit('presence:update', { status: 'DND' });
  await sleep(300);
  closeAll(sockets);
  await sleep(1_000);
  return { connected: sockets.length, failures };
}

async function idlePhase(opts) {
  const run = await connectMany(opts, 'idle', opts.idle, opts.concurrency);
  const upgraded = await waitUpgraded(run.sockets);
  await sleep(SETTLE_MS);
  return { ...run, upgraded };
}

function pingPhase(sockets, pings) {
  const step = (i) => {
    const socket = sockets[i % sockets.length];
    return timeUntil(socket, 'pong', () => true, () => socket.emit('ping'));
  };
  return sequential(pings, step);
}

async function deliveryPhase(opts) {
  const userId = 'deliver-x';
  const one = await connectClient(opts, userId);
  const two = await connectClient(opts, userId);
  const pair = [one.socket, two.socket];
  await waitUpgraded(pair, 5_000);
  await sleep(300); // let the ONLINE announcements of the two arrivals pass
  const step = (i) => {
    const status = i % 2 === 0 ? 'IDLE' : 'DND';
    const matches = (p) => p?.userId === userId && p?.status === status;
    return timeUntil(pair[1], 'presence:updated', matches, () => pair[0].emit('presence:update', { status }));
  };
  const result = await sequential(opts.updates, step);
  closeAll(pair);
  return result;
}

function watchDisconnects(sockets) {
  const seen = { count: 0, reasons: {} };
  for (const socket of sockets) {
    if (!socket.connected) continue;
    socket.once('disconnect', (reason) => {
      seen.count += 1;
      countBy(seen.reasons, reason);
    });
  }
  return seen;
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = options();
  const sample = makeSampler(opts.sync);
  log(`target ${opts.url}, transports ${opts.transports?.join(',') ?? 'default (polling, then websocket)'}`);

  const warm = await warmup(opts);
  log(`warmup: ${warm.connected} connected`);
  await sample('baseline', 0);

  const idle = await timed(() => idlePhase(opts));
  log(`idle: ${idle.sockets.length}/${opts.idle} connected, ${idle.upgraded} on websocket`);
  await sample('idle_ready', idle.sockets.length);

  const ping = await timed(() => pingPhase(idle.sockets, opts.pings));
  log(`ping: ${ping.samples.length}/${opts.pings} round trips`);
  await sample('after_ping', idle.sockets.length);

  const delivery = await timed(() => deliveryPhase(opts));
  log(`delivery: ${delivery.samples.length}/${opts.updates} updates`);
  await sample('after_delivery', idle.sockets.length);

  closeAll(idle.sockets);
  await sleep(SETTLE_MS);
  await sample('idle_closed', 0);

  const connect = await timed(() => connectMany(opts, 'conn', opts.clients, opts.concurrency));
  const connectUpgraded = connect.sockets.filter((s) => transportOf(s) === 'websocket').length;
  log(`connect: ${connect.sockets.length}/${opts.clients} in ${connect.elapsedS.toFixed(2)} s`);
  await sample('connect_done', connect.sockets.length);

  const result = {
    transports: opts.transports ?? ['polling', 'websocket'],
    warmup: warm,
    idle: {
      requested: opts.idle, connected: idle.sockets.length, upgraded: idle.upgraded,
      failures: idle.failures, wallS: idle.wallS, clientCpuS: idle.clientCpuS,
      connectMs: summary(idle.latencies),
    },
    ping: { requested: opts.pings, ms: summary(ping.samples), failures: ping.failures, wallS: ping.wallS, clientCpuS: ping.clientCpuS },
    delivery: { requested: opts.updates, ms: summary(delivery.samples), failures: delivery.failures, wallS: delivery.wallS, clientCpuS: delivery.clientCpuS },
    connect: {
      requested: opts.clients, attempted: connect.attempted, concurrency: opts.concurrency,
      connected: connect.sockets.length, failures: connect.failures,
      elapsedS: round(connect.elapsedS), perSecond: round(connect.sockets.length / connect.elapsedS, 1),
      onWebsocketAtEnd: connectUpgraded, connectMs: summary(connect.latencies),
      wallS: connect.wallS, clientCpuS: connect.clientCpuS,
    },
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);

  // The caller stops the server while these clients are still connected.
  const seen = watchDisconnects(connect.sockets);
  const open = connect.sockets.filter((s) => s.connected).length;
  await sample('shutdown', open);
  const deadline = performance.now() + 5_000;
  while (seen.count < open && performance.now() < deadline) await sleep(50);
  process.stdout.write(`SHUTDOWN ${JSON.stringify({ open, sawDisconnect: seen.count, reasons: seen.reasons })}\n`);
  closeAll(connect.sockets);
}

main().then(
  () => process.exit(0),
  (error) => {
    log(`failed: ${error.stack ?? error}`);
    process.exit(1);
  },
);
