/** @presence-gateway/client: the typed client of presence-gateway. */
export { PresenceClient } from "./client.js";
export type {
  Connected,
  ConnectionState,
  PresenceClientEvents,
  PresenceClientOptions,
  TokenSource,
  Transport,
  WatchResult,
} from "./client.js";
export { PresenceError } from "./errors.js";
export type { PresenceErrorCode } from "./errors.js";
export type { CustomStatus, CustomStatusInput, Presence, Status } from "./presence.js";
