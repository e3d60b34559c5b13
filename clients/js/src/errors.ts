/**
 * One error class with a stable `code`, the gateway's own codes plus the client's
 * (`timeout`), so callers branch on the code and never on a message.
 */

export type PresenceErrorCode =
  | "missing_token"
  | "invalid_token"
  | "expired_token"
  | "invalid_payload"
  | "unknown_status"
  | "not_choosable"
  | "limit"
  | "unavailable"
  | "internal"
  | "timeout";

const CODES: ReadonlySet<string> = new Set<PresenceErrorCode>([
  "missing_token",
  "invalid_token",
  "expired_token",
  "invalid_payload",
  "unknown_status",
  "not_choosable",
  "limit",
  "unavailable",
  "internal",
  "timeout",
]);

export class PresenceError extends Error {
  readonly code: PresenceErrorCode;

  constructor(code: PresenceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = "PresenceError";
    this.code = code;
    if (options && "cause" in options) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** The gateway's codes that name one of ours differently. */
const ALIASES: Readonly<Record<string, PresenceErrorCode>> = {
  rate_limited: "limit", // past the socket's or the user's event budget
  token_expired: "expired_token", // the token expired on an open socket
};

/** The error body of an acknowledgement or `error` event: `{ code, message }`. A code
 * the client does not know (a newer gateway's) is reported as `internal`, message kept. */
export function fromBody(body: unknown): PresenceError {
  const record = (body ?? {}) as { code?: unknown; message?: unknown };
  const raw = typeof record.code === "string" ? record.code : "";
  const code = CODES.has(raw) ? (raw as PresenceErrorCode) : (ALIASES[raw] ?? "internal");
  const message = typeof record.message === "string" ? record.message : String(record.code ?? "refused");
  return new PresenceError(code, message);
}

/** A refused connection: socket.io-client's `connect_error` message, as the gateway words
 * its refusals at connect (docs/protocol.md). */
export function fromConnectRefusal(message: string): PresenceError {
  const text = message.toLowerCase();
  if (text.includes("missing token")) return new PresenceError("missing_token", message);
  if (text.includes("expired token")) return new PresenceError("expired_token", message);
  if (text.includes("invalid token")) return new PresenceError("invalid_token", message);
  if (text.includes("invalid device")) return new PresenceError("invalid_payload", message);
  if (text.includes("too many")) return new PresenceError("limit", message);
  if (text.includes("unavailable")) return new PresenceError("unavailable", message);
  return new PresenceError("internal", message);
}
