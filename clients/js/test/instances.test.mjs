// Two instances on one Redis, and a restart of one while its client watches.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PresenceClient } from "../dist/index.js";
import { Gateway, mint, Recorder, redisUrl, requireTools } from "./gateway.mjs";

const redis = redisUrl();
const reason = "no Redis for the two-instance tests: set PRESENCE_TEST_REDIS_URL (make test gives one)";
if (!redis && requireTools()) throw new Error(`${reason} (PRESENCE_TEST_REQUIRE_TOOLS=1: a missing tool fails)`);

const a = new Gateway({ env: { REDIS_URL: redis ?? "" } });
const b = new Gateway({ env: { REDIS_URL: redis ?? "" } });
const clients = [];
function client(gateway, token, options = {}) {
  const made = new PresenceClient({ url: gateway.url, token, idleAfterMs: 0, reconnectDelayMs: 100, reconnectDelayMaxMs: 400, ...options });
  clients.push(made);
  return made;
}
const of = (recorder, userId) => recorder.values.filter((p) => p.userId === userId).map((p) => p.status);

describe("two instances on Redis", { skip: redis ? false : reason }, () => {
  before(() => Promise.all([a.start(), b.start()]));
  after(async () => {
    for (const made of clients) made.close();
    await Promise.all([a.stop(), b.stop()]);
  });

  test("a change on one instance reaches a watcher on the other, once", async () => {
    const alice = client(a, mint("i-alice"));
    const bob = client(b, mint("i-bob"));
    await Promise.all([alice.connect(), bob.connect()]);
    const seen = new Recorder(alice, "presence");
    const reply = await alice.watch(["i-bob"]);
    assert.equal(reply.presence[0].status, "ONLINE");
    await bob.setStatus("DND");
    await seen.waitFor((p) => p.status === "DND", "bob DND through Redis");
    await bob.setStatus("ONLINE");
    await seen.waitFor((p) => p.status === "ONLINE" && p.timestamp, "bob ONLINE through Redis");
    assert.deepEqual(of(seen, "i-bob"), ["ONLINE", "DND", "ONLINE"]);
  });

  test("a restart while watching: reconnect with a new token, re-watch, each change of the gap once", async () => {
    let asked = 0;
    const alice = client(a, () => (asked++, mint("r-alice")));
    const bob = client(b, mint("r-bob"));
    const carol = client(b, mint("r-carol"));
    await Promise.all([alice.connect(), bob.connect(), carol.connect()]);
    await alice.watch(["r-bob", "r-carol"]);
    const seen = new Recorder(alice, "presence");
    const states = new Recorder(alice, "state");

    await a.stop(); // alice's instance goes away
    await states.waitFor((s) => s === "reconnecting", "alice reconnecting");
    await bob.setStatus("DND"); // while alice is away, on the other instance
    await a.start(); // the same port
    await states.waitFor((s) => s === "connected", "alice connected again");
    assert.equal(asked, 2, "the token asked for again");
    await seen.waitFor((p) => p.userId === "r-bob" && p.status === "DND", "bob's change of the gap");

    // A later change of bob's marks the end: whatever the re-watch sent is in by then.
    await bob.setStatus("ONLINE");
    await seen.waitFor((p) => p.userId === "r-bob" && p.status === "ONLINE", "bob ONLINE after the gap");
    assert.deepEqual(of(seen, "r-bob"), ["DND", "ONLINE"], "bob's gap change once, in order");
    assert.deepEqual(of(seen, "r-carol"), [], "carol never left: no leave and join");
    assert.equal(alice.get("r-carol").status, "ONLINE");
    assert.deepEqual(alice.watching.sort(), ["r-bob", "r-carol"]);
  });
});
