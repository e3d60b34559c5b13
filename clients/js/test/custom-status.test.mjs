// setCustomStatus against a real gateway: set, seen by a watcher, cleared by hand and at its
// expiry, refused with the gateway's own code; and the Presence the client hands out carries
// devices, customStatus and seq as the gateway sent them.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { io } from "socket.io-client";
import { mint, Recorder } from "./gateway.mjs";
import { gatewaySuite } from "./suite.mjs";

// A short sweep, so a custom status set to expire in a second is cleared soon after.
const { gateway, signIn } = gatewaySuite({
  gateway: { env: { PRESENCE_SWEEP_INTERVAL: "0.1" } },
  defaults: { idleAfterMs: 0 },
});

const customOf = (recorder, userId) => recorder.values.filter((p) => p.userId === userId).map((p) => p.customStatus);
const seqsOf = (recorder, userId) => recorder.values.filter((p) => p.userId === userId).map((p) => p.seq);

function assertGrowing(seqs, what) {
  for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `${what}: seq grows ${JSON.stringify(seqs)}`);
}

/** The stock socket.io-client watching `userIds`: the raw payloads, to hold the client's against. */
async function rawWatcher(userId, userIds) {
  const socket = io(gateway.url, { auth: { token: mint(userId) }, transports: ["websocket"], forceNew: true });
  const updates = new Recorder(socket, "presence:updated"); // a socket has `on` too
  await new Promise((done, fail) => {
    socket.once("connected", done);
    socket.once("connect_error", fail);
  });
  const snapshot = await socket.timeout(10_000).emitWithAck("presence:subscribe", { userIds });
  return { socket, snapshot, updates };
}

describe("custom status", () => {
  test("set with text, emoji and expiresAt, seen by a watcher with seq growing, cleared with null", async () => {
    const alice = await signIn("c-alice");
    const bob = await signIn("c-bob");
    const [before] = (await alice.watch(["c-bob"])).presence;
    const seen = new Recorder(alice, "presence");
    const own = new Recorder(bob, "me");
    assert.equal(before.customStatus, null);

    const expiresAt = new Date(Date.now() + 3_600_000);
    await bob.setCustomStatus({ text: "In a meeting", emoji: "📅", expiresAt });
    const meeting = { text: "In a meeting", emoji: "📅", expiresAt: expiresAt.toISOString() };
    const set = await seen.waitFor((p) => p.customStatus?.text === "In a meeting", "bob's custom status");
    assert.deepEqual(set.customStatus, meeting);
    assert.equal(set.status, "ONLINE", "a custom status leaves the status as it was");
    assert.ok(set.seq > before.seq, "the change is newer than the snapshot");
    assert.deepEqual(alice.get("c-bob").customStatus, meeting);
    await own.waitFor((p) => p.customStatus?.text === "In a meeting", "bob's own presence");
    assert.deepEqual(bob.me.customStatus, meeting);

    await bob.setCustomStatus({ text: "Lunch" }); // no emoji, no expiry: the gateway says null for both
    await seen.waitFor((p) => p.customStatus?.text === "Lunch", "bob at lunch");
    assert.deepEqual(alice.get("c-bob").customStatus, { text: "Lunch", emoji: null, expiresAt: null });

    await bob.setCustomStatus(null);
    await seen.waitFor((p, i) => p.customStatus === null, "bob's custom status cleared");
    assert.equal(alice.get("c-bob").customStatus, null);
    await own.waitFor((p) => p.customStatus === null && p.seq > set.seq, "bob's own presence cleared");
    assert.equal(bob.me.customStatus, null);

    assert.deepEqual(
      customOf(seen, "c-bob").map((c) => c?.text ?? null),
      ["In a meeting", "Lunch", null],
      "each change once, in order",
    );
    assertGrowing(seqsOf(seen, "c-bob"), "the watcher's updates");
  });

  test("cleared by the gateway at expiresAt: the watcher sees it go", async () => {
    const carol = await signIn("c-carol");
    const dave = await signIn("c-dave");
    await carol.watch(["c-dave"]);
    const seen = new Recorder(carol, "presence");
    const expiresAt = new Date(Date.now() + 1000).toISOString(); // a string is sent as it is
    await dave.setCustomStatus({ text: "Back in a second", expiresAt });
    const set = await seen.waitFor((p) => p.customStatus?.text === "Back in a second", "dave's custom status");
    assert.equal(set.customStatus.expiresAt, expiresAt);
    const cleared = await seen.waitFor((p) => p.customStatus === null, "cleared at its expiry", 15_000);
    assert.ok(cleared.seq > set.seq);
    assert.ok(Date.now() >= Date.parse(expiresAt), "not before its time");
    assert.equal(carol.get("c-dave").customStatus, null);
    assert.equal(cleared.status, "ONLINE");
  });

  test("a bad shape is refused with the gateway's invalid_payload, and changes nothing", async () => {
    const erin = await signIn("c-erin");
    const watcher = await signIn("c-erin-watcher");
    await erin.setCustomStatus({ text: "Focus" });
    const [before] = (await watcher.watch(["c-erin"])).presence;
    const seen = new Recorder(watcher, "presence");
    for (const [custom, said] of [
      [{ text: "" }, /customStatus\.text/],
      [{ text: "x".repeat(129) }, /customStatus\.text/],
      [{ text: "ok", emoji: 5 }, /customStatus\.emoji/],
      [{ text: "ok", expiresAt: "tomorrow" }, /customStatus\.expiresAt/],
      [{ text: "ok", expiresAt: new Date(Date.now() - 60_000) }, /in the future/],
      [{ text: "ok", mood: "sunny" }, /unknown key/],
    ]) {
      await assert.rejects(
        erin.setCustomStatus(custom),
        (error) => {
          assert.equal(error.name, "PresenceError");
          assert.equal(error.code, "invalid_payload");
          assert.match(error.message, said, "the gateway's own words: the ack's error, not a check of the client's");
          return true;
        },
        JSON.stringify(custom),
      );
    }
    for (const custom of [{ text: "ok", expiresAt: new Date("not a date") }, "Lunch", undefined]) {
      await assert.rejects(erin.setCustomStatus(custom), { name: "PresenceError", code: "invalid_payload" }, String(custom));
    }
    // A later change marks the end: any change the refusals made would have come first.
    await erin.setStatus("DND");
    await seen.waitFor((p) => p.status === "DND", "erin DND");
    assert.deepEqual(
      seen.values.map((p) => [p.status, p.customStatus?.text]),
      [["DND", "Focus"]],
      "nothing changed by the refusals",
    );
    assert.ok(seen.values[0].seq > before.seq);
  });

  test("the client's Presence carries devices, customStatus and seq as the gateway sends them", async () => {
    const fay = await signIn("c-fay", { device: "desktop" });
    await signIn("c-fay", { device: "mobile" });
    await fay.setCustomStatus({ text: "On the train", emoji: "🚆" });
    const watcher = await signIn("c-fay-watcher");
    const raw = await rawWatcher("c-fay-raw", ["c-fay"]);
    try {
      const [entry] = (await watcher.watch(["c-fay"])).presence;
      const seen = new Recorder(watcher, "presence");
      const [wireEntry] = raw.snapshot.presence;
      assert.deepEqual(
        { ...entry },
        { ...wireEntry, timestamp: null },
        "a snapshot entry as the gateway sent it (no timestamp: a snapshot has none)",
      );
      assert.deepEqual(entry.devices, { desktop: "ONLINE", mobile: "ONLINE" });

      await fay.setCustomStatus({ text: "Off the train", emoji: "🏠" });
      const applied = await seen.waitFor((p) => p.customStatus?.text === "Off the train", "the change");
      const wire = await raw.updates.waitFor((p) => p.customStatus?.text === "Off the train", "the change on the wire");
      assert.deepEqual(
        { devices: applied.devices, customStatus: applied.customStatus, seq: applied.seq, status: applied.status },
        { devices: wire.devices, customStatus: wire.customStatus, seq: wire.seq, status: wire.status },
      );
      assert.equal(applied.timestamp, wire.timestamp);
      assert.equal(typeof applied.seq, "number");
    } finally {
      raw.socket.disconnect();
    }
  });
});
