/**
 * React bindings: `<PresenceProvider client>`, `usePresence(userIds)`, `useMyPresence()`.
 *
 * Hooks read the client through `useSyncExternalStore`, so a change re-renders only the
 * components that show that user. Ids are counted per client: however many components
 * show a user, the client watches them once, and stops when the last one unmounts.
 */

import { createContext, createElement, useContext, useEffect, useRef, useSyncExternalStore, type ReactNode } from "react";
import type { ConnectionState, PresenceClient } from "./client.js";
import type { Presence } from "./presence.js";

const ClientContext = createContext<PresenceClient | null>(null);

export interface PresenceProviderProps {
  client: PresenceClient;
  children?: ReactNode;
}

export function PresenceProvider({ client, children }: PresenceProviderProps): ReactNode {
  return createElement(ClientContext.Provider, { value: client }, children);
}

/** The client of the nearest `<PresenceProvider>`. */
export function usePresenceClient(): PresenceClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error("usePresence and useMyPresence need a <PresenceProvider client={...}> above them");
  return client;
}

/** How many mounted components show each id, per client; watch and unwatch calls are
 * gathered for a microtask, so a list mounting at once is one call. */
class WatchCounts {
  private readonly counts = new Map<string, number>();
  private readonly toWatch = new Set<string>();
  private readonly toUnwatch = new Set<string>();
  private scheduled = false;

  constructor(private readonly client: PresenceClient) {}

  acquire(ids: readonly string[]): void {
    for (const id of ids) {
      const count = (this.counts.get(id) ?? 0) + 1;
      this.counts.set(id, count);
      if (count === 1) {
        this.toUnwatch.delete(id);
        this.toWatch.add(id);
      }
    }
    this.schedule();
  }

  release(ids: readonly string[]): void {
    for (const id of ids) {
      const count = (this.counts.get(id) ?? 0) - 1;
      if (count > 0) {
        this.counts.set(id, count);
        continue;
      }
      this.counts.delete(id);
      if (!this.toWatch.delete(id)) this.toUnwatch.add(id);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      const watch = [...this.toWatch];
      const unwatch = [...this.toUnwatch];
      this.toWatch.clear();
      this.toUnwatch.clear();
      // Refusals reach the client's `error` listeners; the hook shows `undefined` meanwhile.
      if (unwatch.length) this.client.unwatch(unwatch).catch(() => undefined);
      if (watch.length) this.client.watch(watch).catch(() => undefined);
    });
  }
}

const countsByClient = new WeakMap<PresenceClient, WatchCounts>();

function countsOf(client: PresenceClient): WatchCounts {
  let counts = countsByClient.get(client);
  if (!counts) countsByClient.set(client, (counts = new WatchCounts(client)));
  return counts;
}

const SEPARATOR = "\u0000"; // never in a user id the gateway accepts

/** The presence of each of `userIds` (undefined until known), watched while mounted. */
export function usePresence(userIds: readonly (string | number)[]): Record<string, Presence | undefined> {
  const client = usePresenceClient();
  const key = userIds.map(String).join(SEPARATOR);
  const cache = useRef<{ key: string; record: Record<string, Presence | undefined> } | null>(null);

  useEffect(() => {
    const ids = key ? key.split(SEPARATOR) : [];
    const counts = countsOf(client);
    counts.acquire(ids);
    return () => counts.release(ids);
  }, [client, key]);

  const subscribe = (onChange: () => void): (() => void) => {
    const ids = new Set(key ? key.split(SEPARATOR) : []);
    return client.on("presence", (presence) => {
      if (ids.has(presence.userId)) onChange();
    });
  };
  const snapshot = (): Record<string, Presence | undefined> => {
    const ids = key ? key.split(SEPARATOR) : [];
    const cached = cache.current;
    if (cached && cached.key === key && ids.every((id) => cached.record[id] === client.get(id))) return cached.record;
    const record: Record<string, Presence | undefined> = {};
    for (const id of ids) record[id] = client.get(id);
    cache.current = { key, record };
    return record;
  };
  return useSyncExternalStore(useStable(subscribe, [client, key]), snapshot, snapshot);
}

/** The user's own presence (undefined before the first connection). */
export function useMyPresence(): Presence | undefined {
  const client = usePresenceClient();
  const subscribe = useStable((onChange: () => void) => client.on("me", onChange), [client]);
  return useSyncExternalStore(subscribe, () => client.me, () => client.me);
}

/** The client's connection state. */
export function useConnectionState(): ConnectionState {
  const client = usePresenceClient();
  const subscribe = useStable((onChange: () => void) => client.on("state", onChange), [client]);
  return useSyncExternalStore(subscribe, () => client.state, () => client.state);
}

/** The same function while `deps` stay the same, so the store is not re-subscribed per render. */
function useStable<F>(make: F, deps: readonly unknown[]): F {
  const ref = useRef<{ deps: readonly unknown[]; value: F } | null>(null);
  if (!ref.current || ref.current.deps.length !== deps.length || ref.current.deps.some((d, i) => d !== deps[i])) {
    ref.current = { deps, value: make };
  }
  return ref.current.value;
}

export type { Presence } from "./presence.js";
