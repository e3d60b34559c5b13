/**
 * The integration guide's flow written the way a Node team would: socket.io 4 with
 * @socket.io/redis-adapter and node-redis, one command per step. It is the peer the
 * gateway is measured against, so it does what the guide says and nothing more:
 * no database (the guide's "update DB status" step is left out), no watchers.
 *
 *   connect          verify the HS256 JWT in auth.token (sub = user id); HSET
 *                    presence:{u}:{sid} {device, connectedAt, ip} + EXPIRE 90 s, SADD
 *                    presence:sockets:{u}, SET presence:online:{u} 'true', join room
 *                    user:{u}, emit `connected` {userId, socketId}
 *   ping             EXPIRE the socket's hash 90 s, emit `pong`
 *   presence:update  validate {status}, emit `presence:updated` {userId, status,
 *                    timestamp} to room user:{u} on every instance (through the adapter)
 *   disconnect       DEL the hash, SREM, and when no socket is left DEL the online flag
 *                    and emit OFFLINE to the room
 *
 * Env: PORT, REDIS_URL (redis://127.0.0.1:6379), JWT_SECRET_ACCESS. GET /healthz answers
 * once Redis is connected. Listens on 127.0.0.1 only.
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import jwt from 'jsonwebtoken';
import { createClient } from 'redis';
import { Server } from 'socket.io';

const PORT = Number.parseInt(process.env.PORT ?? '3000', 10);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = process.env.JWT_SECRET_ACCESS;
const TTL_S = 90;
const STATUSES = new Set(['ONLINE', 'OFFLINE', 'IDLE', 'DND']);
if (!SECRET) throw new Error('JWT_SECRET_ACCESS is required');

const socketKey = (userId, socketId) => `presence:${userId}:${socketId}`;
const socketsKey = (userId) => `presence:sockets:${userId}`;
const onlineKey = (userId) => `presence:online:${userId}`;
const room = (userId) => `user:${userId}`;
const fail = (what) => (error) => console.error(`ERROR ${what}: ${error?.message ?? error}`);

const redis = createClient({ url: REDIS_URL });
const pub = redis.duplicate();
const sub = redis.duplicate();
for (const client of [redis, pub, sub]) client.on('error', fail('redis'));
await Promise.all([redis.connect(), pub.connect(), sub.connect()]);

const http = createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' });
  res.end(req.url === '/healthz' ? 'ok' : 'not found');
});
const io = new Server(http, { cors: { origin: '*' }, adapter: createAdapter(pub, sub) });

io.use((socket, next) => {
  try {
    const claims = jwt.verify(socket.handshake.auth?.token ?? '', SECRET, { algorithms: ['HS256'] });
    if (typeof claims.sub !== 'string' || claims.sub === '') throw new Error('no sub');
    socket.data.userId = claims.sub;
    next();
  } catch (error) {
    next(new Error(`unauthorized: ${error.message}`));
  }
});

async function markOnline(socket) {
  const { userId } = socket.data;
  const key = socketKey(userId, socket.id);
  await redis.hSet(key, {
    device: 'web',
    connectedAt: new Date().toISOString(),
    ip: socket.handshake.address ?? '',
  });
  await redis.expire(key, TTL_S);
  await redis.sAdd(socketsKey(userId), socket.id);
  await redis.set(onlineKey(userId), 'true');
  socket.join(room(userId));
  socket.emit('connected', { userId, socketId: socket.id });
}

async function markOffline(socket) {
  const { userId } = socket.data;
  await redis.del(socketKey(userId, socket.id));
  await redis.sRem(socketsKey(userId), socket.id);
  if ((await redis.sCard(socketsKey(userId))) === 0) {
    await redis.del(onlineKey(userId));
    io.to(room(userId)).emit('presence:updated', { userId, status: 'OFFLINE', timestamp: new Date().toISOString() });
  }
}

io.on('connection', (socket) => {
  const { userId } = socket.data;
  socket.on('ping', () => {
    redis.expire(socketKey(userId, socket.id), TTL_S).then(() => socket.emit('pong'), fail('ping'));
  });
  socket.on('presence:update', (payload) => {
    const status = payload?.status;
    if (!STATUSES.has(status)) {
      socket.emit('error', { code: 'invalid_status', message: 'status must be ONLINE, OFFLINE, IDLE or DND' });
      return;
    }
    io.to(room(userId)).emit('presence:updated', { userId, status, timestamp: new Date().toISOString() });
  });
  socket.on('disconnect', () => markOffline(socket).catch(fail('disconnect')));
  markOnline(socket).catch(fail('connect'));
});

http.listen(PORT, '127.0.0.1', () => console.error(`node peer on 127.0.0.1:${PORT}`));
const stop = () => {
  io.close();
  Promise.allSettled([redis.quit(), pub.quit(), sub.quit()]).then(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
