// Watching, the seq rule against a real gateway, acknowledgements and their errors.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Recorder } from "./gateway.mjs";
import { gatewaySuite } from "./suite.mjs";

const STATUSES = fileURLToPath(new URL("../../../examples/statuses.toml", import.meta.url));
const { signIn } = gatewaySuite({
  gateway: { env: { PRESENCE_STATUSES_FILE: STATUSES, PRESENCE_MAX_IDS_PER_CALL: "3", PRESENCE_WATCH_MAX_TARGETS: "8" } },
  defaults: { maxIdsPerCall: 3, idleAfterMs: 0 },
});
const statusesOf = (recorder, userId) => recorder.values.filter((p) => p.userId === userId).map((p) => p.status);

describe("watch", () => {
  test("the snapshot, then each change once, then nothing after unwatch", async () => {
    const alice = await signIn("w-alice");
    const bob = await signIn("w-bob");
    const seen = new Recorder(alice, "presence");
    const reply = await alice.watch(["w-bob", "w-nobody"]);
    assert.deepEqual(reply.denied, []);
    assert.deepEqual(
      reply.presence.map((p) => [p.userId, p.status]),
      [["w-bob", "ONLINE"], ["w-nobody", "OFFLINE"]],
    );
    assert.deepEqual(reply.presence[0].devices, { web: "ONLINE" });
    assert.equal(reply.presence[0].customStatus, null);
    assert.equal(reply.presence[1].lastSeen, null);
    assert.equal(alice.get("w-bob").status, "ONLINE");
    assert.deepEqual(alice.watching.sort(), ["w-bob", "w-nobody"]);

    await bob.setStatus("DND");
    await seen.waitFor((p) => p.userId === "w-bob" && p.status === "DND", "bob DND");
    await bob.setStatus("ONLINE");
    await seen.waitFor((p) => p.userId === "w-bob" && p.status === "ONLINE" && p.timestamp, "bob ONLINE again");
    assert.deepEqual(statusesOf(seen, "w-bob"), ["ONLINE", "DND", "ONLINE"]);
    const seqs = seen.values.filter((p) => p.userId === "w-bob").map((p) => p.seq);
    assert.deepEqual([...seqs].sort((a, b) => a - b), seqs, "seq grows");
    assert.equal(new Set(seqs).size, seqs.length, "each change once");

    await alice.unwatch(["w-bob"]);
    assert.equal(alice.get("w-bob"), undefined);
    await bob.setStatus("DND");
    // Bob's going offline is seen through nobody's watch; the own event below is the marker.
    const me = new Recorder(bob, "me");
    await bob.setStatus("ONLINE");
    await me.waitFor((p) => p.status === "ONLINE", "bob's own ONLINE");
    assert.deepEqual(statusesOf(seen, "w-bob"), ["ONLINE", "DND", "ONLINE"], "nothing after unwatch");
  });

  test("an update racing the snapshot never moves the dot backwards", async () => {
    const carol = await signIn("w-carol");
    const dave = await signIn("w-dave");
    const statuses = ["DND", "ONLINE", "STREAMING", "DND", "ONLINE", "STREAMING"];
    for (const [round, status] of statuses.entries()) {
      const seen = new Recorder(carol, "presence");
      // The change and the watch cross: the update may come before, inside or after the snapshot.
      const [, reply] = await Promise.all([dave.setStatus(status), carol.watch(["w-dave"])]);
      await seen.waitFor((p) => p.userId === "w-dave" && p.status === status, `round ${round}: ${status}`);
      assert.equal(carol.get("w-dave").status, status);
      const seqs = seen.values.map((p) => p.seq);
      assert.deepEqual([...seqs].sort((a, b) => a - b), seqs, `round ${round}: applied in seq order`);
      assert.equal(new Set(seqs).size, seqs.length, `round ${round}: none twice`);
      assert.ok(reply.presence[0].seq <= carol.get("w-dave").seq);
      seen.off();
      await carol.unwatch(["w-dave"]);
    }
  });

  test("many ids go in calls under the per-call limit, denied and refused ones are reported", async () => {
    const erin = await signIn("w-erin");
    const ids = ["a1", "a2", "a3", "a4", "a5", "a6", "a7"];
    const reply = await erin.watch(ids);
    assert.deepEqual(reply.presence.map((p) => p.userId), ids);
    await assert.rejects(erin.watch(["b1", "b2"]), { code: "limit" }, "past PRESENCE_WATCH_MAX_TARGETS");
    assert.deepEqual(erin.watching.sort(), ids, "a refused watch leaves the list as it was");
    await erin.unwatch(ids);
    assert.deepEqual(erin.watching, []);
    await assert.rejects(erin.watch([""]), { code: "invalid_payload" });
    await assert.rejects(erin.watch(["x".repeat(256)]), { code: "invalid_payload" });
  });
});

describe("acknowledgements", () => {
  test("setStatus resolves once acknowledged; refusals carry their codes", async () => {
    const fay = await signIn("w-fay");
    const me = new Recorder(fay, "me");
    await fay.setStatus("DND");
    await me.waitFor((p) => p.status === "DND", "own DND");
    assert.equal(fay.me.status, "DND");
    await assert.rejects(fay.setStatus("NAPPING"), { code: "unknown_status" });
    await assert.rejects(fay.setStatus("AWAY"), { code: "not_choosable" });
    await assert.rejects(fay.setStatus("X".repeat(65)), { code: "invalid_payload" });
    await assert.rejects(fay.setStatus(""), { code: "invalid_payload" });
    assert.equal(fay.me.status, "DND", "nothing changed by a refusal");
  });
});
