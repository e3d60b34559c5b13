// Stock socket.io-client (default transports: polling, then the WebSocket upgrade), driven
// by the e2e test over stdin/stdout: one JSON command per line in, one JSON event per line out.
// SOCKETIO_CLIENT_FROM: a package.json whose node_modules holds socket.io-client (examples/).
const { createRequire } = require("node:module");
const readline = require("node:readline");
const { io } = createRequire(process.env.SOCKETIO_CLIENT_FROM)("socket.io-client");

const sockets = new Map();
const say = (name, event, data) => process.stdout.write(JSON.stringify({ name, event, data: data ?? null }) + "\n");

function open({ name, url, token, headers }) {
  const socket = io(url, { auth: { token }, extraHeaders: headers ?? {}, reconnection: false, forceNew: true });
  sockets.set(name, socket);
  socket.on("connect", () => say(name, "connect", { transport: socket.io.engine.transport.name }));
  socket.io.engine.on("upgrade", (transport) => say(name, "upgrade", { transport: transport.name }));
  socket.on("connect_error", (error) => say(name, "connect_error", { message: error.message }));
  socket.on("disconnect", (reason) => say(name, "disconnect", { reason }));
  socket.onAny((event, data) => say(name, event, data));
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const command = JSON.parse(line);
  const socket = sockets.get(command.name);
  if (command.cmd === "open") open(command);
  else if (command.cmd === "emit") socket.emit(command.event, command.data);
  else if (command.cmd === "reconnect") {
    socket.connect();
    socket.io.engine.on("upgrade", (transport) => say(command.name, "upgrade", { transport: transport.name }));
  }
  else if (command.cmd === "close") socket.disconnect();
}).on("close", () => { for (const socket of sockets.values()) socket.disconnect(); process.exit(0); });
say(null, "ready");
