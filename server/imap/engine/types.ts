// The engine contract: what a command module (server/imap/commands/<name>.ts) gets and returns.
// One module per command; each exports a `CommandSpec` (or several for closely related names, e.g.
// SUBSCRIBE/UNSUBSCRIBE). The engine (engine/session.ts) frames, dispatches, serialises commands per
// connection, flushes untagged updates before the tagged reply, and maps thrown errors to replies
// (server/imap/errors.ts replyFor).
import type { Logger } from '../../log.js';
import type { DeferredSyncMailbox } from '../../mailbox/types.js';
import type { ErrorRole } from '../errors.js';
import type { ImapLimits } from '../runtime.js';
import type { Cursor, SequenceSet, Value } from '../wire/types.js';

export type SessionState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

/** Extensions a client turned on with ENABLE (RFC 5161), or implicitly (CONDSTORE by FETCH MODSEQ etc.). */
export type Enabled = 'CONDSTORE' | 'QRESYNC' | 'UTF8=ACCEPT' | 'IMAP4rev2';

export interface ImapUser {
  /** Alias id (never the address in logs). */
  readonly id: string;
  /** The session's view of the mailbox: its writes are acknowledged only after mailbox.durable(). */
  readonly mailbox: DeferredSyncMailbox;
  readonly release: () => void;
}

/** Tagged completion of a command. */
export interface Completion {
  readonly status: 'OK' | 'NO' | 'BAD';
  /** Response code without brackets, e.g. 'READ-WRITE', 'APPENDUID 123 4', 'HIGHESTMODSEQ 7'. */
  readonly code?: string;
  readonly text: string;
}

/**
 * The selected folder as this session sees it: the sequence-number ↔ UID map it has told its client about,
 * the flags it last reported, and its \Recent set. Only the engine's update flush changes the map.
 */
export interface SelectedView {
  readonly path: string;
  readonly readOnly: boolean;
  readonly uidValidity: number;
  /** uids[seq - 1]; ascending. */
  readonly uids: readonly number[];
  /** Highest MODSEQ reported to this client. */
  readonly highestModseq: number;
  /** UIDs that are \Recent for this session (RFC 3501 §2.3.2). */
  readonly recent: ReadonlySet<number>;
  /** Saved search result (RFC 5182), as UIDs; empty when none. */
  savedSearch: readonly number[];
  /** 1-based sequence number of a UID, 0 when unknown to this session. */
  seqOf(uid: number): number;
  /**
   * UIDs named by a sequence set: as message sequence numbers (uidMode false) or UIDs (true). `*` is the
   * largest; `4:2` means 2:4; `$` is savedSearch. Sequence numbers beyond the mailbox are an error
   * (ParseError-like BAD, RFC 9051 §6.4.5: "BAD ... invalid sequence number"), UIDs that do not exist are skipped.
   * Ascending, no duplicates.
   */
  resolve(set: SequenceSet, uidMode: boolean, options?: ResolveOptions): number[];
  /** (engine addition) Flags of a message as last reported to this client; undefined when unknown. */
  flagsOf(uid: number): readonly string[] | undefined;
  /** (engine addition) The folder's FLAGS list as this client knows it: system flags and announced keywords. */
  flagList(): string[];
  /**
   * (engine addition) True when the flags last reported (flagsOf) are the folder's flags now, given the folder's
   * current HIGHESTMODSEQ: every change up to it was pulled and reported, and no expunge is held back.
   */
  flagsCurrent(folderHighestModseq: number): boolean;
}

/** (engine addition) How SelectedView.resolve treats message numbers beyond the mailbox. */
export interface ResolveOptions {
  /**
   * Skip them instead of BAD: for a sequence set used as a SEARCH key (RFC 9051 §6.4.4), where Dovecot 2.3, too,
   * answers `SEARCH 1:*` in an empty mailbox with an empty result while `FETCH 1:*` is BAD.
   */
  readonly lenient?: boolean;
}

/** A change to a folder of the session's mailbox, as the engine hands it to a NOTIFY watcher (RFC 5465). */
export type FolderChange =
  /** Messages were added, expunged or had their flags changed (the store's change event). */
  | { readonly kind: 'messages'; readonly folder: string }
  /** Folder names and subscriptions changed by another session of the same mailbox. */
  | { readonly kind: 'created' | 'deleted' | 'subscribed' | 'unsubscribed'; readonly folder: string }
  | { readonly kind: 'renamed'; readonly folder: string; readonly oldName: string };

/**
 * (engine addition) What one flush of the selected folder's updates changed, for listeners that keep derived state
 * in step with it (RFC 5267 §4.3 search / sort contexts).
 */
export interface FlushReport {
  /** UIDs announced (EXISTS) by this flush, ascending. */
  readonly added: readonly number[];
  /** UIDs still in the view whose flags changed since the last flush (by any session, this one too), ascending. */
  readonly flagged: readonly number[];
  /**
   * UIDs expunged from the store. Those still numbered in the view get their EXPUNGE / VANISHED written right after
   * the listeners return, so sequence numbers the listeners write still count them.
   */
  readonly gone: readonly number[];
}

/** (engine addition) Called after a flush wrote EXISTS and FETCH and before it writes EXPUNGE / VANISHED. */
export type FlushListener = (report: FlushReport) => Promise<void>;

/** What a command may write and read on its connection. */
export interface Session {
  readonly id: string;
  readonly ip: string;
  readonly secure: boolean;
  /** True when LOGIN/AUTHENTICATE may run: TLS, or plaintext from loopback when allowed. */
  readonly loginAllowed: boolean;
  readonly state: SessionState;
  readonly user: ImapUser | null;
  readonly selected: SelectedView | null;
  readonly enabled: ReadonlySet<Enabled>;
  readonly limits: ImapLimits;
  readonly logger: Logger;
  /** Advertised capabilities for the current state (engine/capabilities.ts). */
  capabilities(): string[];

  /** Writes `* <values joined by SP>\r\n` (an untagged response); waits when the client reads slowly. */
  untagged(...values: (Value | string)[]): Promise<void>;
  /**
   * Writes complete untagged lines built as text (each `* …\r\n`), for bulk responses where building a
   * value per message would cost more than the answer (FETCH FLAGS of a large folder); waits like untagged().
   */
  untaggedLines(text: string): Promise<void>;
  /** Sends `+ text` and resolves with the next client line (CRLF stripped), for AUTHENTICATE and IDLE's DONE. */
  continuation(text: string): Promise<Buffer>;

  /** Turns an extension on (ENABLE, or implicitly); CONDSTORE also when QRESYNC. */
  enable(extension: Enabled): void;
  /** After a successful LOGIN/AUTHENTICATE: moves to authenticated. */
  login(user: ImapUser): void;
  /**
   * SELECT/EXAMINE: opens the view (claims \Recent unless readOnly) and returns it; the command writes the
   * untagged SELECT responses itself. Replaces any previous selection (CLOSED code is the command's job).
   */
  select(path: string, readOnly: boolean): SelectedView;
  /** CLOSE/UNSELECT/failed SELECT: back to authenticated. */
  unselect(): void;
  /**
   * Pulls the selected folder's journal now and writes pending EXISTS / RECENT / FETCH (flags, MODSEQ) and,
   * when `expunges` is true, EXPUNGE or VANISHED. The engine calls this before every tagged OK with the
   * command's `expungeAllowed`; commands call it when they must report before their own output (e.g. IDLE).
   */
  flushUpdates(expunges: boolean): Promise<void>;
  /**
   * (engine addition) Adds a listener to every later flush of the selected folder (before a tagged reply, NOOP, IDLE).
   * Listeners belong to the selection: SELECT, EXAMINE, CLOSE and UNSELECT drop them. Returns its remover.
   */
  onFlush(listener: FlushListener): () => void;
  /** Marks a MODSEQ as produced by this session's own command, so its flag change is not echoed again. */
  ownChange(modseq: number): void;
  /** Starts TLS on the socket after the tagged OK of STARTTLS (drops bytes the client pipelined after it). */
  startTls(): Promise<void>;
  /** Starts DEFLATE after the tagged OK of COMPRESS. */
  startCompression(): void;
  /**
   * NOTIFY: sets this session's watcher (null removes it). The engine calls it for every change of any folder of
   * the session's mailbox, one call at a time, never while a command is running (queued until its tagged reply),
   * and at once during IDLE, so the watcher may write untagged responses and call flushUpdates.
   */
  watchFolders(watcher: ((change: FolderChange) => Promise<void>) | null): void;
  /** Hands a name or subscription change to the other sessions of the same mailbox (their watchers). */
  publishFolderChange(change: FolderChange): void;
  /** Ends the connection after the given final lines (BYE already written by the caller if wanted). */
  close(): void;

  // Engine additions (used by commands/core.ts modules).
  /** A certificate is configured: STARTTLS can be offered. */
  readonly tlsAvailable: boolean;
  /** COMPRESS=DEFLATE is active. */
  readonly compressed: boolean;
  /**
   * LOGIN / AUTHENTICATE: verifies the credentials (accounts), applies the per-alias session cap and moves to
   * authenticated. Throws (replyFor role 'auth') when refused. Logs by connection id only.
   */
  authenticate(username: string, password: string, method: 'LOGIN' | 'PLAIN'): Promise<void>;
  /**
   * IDLE (RFC 2177): sends `+ idling`, reports updates the moment they happen, and resolves with the client's
   * next line (normally DONE). Ends the connection with BYE when limits.idleTimeoutMs passes.
   */
  idle(): Promise<Buffer>;
}

export interface CommandContext {
  readonly session: Session;
  readonly tag: string;
  /** Upper-cased command name (without UID). */
  readonly name: string;
  /** Called as `UID <name>`. */
  readonly uid: boolean;
  readonly args: Cursor;
}

export interface CommandSpec {
  /** Upper-cased command name. */
  readonly name: string;
  /** States the command is valid in; in others it gets BAD (RFC 9051 §6). */
  readonly states: readonly SessionState[];
  /** Available as `UID <name>` (COPY, MOVE, FETCH, STORE, SEARCH, SORT, THREAD, EXPUNGE). */
  readonly uid?: boolean;
  /**
   * RFC 3501 §7.4.1 / RFC 9051 §7.5.1: EXPUNGE is not sent while responding to FETCH, STORE or SEARCH
   * (their UID forms may). Default true.
   */
  readonly expungeAllowed?: (uid: boolean) => boolean;
  /**
   * (engine addition) What a thrown store error is about: 'destination' turns NoSuchFolder into NO [TRYCREATE]
   * (COPY/MOVE/APPEND), 'auth' maps account errors; default 'folder' (errors.ts replyFor).
   */
  readonly role?: ErrorRole;
  /** (engine addition) CAPABILITY names this module implements (e.g. ['UIDPLUS']); advertised after login. */
  readonly capabilities?: readonly string[];
  /** Its literals are messages (APPEND, REPLACE): bounded by APPENDLIMIT, not by the command-line length. */
  readonly messageLiterals?: boolean;
  /** Runs the command; resolves to its completion (OK `<NAME> completed` when void). Throws map via replyFor. */
  run(ctx: CommandContext): Promise<Completion | void>;
}
