// The CAPABILITY list of our engine: what works end to end in the current state (RFC 9051 §7.2.2).
// Command modules add their own capability names through CommandSpec.capabilities, so only what is
// implemented is advertised; the login-related names follow the loopback rule (LOGINDISABLED, RFC 3501 §6.2.3).
import type { CommandSpec, SessionState } from './types.js';

export interface CapabilityInput {
  readonly state: SessionState;
  readonly secure: boolean;
  readonly loginAllowed: boolean;
  readonly tlsAvailable: boolean;
  readonly compressed: boolean;
  readonly maxMessageBytes: number;
}

/** Names advertised by the engine itself (reader features); commands add theirs through CommandSpec.capabilities. */
const ENGINE_CAPABILITIES = ['LITERAL+'];

/** Order in which known names are listed (stable output; unknown contributions follow in table order). */
const ORDER = [
  'LITERAL+', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE', 'UNSELECT', 'UIDPLUS', 'MOVE', 'CHILDREN', 'SPECIAL-USE',
  'CONDSTORE', 'QRESYNC', 'QUOTA', 'UTF8=ACCEPT', 'ESEARCH', 'LIST-STATUS',
];

/** Capability names contributed by the command table (deduplicated, in a stable order). */
export function contributedCapabilities(table: ReadonlyMap<string, CommandSpec>): string[] {
  const names = new Set<string>(ENGINE_CAPABILITIES);
  for (const spec of table.values()) for (const name of spec.capabilities ?? []) names.add(name.toUpperCase());
  const known = ORDER.filter((name) => names.has(name));
  const rest = [...names].filter((name) => !ORDER.includes(name)).sort();
  return [...known, ...rest];
}

/** The list for one connection in its current state. */
export function capabilityList(input: CapabilityInput, contributed: readonly string[]): string[] {
  const caps = ['IMAP4rev1', 'IMAP4rev2'];
  if (input.state === 'not-authenticated') {
    if (!input.secure && input.tlsAvailable) caps.push('STARTTLS');
    if (input.loginAllowed) caps.push('AUTH=PLAIN', 'SASL-IR');
    else caps.push('LOGINDISABLED');
  } else if (!input.compressed) {
    caps.push('COMPRESS=DEFLATE');
  }
  caps.push(...contributed, `APPENDLIMIT=${input.maxMessageBytes}`);
  return caps;
}
