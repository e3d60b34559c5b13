// Rich presence with the stock socket.io-client (v4): devices, a custom status that clears
// itself, and the seq rule.
//   npm ci --prefix examples
//   TOKEN=$(.venv/bin/presence-gateway token --user 42) \
//   WATCHER_TOKEN=$(.venv/bin/presence-gateway token --user 7) node examples/rich-presence.mjs
// GATEWAY_URL says where the gateway is (default http://localhost:3000). User 42 opens a
// web tab and a phone; user 7 watches 42 and prints what it sees.
import { io } from "socket.io-client";

const url = process.env.GATEWAY_URL ?? "http://localhost:3000";
setTimeout(() => { console.error(`not done with ${url} within 30 s`); process.exit(1); }, 30_000).unref();

function connect(token, device) {
  const socket = io(url, { auth: { token, device }, transports: ["websocket"] });
  return new Promise((resolve, reject) => {
    socket.once("connected", () => resolve(socket));
    socket.once("connect_error", (error) => reject(new Error(`connect_error: ${error.message}`)));
  });
}

const watcher = await connect(process.env.WATCHER_TOKEN, "web");
const web = await connect(process.env.TOKEN, "web");
const phone = await connect(process.env.TOKEN, "mobile");

// The seq rule: keep the highest seq applied per user, drop anything not newer.
const seen = new Map(); // userId → the presence last applied
const applied = []; // what apply() took and this script has not looked at yet
let wake = null;
function apply(p) {
  const known = seen.get(p.userId);
  if (known && p.seq <= known.seq) return; // not newer: drop it
  seen.set(p.userId, p);
  console.log(p.userId, p.status, JSON.stringify(p.devices), JSON.stringify(p.customStatus), p.seq);
  if (!wake) return applied.push(p);
  const resolve = wake;
  wake = null;
  resolve(p);
}
// The next change applied (it may have arrived before the ack of the event that made it).
const changed = () => (applied.length ? Promise.resolve(applied.shift()) : new Promise((resolve) => (wake = resolve)));
watcher.on("presence:updated", (p) => p.userId !== "7" && apply(p));
const { presence } = await watcher.emitWithAck("presence:subscribe", { userIds: ["42"] });
presence.forEach(apply); // ONLINE {"web":"ONLINE","mobile":"ONLINE"} null
applied.length = 0; // the snapshot is no change to wait for

await web.emitWithAck("presence:update", { status: "IDLE" });
await changed(); // ONLINE {"web":"IDLE","mobile":"ONLINE"}: the phone keeps 42 ONLINE
await phone.emitWithAck("presence:update", { status: "IDLE" });
await changed(); // IDLE: every socket is idle

const expiresAt = new Date(Date.now() + 3000).toISOString();
const reply = await phone.emitWithAck("presence:update", { customStatus: { text: "lunch", emoji: "🍜", expiresAt } });
console.log("set custom status:", JSON.stringify(reply)); // {"ok":true}
await changed(); // {"text":"lunch","emoji":"🍜","expiresAt":...}
await changed(); // null: cleared at expiresAt by the gateway's sweeper

const refused = await web.emitWithAck("presence:update", { customStatus: { text: "" } });
console.log("refused:", JSON.stringify(refused)); // {"error":{"code":"invalid_payload",...customStatus.text...}}

for (const socket of [web, phone, watcher]) socket.disconnect();
