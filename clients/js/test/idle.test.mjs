// Idle per socket: by hand in Node, by itself where there is a page (jsdom here).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { JSDOM } from "jsdom";
import { Recorder } from "./gateway.mjs";
import { gatewaySuite } from "./suite.mjs";

const { signIn } = gatewaySuite({ defaults: { idleAfterMs: 0 } });

describe("idle", () => {
  test("setActive(false) sends IDLE from this socket; another active socket keeps the user ONLINE", async () => {
    const watcher = await signIn("d-watcher");
    const seen = new Recorder(watcher, "presence");
    const laptop = await signIn("d-user", { device: "desktop" });
    await watcher.watch(["d-user"]);
    laptop.setActive(false);
    await seen.waitFor((p) => p.status === "IDLE", "the user IDLE: their only socket is idle");
    laptop.setActive(true);
    await seen.waitFor((p, i) => i > 1 && p.status === "ONLINE", "ONLINE again");

    const phone = await signIn("d-user", { device: "mobile" });
    await seen.waitFor((p) => p.devices.mobile === "ONLINE", "the phone joined");
    laptop.setActive(false);
    const idleLaptop = await seen.waitFor((p) => p.devices.desktop === "IDLE" && p.devices.mobile === "ONLINE", "the laptop idle");
    assert.equal(idleLaptop.status, "ONLINE", "the phone keeps the user ONLINE");
    phone.setActive(false);
    await seen.waitFor((p) => p.status === "IDLE" && p.devices.mobile === "IDLE", "both idle: IDLE");
  });

  test("back from idle keeps a chosen DND", async () => {
    const watcher = await signIn("e-watcher");
    const seen = new Recorder(watcher, "presence");
    const user = await signIn("e-user");
    await user.setStatus("DND");
    await watcher.watch(["e-user"]);
    user.setActive(false);
    user.setActive(true);
    // IDLE then back: the user stays DND for everybody; a change of devices shows the round trip.
    await seen.waitFor((p) => p.devices.web === "IDLE", "the socket idle");
    await seen.waitFor((p, i) => i > 0 && p.devices.web === "ONLINE", "the socket active again");
    assert.ok(seen.values.every((p) => p.status === "DND"), JSON.stringify(seen.values));
    assert.equal(user.me.status, "DND");
  });

  test("in a page: no input for idleAfterMs, or a hidden page, is IDLE; input is ONLINE", async () => {
    const dom = new JSDOM("<!doctype html><p>page</p>", { url: "http://127.0.0.1/", pretendToBeVisual: true });
    let visibility = "visible";
    Object.defineProperty(dom.window.document, "visibilityState", { get: () => visibility });
    globalThis.window = dom.window;
    globalThis.document = dom.window.document;
    try {
      const watcher = await signIn("p-watcher");
      const seen = new Recorder(watcher, "presence");
      await watcher.watch(["p-user"]);
      const page = await signIn("p-user", { idleAfterMs: 300 });
      await seen.waitFor((p) => p.status === "ONLINE", "the page's user ONLINE");
      await seen.waitFor((p) => p.status === "IDLE", "no input: IDLE");
      dom.window.dispatchEvent(new dom.window.KeyboardEvent("keydown", { key: "a" }));
      await seen.waitFor((p, i) => i > 1 && p.status === "ONLINE", "a key pressed: ONLINE");
      visibility = "hidden";
      dom.window.document.dispatchEvent(new dom.window.Event("visibilitychange"));
      await seen.waitFor((p, i) => i > 2 && p.status === "IDLE", "page hidden: IDLE");
      page.close();
    } finally {
      delete globalThis.window;
      delete globalThis.document;
      dom.window.close();
    }
  });
});
