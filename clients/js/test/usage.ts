// Code written against the surface the package promises; `npm run typecheck` compiles it.
import { PresenceClient, PresenceError, type ConnectionState, type Presence, type PresenceErrorCode } from "../src/index.js";
import { PresenceProvider, useMyPresence, usePresence } from "../src/react.js";

export async function usage(url: string, fetchToken: () => Promise<string>): Promise<void> {
  const client = new PresenceClient({ url, token: fetchToken, device: "desktop", transports: ["websocket"], idleAfterMs: 60_000 });
  const fixed = new PresenceClient({ url, token: "a.jwt.token" });
  fixed.close();
  try {
    const { userId, socketId, status }: { userId: string; socketId: string; status: string } = await client.connect();
    void [userId, socketId, status];
  } catch (error) {
    if (error instanceof PresenceError) {
      const code: PresenceErrorCode = error.code;
      if (code === "expired_token" || code === "timeout") return;
    }
    throw error;
  }
  const me: Presence | undefined = client.me;
  void me?.devices["web"];
  await client.setStatus("DND");
  await client.setCustomStatus({ text: "In a meeting", emoji: "📅", expiresAt: new Date(Date.now() + 3_600_000) });
  await client.setCustomStatus({ text: "Lunch" });
  await client.setCustomStatus(null);
  const { presence, denied }: { presence: Presence[]; denied: string[] } = await client.watch(["7", "8"]);
  for (const p of presence) {
    const fields: [string, string, Record<string, string>, string | null, number, string | null] = [
      p.userId,
      p.status,
      p.devices,
      p.lastSeen,
      p.seq,
      p.timestamp,
    ];
    void [fields, p.customStatus?.text, p.customStatus?.emoji, p.customStatus?.expiresAt];
  }
  void denied;
  await client.unwatch(["8"]);
  const seven: Presence | undefined = client.get("7");
  void seven;
  const off: () => void = client.on("presence", (p: Presence) => void p.status);
  off();
  client.on("state", (s: ConnectionState) => {
    const known: "connecting" | "connected" | "reconnecting" | "closed" = s;
    void known;
  });
  client.setActive(false);
  client.close();
}

export function Dots({ ids }: { ids: string[] }): string {
  const seen: Record<string, Presence | undefined> = usePresence(ids);
  const mine: Presence | undefined = useMyPresence();
  return ids.map((id) => seen[id]?.status ?? "?").join(",") + (mine?.status ?? "");
}

export const provider: typeof PresenceProvider = PresenceProvider;
