/**
 * The presence client: one socket to the gateway, kept connected, with the hard parts a
 * hand-written client gets wrong done once: a token asked for again on every
 * (re)connect, the watched users re-watched after a reconnect (in calls under the
 * gateway's per-call limit), every update and snapshot entry through the seq rule, and
 * this socket's idle state sent when the person at the screen goes away.
 *
 * State machine: closed → connecting → connected ⇄ reconnecting → closed.
 */

import { io, type Socket } from "socket.io-client";
import { watchActivity, type ActivityWatch } from "./activity.js";
import { fromBody, fromConnectRefusal, PresenceError } from "./errors.js";
import { parsePresence, PresenceStore, type CustomStatusInput, type Presence, type Status } from "./presence.js";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "closed";
export type TokenSource = string | (() => string | Promise<string>);
export type Transport = "websocket" | "polling" | "webtransport";

export interface PresenceClientOptions {
  /** The gateway, `https://presence.example.com`. */
  url: string;
  /** A JWT, or a function asked for one on every connect and reconnect. */
  token: TokenSource;
  /** This socket's device kind (`web`, `desktop`, `mobile`, …); the gateway's default is `web`. */
  device?: string;
  /** socket.io-client's transports; `["websocket"]` for a gateway of several workers on one port. */
  transports?: Transport[];
  /** In a browser: no input for this long, or a hidden page, sends `IDLE` (default 5 minutes; 0: never). */
  idleAfterMs?: number;
  /** Ids per `presence:subscribe` / `presence:unsubscribe` call (the gateway's `PRESENCE_MAX_IDS_PER_CALL`, 1000). */
  maxIdsPerCall?: number;
  /** How long an acknowledgement, or the first connection, may take (default 10 s). */
  timeoutMs?: number;
  /** Between two `ping`s (default 30 s, well inside the gateway's 90 s session TTL). */
  pingIntervalMs?: number;
  /** First reconnect delay and its ceiling; each attempt doubles it, with ±50 % jitter (1 s, 10 s). */
  reconnectDelayMs?: number;
  reconnectDelayMaxMs?: number;
}

/** What `connect()` resolves to: the gateway's `connected`. */
export interface Connected {
  userId: string;
  socketId: string;
  status: Status;
}

export interface WatchResult {
  /** The latest applied presence of each watched id, in the order asked. */
  presence: Presence[];
  /** The ids the gateway's audience policy does not let this user watch. */
  denied: string[];
}

export interface PresenceClientEvents {
  /** A watched user's presence changed: each applied change once, never a stale one. */
  presence: (presence: Presence) => void;
  state: (state: ConnectionState) => void;
  /** The user's own presence changed. */
  me: (presence: Presence) => void;
  /** Something failed with nobody awaiting it (a re-watch after a reconnect, a refused reconnect). */
  error: (error: PresenceError) => void;
}

type EventName = keyof PresenceClientEvents;

const MAX_USER_ID = 255;
const DEFAULTS = {
  idleAfterMs: 5 * 60_000,
  maxIdsPerCall: 1000,
  timeoutMs: 10_000,
  pingIntervalMs: 30_000,
  reconnectDelayMs: 1000,
  reconnectDelayMaxMs: 10_000,
};
/** Refusals a reconnect does not get past by trying again. */
const FINAL: ReadonlySet<string> = new Set(["missing_token", "invalid_token", "expired_token", "invalid_payload"]);

interface Pending {
  resolve(connected: Connected): void;
  reject(error: PresenceError): void;
}

function userIdsOf(ids: readonly (string | number)[]): string[] {
  if (!Array.isArray(ids)) throw new PresenceError("invalid_payload", "user ids are a list");
  const seen = new Set<string>();
  for (const id of ids) {
    const userId = typeof id === "number" && Number.isInteger(id) ? String(id) : id;
    if (typeof userId !== "string" || userId.length < 1 || userId.length > MAX_USER_ID) {
      throw new PresenceError("invalid_payload", `a user id is a string of 1 to ${MAX_USER_ID} characters`);
    }
    seen.add(userId);
  }
  return [...seen];
}

/** The custom status as given, for the gateway to check (a shape it refuses is answered
 * with its own code and words, so the client never accepts what the gateway would not);
 * only a Date is written as the ISO-8601 UTC the gateway reads. */
function customStatusBody(custom: CustomStatusInput | null): Record<string, unknown> | null {
  if (custom === null) return null;
  if (!custom || typeof custom !== "object") {
    throw new PresenceError("invalid_payload", "a custom status is an object {text, emoji?, expiresAt?}, or null to clear it");
  }
  const body: Record<string, unknown> = { ...custom };
  if (custom.expiresAt instanceof Date) {
    if (Number.isNaN(custom.expiresAt.getTime())) throw new PresenceError("invalid_payload", "customStatus.expiresAt is an invalid Date");
    body.expiresAt = custom.expiresAt.toISOString();
  }
  return body;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class PresenceClient {
  private readonly options: Required<Omit<PresenceClientOptions, "device" | "transports">> &
    Pick<PresenceClientOptions, "device" | "transports">;
  private socket: Socket | null = null;
  private current: ConnectionState = "closed";
  private readonly listeners = new Map<EventName, Set<(value: never) => void>>();
  private readonly store = new PresenceStore();
  private readonly watched = new Set<string>();
  private own: Presence | undefined;
  private active = true;
  private connection: Promise<Connected> | null = null;
  private pending: Pending | null = null;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private pinger: ReturnType<typeof setInterval> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;
  private askedAgain = false;
  /** `presence:updated` that came before `connected` on this connection (the user's own,
   * for the first socket of the user: the gateway sends it first). */
  private early: unknown[] = [];
  private activity: ActivityWatch | null = null;

  constructor(options: PresenceClientOptions) {
    if (!options || typeof options.url !== "string") throw new PresenceError("invalid_payload", "options.url is required");
    if (typeof options.token !== "string" && typeof options.token !== "function") {
      throw new PresenceError("missing_token", "options.token is a string or a function returning one");
    }
    this.options = { ...DEFAULTS, ...definedOnly(options) } as PresenceClient["options"];
  }

  /** Where the connection is: `connecting`, `connected`, `reconnecting` or `closed`. */
  get state(): ConnectionState {
    return this.current;
  }

  /** The user's own presence, kept current (undefined before the first `connected`). */
  get me(): Presence | undefined {
    return this.own;
  }

  /** The latest applied presence of a watched user, or undefined. */
  get(userId: string): Presence | undefined {
    return this.store.get(String(userId));
  }

  /** The ids watched now (and watched again after every reconnect). */
  get watching(): string[] {
    return [...this.watched];
  }

  on<E extends EventName>(event: E, listener: PresenceClientEvents[E]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const entry = listener as unknown as (value: never) => void;
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  /** Resolves on the gateway's `connected`; rejects with a PresenceError when the gateway
   * refuses (a refused expired token is asked for once more first) or does not answer
   * within `timeoutMs` — and the client is then closed. */
  connect(): Promise<Connected> {
    if (this.connection) return this.connection;
    this.connection = new Promise<Connected>((resolve, reject) => {
      this.pending = { resolve, reject };
    });
    this.connection.catch(() => undefined); // a caller that never awaits it sees no unhandled rejection
    this.setState("connecting");
    this.connectTimer = setTimeout(() => {
      this.fail(new PresenceError("timeout", `the gateway did not answer within ${this.options.timeoutMs} ms`));
    }, this.options.timeoutMs);
    const socket = io(this.options.url, {
      auth: (send: (data: object) => void) => void this.authentication().then(send),
      transports: this.options.transports ?? ["polling", "websocket"],
      reconnectionDelay: this.options.reconnectDelayMs,
      reconnectionDelayMax: this.options.reconnectDelayMaxMs,
      randomizationFactor: 0.5,
      timeout: this.options.timeoutMs,
      forceNew: true,
      autoConnect: false,
    });
    this.socket = socket;
    this.listen(socket);
    socket.connect();
    this.activity = watchActivity(this.options.idleAfterMs, (active) => this.setActive(active));
    return this.connection;
  }

  /** Set the user's status; resolves once the gateway acknowledged it. */
  async setStatus(status: Status): Promise<void> {
    if (typeof status !== "string" || !status) throw new PresenceError("invalid_payload", "a status is a non-empty string");
    await this.request("presence:update", { status });
  }

  /** Set the user's custom status, or clear it with null; resolves once acknowledged. */
  async setCustomStatus(custom: CustomStatusInput | null): Promise<void> {
    await this.request("presence:update", { customStatus: customStatusBody(custom) });
  }

  /** Watch users: their presence now, then every change of theirs as `presence`, across
   * reconnects. Before the connection is up, waits for it (at most `timeoutMs`). */
  async watch(userIds: readonly (string | number)[]): Promise<WatchResult> {
    const ids = userIdsOf(userIds);
    const added = ids.filter((id) => !this.watched.has(id));
    for (const id of added) this.watched.add(id);
    const denied: string[] = [];
    try {
      await this.connected();
      for (const part of chunks(ids, this.options.maxIdsPerCall)) denied.push(...(await this.subscribe(part)));
    } catch (error) {
      for (const id of added) this.watched.delete(id);
      throw error;
    }
    const refused = new Set(denied);
    const presence = ids.filter((id) => !refused.has(id)).map((id) => this.store.get(id));
    return { presence: presence.filter((p): p is Presence => p !== undefined), denied };
  }

  /** Stop watching users: no more `presence` for them, and `get` forgets them. */
  async unwatch(userIds: readonly (string | number)[]): Promise<void> {
    const ids = userIdsOf(userIds);
    for (const id of ids) {
      this.watched.delete(id);
      this.store.delete(id);
    }
    if (this.current !== "connected") return; // the next connection watches only what is left
    for (const part of chunks(ids, this.options.maxIdsPerCall)) {
      await this.request("presence:unsubscribe", { userIds: part });
    }
  }

  /** Whether the person at this screen is there. A browser page is followed by itself;
   * elsewhere (Node, a native shell) the application says so. `false` sends `IDLE` from
   * this socket; `true` makes it active again. */
  setActive(active: boolean): void {
    if (this.active === active) return;
    this.active = active;
    if (this.current === "connected") this.sendActivity();
  }

  /** Disconnect for good: no reconnect, no more events. */
  close(): void {
    const socket = this.socket;
    this.socket = null;
    this.connection = null;
    this.stopTimers();
    this.activity?.stop();
    this.activity = null;
    if (this.pending) {
      this.pending.reject(new PresenceError("unavailable", "the client was closed"));
      this.pending = null;
    }
    if (socket) {
      socket.removeAllListeners();
      socket.io.removeAllListeners();
      socket.disconnect();
    }
    this.setState("closed");
  }

  // ---- the connection --------------------------------------------------------------

  private async authentication(): Promise<object> {
    const auth: Record<string, unknown> = {};
    if (this.options.device !== undefined) auth.device = this.options.device;
    try {
      const source = this.options.token;
      auth.token = typeof source === "function" ? await source() : source;
    } catch {
      // No token today: the gateway answers `missing token`, reported as missing_token.
    }
    return auth;
  }

  private listen(socket: Socket): void {
    socket.on("connect", () => {
      this.early = [];
    });
    socket.on("connected", (data: unknown) => this.onConnected(socket, data));
    socket.on("presence:updated", (data: unknown) => {
      if (this.current === "connected") this.onUpdate(data);
      else if (this.early.length < 16) this.early.push(data);
    });
    socket.on("disconnect", (reason: string) => this.onDisconnect(socket, reason));
    socket.on("connect_error", (error: Error) => this.onConnectError(socket, error));
    socket.io.on("reconnect_attempt", () => {
      if (socket === this.socket && this.current !== "connecting") this.setState("reconnecting");
    });
  }

  private onConnected(socket: Socket, data: unknown): void {
    if (socket !== this.socket) return;
    const record = (data ?? {}) as Record<string, unknown>;
    const connected: Connected = {
      userId: String(record.userId ?? ""),
      socketId: String(record.socketId ?? socket.id ?? ""),
      status: typeof record.status === "string" ? record.status : "ONLINE",
    };
    const first = this.pending !== null;
    this.retries = 0;
    this.askedAgain = false;
    const early = this.early;
    this.early = [];
    const announced = early.some((data) => (data as { userId?: unknown } | null)?.userId === connected.userId);
    // What `connected` says, until something newer: told to `me` listeners only when no
    // announced presence follows (an announced one is the same arrival, with its seq).
    const own = { ...this.ownOr(connected.userId), status: connected.status };
    if (announced) this.own = own;
    else this.setOwn(own);
    this.setState("connected");
    for (const data of early) this.onUpdate(data);
    this.startPinging(socket);
    if (!this.active) this.sendActivity(); // a new socket is active: say this one is not
    if (first) {
      clearTimeout(this.connectTimer);
      this.pending?.resolve(connected);
      this.pending = null;
    }
    if (!announced) void this.fillOwn(connected.userId);
    if (this.watched.size > 0) void this.rewatch();
  }

  /** A socket that joined a user already online hears no change of theirs: their devices,
   * custom status and seq come from a snapshot of themselves (the status stays the one
   * `connected` gave: what the user's own sockets see). */
  private async fillOwn(userId: string): Promise<void> {
    const self = [userId];
    try {
      const reply = await this.request("presence:subscribe", { userIds: self });
      if (!this.watched.has(userId)) await this.request("presence:unsubscribe", { userIds: self });
      const entry = Array.isArray(reply.presence) ? reply.presence[0] : undefined;
      const seen = parsePresence(entry, this.own);
      if (seen && this.own && this.own.userId === userId && seen.seq > this.own.seq) {
        this.setOwn({ ...seen, status: this.own.status, lastSeen: null });
      }
    } catch {
      // The own presence keeps what `connected` said until the next change.
    }
  }

  private onDisconnect(socket: Socket, reason: string): void {
    if (socket !== this.socket) return;
    this.stopPinging();
    if (reason === "io client disconnect") return;
    if (this.pending === null) this.setState("reconnecting");
    // socket.io-client does not come back by itself after the gateway ended the session
    // (a restart, an expired token): try again, with backoff.
    if (reason === "io server disconnect") this.retryLater(socket);
  }

  private onConnectError(socket: Socket, error: Error): void {
    if (socket !== this.socket) return;
    if (socket.active) return; // the transport failed: socket.io-client retries with backoff
    const refusal = fromConnectRefusal(error.message);
    if (refusal.code === "expired_token" && !this.askedAgain) {
      this.askedAgain = true; // one more token, then the refusal stands
      socket.connect();
      return;
    }
    if (this.pending !== null || FINAL.has(refusal.code)) {
      this.fail(refusal);
      return;
    }
    this.retryLater(socket); // too many attempts, unavailable: later
  }

  private retryLater(socket: Socket): void {
    clearTimeout(this.retryTimer);
    const base = Math.min(this.options.reconnectDelayMaxMs, this.options.reconnectDelayMs * 2 ** this.retries);
    this.retries += 1;
    const delay = base * (0.5 + Math.random());
    this.retryTimer = setTimeout(() => {
      if (socket === this.socket && !socket.connected) socket.connect();
    }, delay);
  }

  /** A refusal nobody gets past: the first `connect()` rejects with it, or `error` tells it. */
  private fail(error: PresenceError): void {
    const pending = this.pending;
    this.pending = null;
    if (!pending) this.emit("error", error);
    this.close();
    pending?.reject(error);
  }

  private connected(): Promise<void> {
    if (this.current === "connected") return Promise.resolve();
    if (this.current === "closed") return Promise.reject(new PresenceError("unavailable", "not connected: call connect()"));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new PresenceError("timeout", `not connected within ${this.options.timeoutMs} ms`));
      }, this.options.timeoutMs);
      const off = this.on("state", (state) => {
        if (state === "connected") resolve();
        else if (state === "closed") reject(new PresenceError("unavailable", "the client was closed"));
        else return;
        clearTimeout(timer);
        off();
      });
    });
  }

  // ---- presence ----------------------------------------------------------------------

  private onUpdate(data: unknown): void {
    const userId = (data as { userId?: unknown } | null)?.userId;
    const id = typeof userId === "number" ? String(userId) : userId;
    if (typeof id !== "string") return;
    if (this.own && id === this.own.userId) {
      const mine = parsePresence(data, this.own);
      if (mine && mine.seq > this.own.seq) this.setOwn(mine);
    }
    if (this.watched.has(id)) this.apply(data);
  }

  /** Through the seq rule; `presence` for what changed something shown. */
  private apply(raw: unknown): void {
    const id = String((raw as { userId?: unknown }).userId);
    const presence = parsePresence(raw, this.store.get(id));
    if (presence && this.watched.has(presence.userId) && this.store.offer(presence) === "changed") {
      this.emit("presence", presence);
    }
  }

  /** One `presence:subscribe`: its snapshot applied, its denied ids forgotten. */
  private async subscribe(ids: string[]): Promise<string[]> {
    const reply = (await this.request("presence:subscribe", { userIds: ids })) as {
      presence?: unknown[];
      denied?: unknown[];
    };
    for (const entry of Array.isArray(reply.presence) ? reply.presence : []) this.apply(entry);
    const denied = (Array.isArray(reply.denied) ? reply.denied : []).map(String);
    for (const id of denied) {
      this.watched.delete(id);
      this.store.delete(id);
    }
    return denied;
  }

  /** After a reconnect the new socket watches nobody: every watched id again. A user
   * whose presence did not change while away fires nothing (no leave and join). */
  private async rewatch(): Promise<void> {
    for (const part of chunks([...this.watched], this.options.maxIdsPerCall)) {
      try {
        await this.subscribe(part);
      } catch (error) {
        this.emit("error", error instanceof PresenceError ? error : new PresenceError("internal", String(error)));
      }
    }
  }

  private ownOr(userId: string): Presence {
    if (this.own && this.own.userId === userId) return this.own;
    return { userId, status: "ONLINE", devices: {}, customStatus: null, lastSeen: null, seq: 0, timestamp: null };
  }

  private setOwn(presence: Presence): void {
    const before = this.own;
    this.own = presence;
    if (!before || before.status !== presence.status || before.seq !== presence.seq) this.emit("me", presence);
  }

  // ---- requests, idle and ping --------------------------------------------------------

  private async request(event: string, payload: object): Promise<Record<string, unknown>> {
    const socket = this.socket;
    if (!socket || this.current !== "connected") throw new PresenceError("unavailable", "not connected to the gateway");
    let reply: unknown;
    try {
      reply = await socket.timeout(this.options.timeoutMs).emitWithAck(event, payload);
    } catch {
      throw new PresenceError("timeout", `${event}: no answer within ${this.options.timeoutMs} ms`);
    }
    const body = (reply ?? {}) as Record<string, unknown>;
    if (body.error) throw fromBody(body.error);
    return body;
  }

  /** IDLE from this socket, or back from idle: the user's own choice (DND, …) again, or ONLINE. */
  private sendActivity(): void {
    const chosen = this.own?.status;
    const back = !chosen || chosen === "IDLE" || chosen === "OFFLINE" ? "ONLINE" : chosen;
    this.request("presence:update", { status: this.active ? back : "IDLE" }).catch((error: unknown) => {
      if (error instanceof PresenceError) this.emit("error", error);
    });
  }

  private startPinging(socket: Socket): void {
    this.stopPinging();
    this.pinger = setInterval(() => socket.emit("ping"), this.options.pingIntervalMs);
  }

  private stopPinging(): void {
    clearInterval(this.pinger);
    this.pinger = undefined;
  }

  private stopTimers(): void {
    this.stopPinging();
    clearTimeout(this.connectTimer);
    clearTimeout(this.retryTimer);
  }

  private setState(state: ConnectionState): void {
    if (this.current === state) return;
    this.current = state;
    this.emit("state", state);
  }

  private emit<E extends EventName>(event: E, value: Parameters<PresenceClientEvents[E]>[0]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        (listener as (v: typeof value) => void)(value);
      } catch (error) {
        // A listener's bug must not stop the others, nor the client.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
