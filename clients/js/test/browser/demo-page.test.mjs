// The demo page in headless Chromium, driven by playwright-core with the machine's own
// Chromium (Debian's `chromium`; never a browser download): two users, each in a browser
// context of their own, against a real gateway. Screenshots land in test-artefacts/demo-page/.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { chromium, errors } from "playwright-core";
import { io } from "socket.io-client";
import { CHECKOUT, Gateway, mint, requireTools } from "../gateway.mjs";

const STATUSES_FILE = join(CHECKOUT, "examples", "statuses.toml");
const SHOTS = join(CHECKOUT, "test-artefacts", "demo-page");
const INSTALL = "Chromium not installed: apt-get install -y chromium (or set PRESENCE_CHROMIUM to its path)";
const executable =
  process.env.PRESENCE_CHROMIUM || ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium"].find(existsSync);
if (!executable && requireTools()) throw new Error(`${INSTALL} (PRESENCE_TEST_REQUIRE_TOOLS=1: a missing tool fails)`);
const TIMEOUT = 10_000;

/** Run in the page: what the row of `userId` shows of `part`, its device icons
 * ({ kind: state }) or its custom status ([emoji, text, until], null while hidden); with
 * `expected`, whether it shows that (a custom status compared on as many parts as given). */
function rowShows({ userId, part, expected }) {
  const row = [...document.querySelectorAll("#watch-list li")].find((li) => li.dataset.userId === userId);
  let shown = null;
  if (row && part === "devices") {
    shown = Object.fromEntries([...row.querySelectorAll(".devices .device")].map((icon) => [icon.dataset.device, icon.dataset.state]));
  } else if (row) {
    const custom = row.querySelector(".custom");
    if (custom.checkVisibility()) shown = ["emoji", "text", "until"].map((name) => custom.querySelector(`.custom-${name}`).textContent);
  }
  if (expected === undefined) return shown;
  const compared = part === "custom" && shown && expected ? shown.slice(0, expected.length) : shown;
  return JSON.stringify(compared) === JSON.stringify(expected);
}

/** One user's window on the demo page: what it shows, and the keyboard and mouse on it. */
class Window {
  constructor(page, name) {
    this.page = page;
    this.name = name;
    this.problems = [];
    page.on("console", (message) => {
      if (message.type() === "error") this.problems.push(message.text());
    });
    page.on("pageerror", (error) => this.problems.push(String(error)));
  }

  async signIn(url, userId, token) {
    await this.page.goto(url + "/");
    if (token) await this.page.fill("#token", token);
    await this.typeAndEnter("#user-id", userId);
    await this.waitConnection("connected");
  }

  async typeAndEnter(selector, text) {
    await this.page.fill(selector, text);
    await this.page.press(selector, "Enter"); // the keyboard alone, as the forms allow
  }

  /** Until `attribute` of `selector` is `value`, at most `timeout` ms (playwright-core
   * re-checks on the page's own frames and changes, never on a fixed sleep of ours). */
  async waitAttribute(selector, attribute, value, what, timeout = TIMEOUT) {
    try {
      await this.page.locator(`${selector}[${attribute}="${value}"]`).waitFor({ timeout });
    } catch (error) {
      if (!(error instanceof errors.TimeoutError)) throw error;
      const shown = await this.page.getAttribute(selector, attribute, { timeout: 1000 }).catch(() => "nothing");
      assert.fail(`${this.name}'s page did not show ${what} within ${timeout} ms (it shows ${shown})`);
    }
  }

  waitConnection(state, timeout = TIMEOUT) {
    return this.waitAttribute("#connection", "data-state", state, `the connection ${state}`, timeout);
  }

  row(userId) {
    return this.page.locator(`#watch-list li[data-user-id="${userId}"]`);
  }

  async waitRow(userId, status) {
    await this.waitAttribute(`#watch-list li[data-user-id="${userId}"]`, "data-status", status, `${userId} as ${status}`);
    assert.equal(await this.row(userId).locator(".status-text").textContent(), status, "the status written beside the dot");
  }

  /** Device kind → its state, as the icons of `userId`'s row show them. */
  devices(userId) {
    return this.page.evaluate(rowShows, { userId, part: "devices" });
  }

  /** [emoji, text, until] as `userId`'s row shows them, null while it shows none. */
  customStatus(userId) {
    return this.page.evaluate(rowShows, { userId, part: "custom" });
  }

  /** Until `userId`'s row shows `expected` of `part` (see rowShows), at most `TIMEOUT` ms. */
  async waitShown(userId, part, expected, what) {
    try {
      await this.page.waitForFunction(rowShows, { userId, part, expected }, { timeout: TIMEOUT });
    } catch (error) {
      if (!(error instanceof errors.TimeoutError)) throw error;
      const shown = await this.page.evaluate(rowShows, { userId, part });
      assert.fail(`${this.name}'s page did not show ${what} within ${TIMEOUT} ms (it shows ${JSON.stringify(shown)})`);
    }
  }

  async setCustomStatus(text, emoji = "", minutes = "") {
    await this.page.fill("#custom-text", text);
    await this.page.fill("#custom-emoji", emoji);
    await this.page.fill("#custom-minutes", minutes);
    await this.page.click("#custom-form button[type=submit]");
  }

  async choose(status) {
    await this.page.selectOption("#my-status", status);
    await this.page.click("#status-form button[type=submit]");
  }

  async shot(name) {
    mkdirSync(SHOTS, { recursive: true });
    await this.page.screenshot({ path: join(SHOTS, `${name}.png`) });
  }
}

describe("the demo page in Chromium", { skip: executable ? false : INSTALL }, () => {
  let browser;
  let gateway;
  const windows = [];

  async function open(name) {
    const context = await browser.newContext({ viewport: { width: 960, height: 720 } }); // a user of their own
    const window = new Window(await context.newPage(), name);
    windows.push(window);
    return window;
  }

  before(async () => {
    rmSync(SHOTS, { recursive: true, force: true }); // this run's screenshots only
    browser = await chromium.launch({
      executablePath: executable,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic"],
    });
  });
  afterEach(async (t) => {
    const failed = t.passed === false;
    for (const window of windows.splice(0)) {
      if (failed && !window.page.isClosed()) await window.shot(`failure-${window.name}`).catch(() => undefined);
      await window.page.context().close();
    }
    await gateway?.stop();
    if (gateway) assert.doesNotMatch(gateway.log(), /Traceback/, "the gateway logged no traceback");
    gateway = undefined;
  });
  after(() => browser?.close());

  test("one user's dot, devices and custom status on the other's screen: a phone that goes idle, DND, then OFFLINE, and still watched across a gateway restart", async () => {
    gateway = await new Gateway({
      env: { PRESENCE_OFFLINE_GRACE: "1", PRESENCE_SWEEP_INTERVAL: "0.1", PRESENCE_STATUSES_FILE: STATUSES_FILE },
    }).start();
    const alice = await open("alice");
    await alice.signIn(gateway.url, "alice");
    // Every status the registry lets a user choose, the statuses file's included.
    const options = await alice.page.locator("#my-status option").evaluateAll((all) => all.map((o) => o.value));
    assert.deepEqual(options, ["ONLINE", "OFFLINE", "IDLE", "DND", "INVISIBLE", "STREAMING", "IN_CALL"]);

    let bob = await open("bob");
    await bob.signIn(gateway.url, "bob");

    await alice.typeAndEnter("#watch-id", "bob");
    await alice.typeAndEnter("#watch-id", "carol"); // never seen
    await alice.waitRow("bob", "ONLINE");
    await alice.waitRow("carol", "OFFLINE");
    assert.equal(await alice.row("bob").locator(".last-seen").textContent(), "online now");
    assert.equal(await alice.row("carol").locator(".last-seen").textContent(), "last seen: not known");
    assert.deepEqual(await alice.devices("bob"), { web: "ONLINE" });
    assert.deepEqual([await alice.devices("carol"), await alice.customStatus("carol")], [{}, null]);

    // Bob's phone joins, then goes idle: an icon per device, bob still ONLINE.
    const phone = io(gateway.url, { auth: { token: mint("bob"), device: "mobile" }, transports: ["websocket"], forceNew: true });
    try {
      await new Promise((done, fail) => {
        phone.once("connected", done);
        phone.once("connect_error", fail);
      });
      await alice.waitShown("bob", "devices", { mobile: "ONLINE", web: "ONLINE" }, "bob's phone");
      assert.deepEqual(await phone.timeout(TIMEOUT).emitWithAck("presence:update", { status: "IDLE" }), { ok: true });
      await alice.waitShown("bob", "devices", { mobile: "IDLE", web: "ONLINE" }, "bob's idle phone");
      await alice.waitRow("bob", "ONLINE");
      // Served, and let in by the page's policy: a refused or missing icon has no width.
      const widths = await alice.row("bob").locator(".devices img.device").evaluateAll((icons) =>
        Promise.all(icons.map((icon) => icon.decode().then(() => icon.naturalWidth, () => 0))),
      );
      assert.equal(widths.length, 2);
      assert.ok(widths.every((width) => width > 0), `the device icons loaded: widths ${widths}`);

      await bob.setCustomStatus("out for lunch", "☕", "30");
      await alice.waitShown("bob", "custom", ["☕", "out for lunch"], "bob's custom status");
      const [, , until] = await alice.customStatus("bob");
      assert.match(until, /^until \S/, "the custom status's expiry");
      await alice.shot("0-devices-and-custom-status");
    } finally {
      phone.disconnect();
    }
    await alice.waitShown("bob", "devices", { web: "ONLINE" }, "bob's phone gone");

    await bob.choose("DND");
    await bob.waitAttribute("#me-presence", "data-status", "DND", "bob's own DND");
    await alice.waitRow("bob", "DND");
    await alice.shot("1-watching-dnd");

    await bob.page.context().close(); // bob's only window: his socket closes with it
    windows.splice(windows.indexOf(bob), 1);
    await alice.waitRow("bob", "OFFLINE");
    const lastSeen = alice.row("bob").locator(".last-seen");
    assert.match(await lastSeen.textContent(), /^last seen /);
    assert.match(await lastSeen.locator("time").getAttribute("datetime"), /Z$/);
    // Nothing of an offline user's devices or custom status is shown.
    assert.deepEqual([await alice.devices("bob"), await alice.customStatus("bob")], [{}, null]);
    await alice.shot("2-offline-after-grace");
    assert.deepEqual(alice.problems, [], "no error in alice's console");

    await gateway.stop();
    await alice.waitConnection("reconnecting");
    await alice.shot("3-reconnecting");
    await gateway.start(); // the same port
    await alice.waitAttribute("#connection", "data-connections", "2", "a second connection", 30_000);
    await alice.waitConnection("connected");

    // Only a watch list sent again after the reconnect hears bob come back, still DND.
    bob = await open("bob-again");
    await bob.signIn(gateway.url, "bob");
    await alice.waitRow("bob", "DND");
    // The custom status is kept like the remembered status, across the restart.
    await alice.waitShown("bob", "custom", ["☕", "out for lunch"], "bob's custom status again");
    assert.deepEqual(await alice.devices("bob"), { web: "ONLINE" });
    await alice.shot("4-reconnected-still-watching");
    assert.deepEqual(bob.problems, [], "no error in bob's console");
    const gap = alice.problems.filter((text) => !text.includes("net::ERR_CONNECTION_REFUSED"));
    assert.deepEqual(gap, [], "alice's console: nothing but the refused connections of the gap");
  });

  test("a sign-in before the page has loaded its client waits for it, and connects", async () => {
    gateway = await new Gateway().start();
    const erin = await open("erin");
    // A slow network: the client's module is held until the user has pressed Enter.
    let release;
    const pressed = new Promise((done) => (release = done));
    await erin.page.context().route("**/demo/assets/client/index.js", async (route) => {
      await pressed;
      await route.continue();
    });
    await erin.page.goto(gateway.url + "/");
    await erin.typeAndEnter("#user-id", "erin");
    release();
    await erin.waitConnection("connected");
    assert.equal(await erin.page.textContent("#me-id"), "erin");
    assert.deepEqual(erin.problems, [], "no error in erin's console");
  });

  test("in production the page asks for a token and signs in as its user", async () => {
    gateway = await new Gateway({ env: { PRESENCE_ENV: "production", PRESENCE_DEMO: "1" } }).start();
    const page = await open("dave");
    await page.page.goto(gateway.url + "/");
    assert.ok(await page.page.isVisible("#token"), "no token endpoint to ask: a field for one");
    await page.signIn(gateway.url, "someone-else", mint("dave"));
    assert.equal(await page.page.textContent("#connection"), "Connected as dave");
    assert.equal(await page.page.textContent("#me-id"), "dave");
    assert.deepEqual(page.problems, []);
  });
});
