// Connecting, refusals with their codes, and the token asked for again.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PresenceError } from "../dist/index.js";
import { mint, Recorder } from "./gateway.mjs";
import { gatewaySuite } from "./suite.mjs";

const { gateway, open } = gatewaySuite({ defaults: { reconnectDelayMs: 100, reconnectDelayMaxMs: 500 } });

describe("connect", () => {
  test("resolves with the gateway's connected, and me is the user", async () => {
    const client = open({ token: mint("ada"), device: "desktop" });
    const states = new Recorder(client, "state");
    const connected = await client.connect();
    assert.equal(connected.userId, "ada");
    assert.equal(connected.status, "ONLINE");
    assert.match(connected.socketId, /.+/);
    assert.equal(client.state, "connected");
    assert.deepEqual(states.values, ["connecting", "connected"]);
    assert.equal(client.me.userId, "ada");
    assert.equal(client.me.status, "ONLINE");
    assert.deepEqual(client.me.devices, { desktop: "ONLINE" });
    assert.ok(client.me.seq > 0);
    client.close();
    assert.equal(client.state, "closed");
    assert.deepEqual(states.values, ["connecting", "connected", "closed"]);
  });

  test("me fires once on connect, with what the gateway announced, and its seq grows across a restart", async () => {
    const client = open({ token: mint("eve"), device: "desktop" });
    const me = new Recorder(client, "me");
    await client.connect();
    assert.deepEqual(
      me.values.map((p) => [p.status, p.devices, p.seq > 0]),
      [["ONLINE", { desktop: "ONLINE" }, true]],
      "no made-up presence (no devices, seq 0) before the announced one",
    );
    const states = new Recorder(client, "state");
    await gateway.stop();
    await states.waitFor((s) => s === "reconnecting", "reconnecting");
    await gateway.start();
    await states.waitFor((s) => s === "connected", "connected again");
    await me.waitFor((p, i) => i > 0 && p.status === "ONLINE", "eve ONLINE again");
    const seqs = me.values.map((p) => p.seq);
    assert.ok(
      seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]),
      `each me newer than the one before: ${JSON.stringify(me.values.map((p) => [p.status, p.seq]))}`,
    );
  });

  for (const [code, token] of [
    ["missing_token", ""],
    ["invalid_token", mint("ada", { secret: "another-secret-that-is-long-enough-for-it" })],
    ["invalid_token", "not-a-jwt"],
    ["expired_token", mint("ada", { expiresIn: -60 })],
  ]) {
    test(`a refused token rejects with ${code}, and the client is closed`, async () => {
      const client = open({ token });
      await assert.rejects(client.connect(), (error) => {
        assert.ok(error instanceof PresenceError);
        assert.equal(error.code, code);
        return true;
      });
      assert.equal(client.state, "closed");
    });
  }

  test("an invalid device kind is invalid_payload", async () => {
    const client = open({ token: mint("ada"), device: "no spaces allowed" });
    await assert.rejects(client.connect(), { code: "invalid_payload" });
  });

  test("a refused expired token is asked for once more, and the fresh one connects", async () => {
    const asked = [];
    const client = open({
      token: async () => {
        asked.push(asked.length);
        return asked.length === 1 ? mint("bea", { expiresIn: -60 }) : mint("bea");
      },
    });
    const connected = await client.connect();
    assert.equal(connected.userId, "bea");
    assert.equal(asked.length, 2);
  });

  test("an expired token that stays expired fails after asking once more", async () => {
    let asked = 0;
    const client = open({ token: () => (asked++, mint("bea", { expiresIn: -60 })) });
    await assert.rejects(client.connect(), { code: "expired_token" });
    assert.equal(asked, 2);
  });

  test("the token function is asked again on every reconnect", async () => {
    let asked = 0;
    const client = open({ token: () => (asked++, mint("cy")) });
    const states = new Recorder(client, "state");
    await client.connect();
    assert.equal(asked, 1);
    // The gateway ends the session of this socket (as a restart or an expired token does).
    await gateway.stop();
    await states.waitFor((s) => s === "reconnecting", "reconnecting after the gateway stopped");
    await gateway.start(); // the same port
    await states.waitFor((s, i) => s === "connected" && i > 1, "connected again");
    assert.ok(asked >= 2, `asked ${asked} times`);
    assert.deepEqual(states.values.slice(0, 3), ["connecting", "connected", "reconnecting"]);
  });

  test("setStatus before connect is refused as unavailable", async () => {
    const client = open({ token: mint("dee") });
    await assert.rejects(client.setStatus("DND"), { code: "unavailable" });
  });
});
