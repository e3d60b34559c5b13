// The integration guide's client flow with the stock socket.io-client (v4):
//   npm ci --prefix examples
//   TOKEN=$(.venv/bin/presence-gateway token --user 42) node examples/node-client.mjs
// GATEWAY_URL says where the gateway is (default http://localhost:3000).
//
// It goes IDLE and back to ONLINE, so a second run starts where the first began (IDLE is
// the socket's own state: a new socket is active; a run that found the user IDLE, from
// another socket of theirs, only goes back to ONLINE).
import { io } from "socket.io-client";

const url = process.env.GATEWAY_URL ?? "http://localhost:3000";
const socket = io(url, { auth: { token: process.env.TOKEN } });
let steps = [];

setTimeout(() => { console.error(`no answer from ${url} within 10 s`); process.exit(1); }, 10_000).unref();

socket.on("connect", () => console.log("connect", socket.id));
socket.on("connect_error", (error) => { console.error("connect_error:", error.message); process.exit(1); });
socket.on("connected", (data) => {
  console.log("connected", data);
  steps = data.status === "IDLE" ? ["ONLINE"] : ["IDLE", "ONLINE"];
  socket.emit("ping");
});
socket.on("pong", () => {
  console.log("pong");
  socket.emit("presence:update", { status: steps[0] });
});
socket.on("presence:updated", (data) => {
  console.log("presence:updated", data);
  if (data.status !== steps[0]) return;  // e.g. the ONLINE that announced this connection
  steps.shift();
  if (steps.length) socket.emit("presence:update", { status: steps[0] });
  else socket.disconnect();
});
socket.on("error", (error) => console.error("error", error));
socket.on("disconnect", (reason) => console.log("disconnect", reason));
