// The hooks rendered with react-dom in jsdom, against a real gateway.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { JSDOM } from "jsdom";
import { Gateway, mint } from "./gateway.mjs";

const dom = new JSDOM("<!doctype html><div id=root></div>", { url: "http://127.0.0.1/", pretendToBeVisual: true });
for (const name of ["window", "document", "navigator", "HTMLElement", "Node", "MutationObserver"]) {
  Object.defineProperty(globalThis, name, { value: dom.window[name], configurable: true, writable: true });
}
const { createElement: h, memo, useState } = await import("react");
const { createRoot } = await import("react-dom/client");
const { PresenceClient } = await import("../dist/index.js");
const { PresenceProvider, usePresence, useMyPresence, useConnectionState } = await import("../dist/react.js");

const gateway = new Gateway();
const clients = [];
async function signIn(userId) {
  const client = new PresenceClient({ url: gateway.url, token: mint(userId), idleAfterMs: 0 });
  clients.push(client);
  await client.connect();
  return client;
}

/** Until the page's text satisfies `predicate`: woken by DOM mutations, never by a timer. */
function untilShown(container, predicate, what, timeoutMs = 10_000) {
  if (predicate(container.textContent)) return Promise.resolve();
  return new Promise((done, fail) => {
    const observer = new MutationObserver(() => {
      if (!predicate(container.textContent)) return;
      observer.disconnect();
      clearTimeout(timer);
      done();
    });
    observer.observe(container, { subtree: true, childList: true, characterData: true });
    const timer = setTimeout(() => {
      observer.disconnect();
      fail(new Error(`not shown within ${timeoutMs} ms: ${what}; page: ${container.textContent}`));
    }, timeoutMs);
  });
}

before(() => gateway.start());
after(async () => {
  for (const client of clients) client.close();
  await gateway.stop();
  dom.window.close();
});

test("usePresence watches once per id, re-renders only the changed user's components, unwatches on unmount", async () => {
  const alice = await signIn("h-alice");
  const bob = await signIn("h-bob");
  const carol = await signIn("h-carol");
  // Every watch and unwatch the hooks ask the client for, and a way to wait for them all.
  const watches = [];
  const unwatches = [];
  const settled = () => Promise.all([...watches, ...unwatches].map((call) => call.done));
  const waiting = new Set();
  const record = (calls, method) => (ids) => {
    const done = method(ids);
    calls.push({ ids: [...ids], done: done.catch(() => undefined) });
    for (const check of [...waiting]) check();
    return done;
  };
  alice.watch = record(watches, alice.watch.bind(alice));
  alice.unwatch = record(unwatches, alice.unwatch.bind(alice));
  const idsOf = (calls) => calls.map((call) => [...call.ids].sort());
  /** Until `calls` holds `count` calls, at most 10 s. */
  const untilCalled = (calls, count, what) =>
    new Promise((done, fail) => {
      const check = () => {
        if (calls.length < count) return;
        waiting.delete(check);
        clearTimeout(timer);
        done();
      };
      const timer = setTimeout(() => {
        waiting.delete(check);
        fail(new Error(`not within 10 s: ${what}; calls ${JSON.stringify(idsOf(calls))}`));
      }, 10_000);
      waiting.add(check);
      check();
    });

  const renders = new Map();
  const rendered = (slot) => renders.set(slot, (renders.get(slot) ?? 0) + 1);
  function Dot({ id, slot }) {
    rendered(slot);
    const presence = usePresence([id])[id];
    return h("li", null, `${slot}:${presence ? presence.status : "?"};`);
  }
  function Me() {
    rendered("me");
    const me = useMyPresence();
    const state = useConnectionState();
    return h("p", null, `me:${me ? me.status : "?"}/${state};`);
  }
  const MeOnce = memo(Me); // re-rendered by its own hooks only, never by the page
  let setShown;
  function Page() {
    const [shown, set] = useState(["b1", "b2", "c1"]);
    setShown = set;
    const ids = { b1: "h-bob", b2: "h-bob", b3: "h-bob", c1: "h-carol", d1: "h-dave" };
    return h("ul", null, h(MeOnce), ...shown.map((slot) => h(Dot, { key: slot, id: ids[slot], slot })));
  }

  const subscribes = await gateway.received("presence:subscribe");
  const container = document.getElementById("root");
  const root = createRoot(container);
  root.render(h(PresenceProvider, { client: alice }, h(Page)));
  await untilShown(container, (t) => t.includes("b1:ONLINE;") && t.includes("b2:ONLINE;") && t.includes("c1:ONLINE;"), "both users");
  assert.ok(container.textContent.includes("me:ONLINE/connected;"));
  await settled();
  assert.deepEqual(idsOf(watches), [["h-bob", "h-carol"]], "one watch per id, for two components showing bob");
  assert.equal((await gateway.received("presence:subscribe")) - subscribes, 1, "one presence:subscribe reached the gateway");

  // A third component for bob mounts while he is watched: no watch for him again. A
  // component for a new id, mounted after it, marks the end: its watch is the only one.
  setShown(["b1", "b2", "c1", "b3"]);
  await untilShown(container, (t) => t.includes("b3:ONLINE;"), "bob in a third component");
  setShown(["b1", "b2", "c1", "b3", "d1"]);
  await untilShown(container, (t) => t.includes("d1:OFFLINE;"), "dave, never seen");
  await untilCalled(watches, 2, "dave watched");
  await settled();
  assert.deepEqual(idsOf(watches), [["h-bob", "h-carol"], ["h-dave"]], "bob, already watched, not watched again");
  assert.equal((await gateway.received("presence:subscribe")) - subscribes, 2, "dave's presence:subscribe alone reached the gateway");
  setShown(["b1", "b2", "c1"]); // bob's third component and dave's go
  await untilCalled(unwatches, 1, "dave unwatched");
  assert.deepEqual(idsOf(unwatches), [["h-dave"]], "bob still shown: still watched");

  const before = new Map(renders);
  await carol.setStatus("DND");
  await untilShown(container, (t) => t.includes("c1:DND;"), "carol DND");
  assert.equal(renders.get("b1"), before.get("b1"), "bob's components did not re-render for carol");
  assert.equal(renders.get("b2"), before.get("b2"));
  assert.equal(renders.get("me"), before.get("me"), "nor the user's own");
  assert.equal(renders.get("c1"), before.get("c1") + 1, "carol's once");

  await alice.setStatus("DND");
  await untilShown(container, (t) => t.includes("me:DND/connected;"), "my own DND");

  setShown(["b2", "c1"]); // one of bob's two components goes
  await bob.setStatus("DND");
  await untilShown(container, (t) => t.includes("b2:DND;"), "bob DND in the one left");
  await settled();
  assert.deepEqual(idsOf(unwatches), [["h-dave"]], "bob still shown: still watched");
  setShown(["c1"]); // the last one showing bob goes
  await untilCalled(unwatches, 2, "bob unwatched");
  await settled();
  assert.deepEqual(idsOf(unwatches), [["h-dave"], ["h-bob"]]);
  assert.deepEqual(alice.watching, ["h-carol"]);
  root.unmount();
  await untilCalled(unwatches, 3, "carol unwatched");
  await settled();
  assert.deepEqual(idsOf(unwatches), [["h-dave"], ["h-bob"], ["h-carol"]]);
  assert.deepEqual(alice.watching, []);
  assert.equal(watches.length, 2, "no watch after the first two");
});
