// The hooks rendered with react-dom in jsdom, against a real gateway.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { JSDOM } from "jsdom";
import { Gateway, mint } from "./gateway.mjs";

const dom = new JSDOM("<!doctype html><div id=root></div>", { url: "http://127.0.0.1/", pretendToBeVisual: true });
for (const name of ["window", "document", "navigator", "HTMLElement", "Node", "MutationObserver"]) {
  Object.defineProperty(globalThis, name, { value: dom.window[name], configurable: true, writable: true });
}
const { createElement: h, useState } = await import("react");
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
  const watched = [];
  const unwatched = [];
  let unwatchedNext = () => {};
  const unwatchCall = () => new Promise((done) => (unwatchedNext = done));
  const watch = alice.watch.bind(alice);
  const unwatch = alice.unwatch.bind(alice);
  alice.watch = (ids) => (watched.push(...ids), watch(ids));
  alice.unwatch = (ids) => {
    unwatched.push(...ids);
    const call = unwatch(ids);
    call.then(() => unwatchedNext());
    return call;
  };

  const renders = new Map();
  function Dot({ id, slot }) {
    renders.set(slot, (renders.get(slot) ?? 0) + 1);
    const presence = usePresence([id])[id];
    return h("li", null, `${slot}:${presence ? presence.status : "?"};`);
  }
  function Me() {
    const me = useMyPresence();
    const state = useConnectionState();
    return h("p", null, `me:${me ? me.status : "?"}/${state};`);
  }
  let setShown;
  function Page() {
    const [shown, set] = useState(["b1", "b2", "c1"]);
    setShown = set;
    const ids = { b1: "h-bob", b2: "h-bob", c1: "h-carol" };
    return h("ul", null, h(Me), ...shown.map((slot) => h(Dot, { key: slot, id: ids[slot], slot })));
  }

  const container = document.getElementById("root");
  const root = createRoot(container);
  root.render(h(PresenceProvider, { client: alice }, h(Page)));
  await untilShown(container, (t) => t.includes("b1:ONLINE;") && t.includes("b2:ONLINE;") && t.includes("c1:ONLINE;"), "both users");
  assert.ok(container.textContent.includes("me:ONLINE/connected;"));
  assert.deepEqual(watched.sort(), ["h-bob", "h-carol"], "one watch per id, for two components showing bob");

  const before = { b1: renders.get("b1"), b2: renders.get("b2"), c1: renders.get("c1") };
  await carol.setStatus("DND");
  await untilShown(container, (t) => t.includes("c1:DND;"), "carol DND");
  assert.equal(renders.get("b1"), before.b1, "bob's components did not re-render for carol");
  assert.equal(renders.get("b2"), before.b2);
  assert.ok(renders.get("c1") > before.c1);

  await alice.setStatus("DND");
  await untilShown(container, (t) => t.includes("me:DND/connected;"), "my own DND");

  setShown(["b2", "c1"]); // one of bob's two components goes
  await bob.setStatus("DND");
  await untilShown(container, (t) => t.includes("b2:DND;"), "bob DND in the one left");
  assert.deepEqual(unwatched, [], "bob still shown: still watched");
  let called = unwatchCall();
  setShown(["c1"]); // the last one showing bob goes
  await called;
  assert.deepEqual(unwatched, ["h-bob"]);
  assert.deepEqual(alice.watching, ["h-carol"]);
  called = unwatchCall();
  root.unmount();
  await called;
  assert.deepEqual(unwatched, ["h-bob", "h-carol"]);
  assert.deepEqual(alice.watching, []);
});
