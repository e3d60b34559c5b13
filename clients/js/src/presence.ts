/**
 * What a presence is on the wire and the one rule every copy of it goes through: keep,
 * per user, the highest `seq` applied and drop anything not newer (docs/protocol.md,
 * "The seq rule"). Updates and snapshot entries race each other across instances and
 * reconnects; the rule is what keeps a dot from moving backwards.
 */

/** A status name: the built-in ones, or one a team registered on its gateway. */
export type Status = "ONLINE" | "OFFLINE" | "IDLE" | "DND" | "INVISIBLE" | (string & {});

export interface CustomStatus {
  text: string;
  emoji?: string | null;
  /** ISO-8601 UTC; the gateway clears the custom status then. */
  expiresAt?: string | null;
}

/** What the client sends to set a custom status: `expiresAt` may be a Date. */
export interface CustomStatusInput {
  text: string;
  emoji?: string | null;
  expiresAt?: string | Date | null;
}

export interface Presence {
  userId: string;
  status: Status;
  /** Device kind → `ONLINE` / `IDLE`, as others see it (`{}` while seen offline). */
  devices: Record<string, Status>;
  customStatus: CustomStatus | null;
  /** When others last saw the user online (ISO-8601 UTC); null while online or not known. */
  lastSeen: string | null;
  /** The user's version: grows with every change of what anyone sees of them. */
  seq: number;
  /** When the change was made (ISO-8601 UTC); null for a snapshot entry. */
  timestamp: string | null;
}

const OFFLINE = "OFFLINE";

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function devicesOf(value: unknown): Record<string, Status> {
  const devices: Record<string, Status> = {};
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [kind, state] of Object.entries(value as Record<string, unknown>)) {
      if (typeof state === "string") devices[kind] = state;
    }
  }
  return devices;
}

function customStatusOf(value: unknown): CustomStatus | null {
  if (!value || typeof value !== "object") return null;
  const record = value as Record<string, unknown>;
  if (typeof record.text !== "string") return null;
  const custom: CustomStatus = { text: record.text };
  if ("emoji" in record) custom.emoji = text(record.emoji);
  if ("expiresAt" in record) custom.expiresAt = text(record.expiresAt);
  return custom;
}

/**
 * A `presence:updated` payload or a snapshot entry as a Presence, or null when it is not
 * one (no user id, status or seq: nothing to order it by). `previous` gives the last
 * seen time an update does not carry: an update that takes a user offline is their new
 * last seen.
 */
export function parsePresence(raw: unknown, previous: Presence | undefined): Presence | null {
  if (!raw || typeof raw !== "object") return null;
  const record = raw as Record<string, unknown>;
  const userId = typeof record.userId === "number" ? String(record.userId) : text(record.userId);
  const status = text(record.status);
  const seq = typeof record.seq === "number" && Number.isFinite(record.seq) ? record.seq : null;
  if (userId === null || status === null || seq === null) return null;
  const timestamp = text(record.timestamp);
  let lastSeen: string | null;
  if ("lastSeen" in record) lastSeen = text(record.lastSeen);
  else if (status !== OFFLINE) lastSeen = null;
  else if (previous && previous.status === OFFLINE && previous.lastSeen) lastSeen = previous.lastSeen;
  else lastSeen = timestamp;
  return {
    userId,
    status,
    devices: devicesOf(record.devices),
    customStatus: customStatusOf(record.customStatus),
    lastSeen,
    seq,
    timestamp,
  };
}

function sameCustomStatus(a: CustomStatus | null, b: CustomStatus | null): boolean {
  if (a === null || b === null) return a === b;
  return a.text === b.text && (a.emoji ?? null) === (b.emoji ?? null) && (a.expiresAt ?? null) === (b.expiresAt ?? null);
}

function sameDevices(a: Record<string, Status>, b: Record<string, Status>): boolean {
  const kinds = Object.keys(a);
  return kinds.length === Object.keys(b).length && kinds.every((kind) => a[kind] === b[kind]);
}

/** Whether two presences of a user look alike to whoever shows them. */
export function looksTheSame(a: Presence, b: Presence): boolean {
  return (
    a.status === b.status &&
    a.lastSeen === b.lastSeen &&
    sameDevices(a.devices, b.devices) &&
    sameCustomStatus(a.customStatus, b.customStatus)
  );
}

/** What happened to a presence offered to the store. */
export type Applied = "changed" | "unchanged" | "stale";

/** The latest applied presence per user, under the seq rule. */
export class PresenceStore {
  private readonly latest = new Map<string, Presence>();

  get(userId: string): Presence | undefined {
    return this.latest.get(userId);
  }

  /**
   * Apply `next` if its seq is greater than the one applied for that user. `changed` when
   * it moved something shown; `unchanged` when only the seq moved (a reconnect's
   * snapshot of a user who never left): no flicker; `stale` when dropped.
   */
  offer(next: Presence): Applied {
    const known = this.latest.get(next.userId);
    if (known && next.seq <= known.seq) return "stale";
    this.latest.set(next.userId, next);
    return known && looksTheSame(known, next) ? "unchanged" : "changed";
  }

  delete(userId: string): void {
    this.latest.delete(userId);
  }

  clear(): void {
    this.latest.clear();
  }
}
