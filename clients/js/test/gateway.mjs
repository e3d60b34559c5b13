// A real gateway for the tests: `presence-gateway serve` on a free port, with a development
// secret; stopped by its id. It stays in the test runner's process group, so whatever stops
// the runner's group (the pytest wrapper, a terminal's Ctrl-C) stops the gateways too. Nothing here sleeps on the
// clock: readiness is the gateway answering /healthz, events are awaited with a deadline.
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdtempSync, openSync, readFileSync, closeSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
export const CHECKOUT = resolve(HERE, "../../..");
export const SECRET = "js-client-test-secret-long-enough-for-hs256";
const BIN = process.env.PRESENCE_GATEWAY_BIN ?? join(CHECKOUT, ".venv/bin/presence-gateway");
const running = new Set();

process.on("exit", () => {
  for (const child of running) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

const base64url = (value) => Buffer.from(value).toString("base64url");

/** An HS256 token for `sub`, as the chat backend signs them. */
export function mint(sub, { secret = SECRET, expiresIn = 3600 } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = base64url(JSON.stringify({ sub, iat: now, exp: now + expiresIn }));
  const signature = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

/** The Redis the suite may use, one database per test run (given by the pytest wrapper),
 * or null: the caller then skips, naming it, or fails where tools are required. */
export function redisUrl() {
  return process.env.PRESENCE_TEST_REDIS_URL || null;
}

export function requireTools() {
  return ["1", "true", "yes"].includes((process.env.PRESENCE_TEST_REQUIRE_TOOLS ?? "").toLowerCase());
}

export class Gateway {
  constructor({ env = {}, port } = {}) {
    this.env = env;
    this.port = port;
    this.dataDir = env.PRESENCE_DATA_DIR ?? mkdtempSync(join(tmpdir(), "presence-js-"));
    this.logPath = join(this.dataDir, "gateway.log");
    this.child = null;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(timeoutMs = 30_000) {
    if (!existsSync(BIN)) throw new Error(`no gateway at ${BIN}: run \`make lint\` (it creates .venv) or set PRESENCE_GATEWAY_BIN`);
    this.port ??= await freePort();
    const log = openSync(this.logPath, "a");
    const inherited = { ...process.env };
    for (const name of ["CACHE_HOST", "REDIS_URL", "DATABASE_URL"]) delete inherited[name];
    const child = spawn(BIN, ["serve", "--port", String(this.port)], {
      cwd: this.dataDir,
      env: {
        ...inherited,
        JWT_SECRET_ACCESS: SECRET,
        PRESENCE_DATA_DIR: this.dataDir,
        PRESENCE_OFFLINE_GRACE: "0",
        LOG_LEVEL: "INFO",
        ...this.env,
      },
      stdio: ["ignore", log, log],
    });
    closeSync(log);
    this.child = child;
    running.add(child);
    child.once("exit", () => running.delete(child));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}:\n${this.log()}`);
      try {
        const response = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (response.ok) return this;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`gateway not ready after ${timeoutMs} ms:\n${this.log()}`);
      }
      await new Promise((done) => setTimeout(done, 50)); // poll for readiness; bounded by the deadline
    }
  }

  /** SIGTERM by its id, SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs = 15_000) {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  /** How many `event`s this gateway has received from all its sockets, answered or refused
   * (its /metrics, `presence_events_total`). */
  async received(event) {
    const text = await (await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    let total = 0;
    for (const line of text.split("\n")) {
      const match = /^presence_events_total\{event="([^"]+)",outcome="[a-z]+"\} ([0-9.e+]+)$/.exec(line);
      if (match && match[1] === event) total += Number(match[2]);
    }
    return total;
  }

  log() {
    return existsSync(this.logPath) ? readFileSync(this.logPath, "utf8") : "";
  }
}

/** Every value `client` emits as `event`, in order, with a way to wait for one. */
export class Recorder {
  constructor(client, event) {
    this.values = [];
    this.waiters = [];
    this.off = client.on(event, (value) => {
      this.values.push(value);
      for (const waiter of [...this.waiters]) waiter.check();
    });
  }

  /** Until a recorded value matches (one already recorded counts), at most `timeoutMs`. */
  waitFor(predicate, what, timeoutMs = 10_000) {
    const found = this.values.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((done, fail) => {
      const waiter = {
        check: () => {
          const value = this.values.find(predicate);
          if (value === undefined) return;
          clearTimeout(timer);
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          done(value);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        fail(new Error(`not seen within ${timeoutMs} ms: ${what}; seen ${JSON.stringify(this.values)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  clear() {
    this.values.length = 0;
  }
}
