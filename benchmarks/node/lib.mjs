/**
 * What the load scripts share: loopback-only targets, HS256 tokens, socket.io-client
 * connections counted on the `connected` greeting, percentiles, and the SAMPLE
 * handshake with the Python caller (it reads the server's /proc entries while the
 * clients are in a known state). Every wait here is bounded in time.
 */
import { createHmac } from 'node:crypto';
import { createInterface } from 'node:readline';
import { io } from 'socket.io-client';

export const CONNECT_TIMEOUT_MS = 20_000;
export const REPLY_TIMEOUT_MS = 5_000;
export const PHASE_LIMIT_MS = 180_000;
export const UPGRADE_WAIT_MS = 30_000;
const MAX_CONSECUTIVE_FAILURES = 20;

export function loopbackOrigin(text) {
  const url = new URL(text ?? '');
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    throw new Error(`refusing ${url.hostname}: this benchmark only targets loopback`);
  }
  return url.origin;
}

export function mintJwt(secret, sub, lifetimeS = 3600) {
  const part = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const head = part({ alg: 'HS256', typ: 'JWT' });
  const body = part({ sub, exp: Math.floor(Date.now() / 1000) + lifetimeS });
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const log = (msg) => process.stderr.write(`[load] ${msg}\n`);
export const round = (x, digits = 3) => (x == null ? null : Number(x.toFixed(digits)));

export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summary(samplesMs) {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? null),
  };
}

/** Wall and client CPU seconds of a phase, to show how the two processes shared the cores. */
export async function timed(fn) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await fn();
  const cpu = process.cpuUsage(cpu0);
  return { ...result, wallS: round((performance.now() - t0) / 1000), clientCpuS: round((cpu.user + cpu.system) / 1e6) };
}

/** CPU seconds this process has used since it started. */
export function ownCpuS() {
  const cpu = process.cpuUsage();
  return round((cpu.user + cpu.system) / 1e6);
}

/** engine.io-client hides the cause in `description` (an HTTP status, or the error). */
export function describe(error) {
  const cause = error?.description;
  if (cause == null) return error.message;
  const detail = typeof cause === 'number' ? `HTTP status ${cause}` : (cause.message ?? cause.code ?? String(cause));
  return `${error.message} (${detail})`;
}

export function countBy(map, key) {
  map[key] = (map[key] ?? 0) + 1;
}

/** Lines from the caller on stdin, one at a time; null after `timeoutMs` or at EOF. */
export function stdinLines() {
  const waiting = [];
  const lines = [];
  let closed = false;
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => (waiting.length ? waiting.shift()(line) : lines.push(line)));
  rl.on('close', () => {
    closed = true;
    while (waiting.length) waiting.shift()(null);
  });
  return (timeoutMs = 60_000) => {
    if (lines.length) return Promise.resolve(lines.shift());
    if (closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      waiting.push((line) => (clearTimeout(timer), resolve(line)));
    });
  };
}

/** `SAMPLE <label> <open>` on stdout; with sync, wait for the caller's answer line. */
export function makeSampler(sync, nextLine = sync ? stdinLines() : null) {
  return async (label, open) => {
    process.stdout.write(`SAMPLE ${label} ${open}\n`);
    if (!sync) return null;
    const answer = await nextLine();
    if (answer === null) log(`no answer to SAMPLE ${label}; going on`);
    return answer;
  };
}

/** One client, resolved with its socket once the server's `connected` greeting arrives. */
export function connectClient(opts, userId) {
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
      resolve({ socket, ms: performance.now() - started, socketId: greeting.socketId });
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

/** Connect `count` clients, `concurrency` at a time; failures are counted, not thrown.
 * `userOf(i)` names the user of the i-th client. */
export async function connectMany(opts, userOf, count, concurrency) {
  const sockets = [];
  const latencies = [];
  const ids = [];
  const failures = {};
  const deadline = performance.now() + PHASE_LIMIT_MS;
  let next = 0;
  const worker = async () => {
    while (next < count && performance.now() < deadline) {
      const i = next++;
      const userId = userOf(i);
      try {
        const { socket, ms, socketId } = await connectClient(opts, userId);
        sockets.push(socket);
        latencies.push(ms);
        ids.push([userId, socketId]);
      } catch (error) {
        countBy(failures, describe(error));
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const elapsedS = (performance.now() - t0) / 1000;
  return { sockets, latencies, ids, failures, elapsedS, attempted: next };
}

export const transportOf = (socket) => socket.io.engine?.transport?.name ?? 'closed';

export async function waitUpgraded(sockets, limitMs = UPGRADE_WAIT_MS) {
  const deadline = performance.now() + limitMs;
  const upgraded = () => sockets.filter((s) => transportOf(s) === 'websocket').length;
  while (upgraded() < sockets.length && performance.now() < deadline) await sleep(50);
  return upgraded();
}

export function closeAll(sockets) {
  for (const socket of sockets) socket.close();
}

/** Send, then time until `event` arrives on `receiver` with a payload that `matches`. */
export function timeUntil(receiver, event, matches, send, limitMs = REPLY_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const timer = setTimeout(() => {
      receiver.off(event, onEvent);
      reject(new Error(`no ${event} within ${limitMs} ms`));
    }, limitMs);
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
export async function sequential(count, step, limitMs = PHASE_LIMIT_MS) {
  const samples = [];
  const failures = {};
  const deadline = performance.now() + limitMs;
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

/** A ping answered by its pong, timed. */
export function pingOnce(socket, limitMs = REPLY_TIMEOUT_MS) {
  return timeUntil(socket, 'pong', () => true, () => socket.emit('ping'), limitMs);
}
