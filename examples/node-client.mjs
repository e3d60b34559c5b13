// The integration guide's client flow with the stock socket.io-client (v4):
//   TOKEN=$(.venv/bin/presence-gateway token --user 42) node examples/node-client.mjs
import { io } from "socket.io-client";

const url = process.env.GATEWAY_URL ?? "http://localhost:3000";
const socket = io(url, { auth: { token: process.env.TOKEN } });

socket.on("connect", () => console.log("connect", socket.id));
socket.on("connect_error", (error) => { console.error("connect_error:", error.message); process.exit(1); });
socket.on("connected", (data) => {
  console.log("connected", data);
  socket.emit("ping");
});
socket.on("pong", () => {
  console.log("pong");
  socket.emit("presence:update", { status: "IDLE" });
});
socket.on("presence:updated", (data) => {
  console.log("presence:updated", data);
  if (data.status === "IDLE") socket.disconnect();
});
socket.on("error", (error) => console.error("error", error));
socket.on("disconnect", (reason) => console.log("disconnect", reason));
