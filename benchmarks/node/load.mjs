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
 *   delivery  user X has two sockets: socket 1 emits presence:update (ONLINE/DND in turn:
 *             IDLE is a socket's own state, so the other, active socket keeps the user ONLINE),
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
import { parseArgs } from 'node:util';
import {
  closeAll, connectClient, connectMany as connectUsers, countBy, describe, log, loopbackOrigin,
  makeSampler, round, sequential, sleep, summary, timed, timeUntil, transportOf, waitUpgraded,
} from './lib.mjs';

const SETTLE_MS = 2_000;

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
  const secret = values.secret ?? process.env.JWT_SECRET_ACCESS;
  if (!secret) throw new Error('give --secret or JWT_SECRET_ACCESS');
  const count = (name, min) => {
    const n = Number.parseInt(values[name], 10);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  return {
    url: loopbackOrigin(values.url),
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

const connectMany = (opts, prefix, count, concurrency) =>
  connectUsers(opts, (i) => `${prefix}-${i}`, count, concurrency);

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
    const status = i % 2 === 0 ? 'DND' : 'ONLINE';
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
