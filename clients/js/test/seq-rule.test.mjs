// The seq rule on its own: what arrives in every order a network can deliver it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parsePresence, PresenceStore } from "../dist/presence.js";

const at = (seq, status, extra = {}) =>
  parsePresence({ userId: "7", status, seq, devices: { web: "ONLINE" }, customStatus: null, timestamp: "t", ...extra }, undefined);

test("a snapshot answering after a newer update is dropped", () => {
  const store = new PresenceStore();
  assert.equal(store.offer(at(5, "DND")), "changed"); // the update came first
  assert.equal(store.offer(at(4, "ONLINE", { lastSeen: null })), "stale"); // the older snapshot after it
  assert.equal(store.get("7").status, "DND");
});

test("a duplicate is dropped; an equal seq is not newer", () => {
  const store = new PresenceStore();
  store.offer(at(5, "DND"));
  assert.equal(store.offer(at(5, "DND")), "stale");
  assert.equal(store.offer(at(5, "ONLINE")), "stale");
});

test("a newer presence that shows the same is applied silently (a reconnect's snapshot)", () => {
  const store = new PresenceStore();
  store.offer(at(5, "ONLINE", { lastSeen: null }));
  assert.equal(store.offer(at(9, "ONLINE", { lastSeen: null })), "unchanged");
  assert.equal(store.get("7").seq, 9);
  assert.equal(store.offer(at(8, "OFFLINE")), "stale", "an update from before the reconnect");
});

test("going offline makes the update's time the last seen; staying offline keeps it", () => {
  const online = at(1, "ONLINE");
  assert.equal(online.lastSeen, null);
  const offline = parsePresence({ userId: "7", status: "OFFLINE", seq: 2, timestamp: "2026-01-01T00:00:00.000Z" }, online);
  assert.equal(offline.lastSeen, "2026-01-01T00:00:00.000Z");
  const again = parsePresence({ userId: "7", status: "OFFLINE", seq: 3, timestamp: "2026-01-02T00:00:00.000Z" }, offline);
  assert.equal(again.lastSeen, "2026-01-01T00:00:00.000Z");
});

test("what is not a presence is refused, not applied", () => {
  for (const raw of [null, "x", {}, { userId: "7", status: "ONLINE" }, { userId: "7", seq: 1 }, { status: "ONLINE", seq: 1 }]) {
    assert.equal(parsePresence(raw, undefined), null, JSON.stringify(raw));
  }
  assert.equal(parsePresence({ userId: 7, status: "ONLINE", seq: 1 }, undefined).userId, "7");
  assert.deepEqual(parsePresence({ userId: "7", status: "ONLINE", seq: 1, devices: { web: 3, app: "IDLE" } }, undefined).devices, {
    app: "IDLE",
  });
});
