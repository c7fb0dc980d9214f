// Per-connection state that imap-core does not keep: who is logged in, the selected folder handle,
// enabled extensions, and the reply a failing hook wants the client to see.
import type { ImapConnection, ImapSession } from '@zone-eu/wildduck/imap-core/index.js';
import type { Mailbox } from '../mailbox/types.js';
import type { ImapReply } from './errors.js';

/** What a successful login leaves on the session (imap-core keeps it as session.user; it reads only `id`). */
export interface ImapUser {
  /** Alias id (never the address: imap-core copies user.id into its own log records). */
  readonly id: string;
  readonly mailbox: Mailbox;
  readonly release: () => void;
}

/**
 * The selected folder, passed to imap-core as `_id` and handed back to every hook and to notifier.getUpdates.
 * imap-core compares it with toString(), so the key names the folder, not the session.
 */
export class SelectedFolder {
  /** Modseqs of changes this session already reported to its own client (skipped in live updates). */
  readonly ownModseqs = new Set<number>();

  constructor(
    readonly mailbox: Mailbox,
    readonly path: string,
    readonly uidValidity: number,
    readonly session: ImapSession,
  ) {}

  toString(): string {
    return `${this.mailbox.id}\u0000${this.uidValidity}\u0000${this.path}`;
  }
}

/** The tagged reply of the command in progress; finish() sends it at most once. */
export interface CommandInProgress {
  readonly name: string;
  finish(reply: ImapReply): void;
}

export interface ConnectionState {
  readonly connection: ImapConnection;
  readonly ip: string;
  /** Plaintext LOGIN allowed: a loopback client (and the server permits it). */
  readonly loopback: boolean;
  user: ImapUser | null;
  /** ENABLE QRESYNC was issued: expunges are reported as VANISHED. */
  qresync: boolean;
  /** Set by a failing hook, consumed by the command guard: replaces imap-core's generic NO [TEMPFAIL]. */
  pendingReply: ImapReply | null;
  current: CommandInProgress | null;
  /** STARTTLS was accepted: lines still arriving in plaintext are dropped (command injection guard). */
  starttlsPending: boolean;
  /** Literals seen in the command being read (reset at its last line). */
  literalCount: number;
  /** A non-synchronizing literal (LITERAL+) is being handed to imap-core: its "+ Go ahead" is not sent. */
  nonSyncLiteral: boolean;
  /** Bytes the client sent compressed / we inflated (COMPRESS=DEFLATE bomb guard). */
  compressedIn: number;
  inflatedIn: number;
  readonly openedAt: number;
}

const states = new WeakMap<ImapSession, ConnectionState>();

export function attachState(connection: ImapConnection, ip: string, loopback: boolean): ConnectionState {
  const state: ConnectionState = {
    connection,
    ip,
    loopback,
    user: null,
    qresync: false,
    pendingReply: null,
    current: null,
    starttlsPending: false,
    literalCount: 0,
    nonSyncLiteral: false,
    compressedIn: 0,
    inflatedIn: 0,
    openedAt: Date.now(),
  };
  states.set(connection.session, state);
  return state;
}

/** The state of a session; throws for sessions we did not create (a bug, caught by the hook wrapper). */
export function stateOf(session: ImapSession): ConnectionState {
  const state = states.get(session);
  if (!state) throw new Error('IMAP session without Sealpost state');
  return state;
}

export function userOf(session: ImapSession): ImapUser {
  const user = stateOf(session).user;
  if (!user) throw new Error('IMAP hook called before login');
  return user;
}

/** The folder handle imap-core passes back to hooks. */
export function asSelected(value: unknown): SelectedFolder {
  if (value instanceof SelectedFolder) return value;
  throw new Error('IMAP hook called without a selected folder handle');
}

/** UIDs → inclusive ranges for the store (input need not be sorted). */
export function toUidSet(uids: readonly number[]): [number, number][] {
  const sorted = [...uids].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const uid of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && uid <= last[1] + 1) last[1] = Math.max(last[1], uid);
    else ranges.push([uid, uid]);
  }
  return ranges;
}
