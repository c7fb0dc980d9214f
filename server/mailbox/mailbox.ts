// One unlocked mailbox file: the Mailbox verbs over SQL. Every write is one IMMEDIATE transaction
// with no await inside it (CPU work — parsing, compression, hashing — happens before it starts).
import { statSync } from 'node:fs';
import type { Statement } from 'better-sqlite3-multiple-ciphers';
import { compressSync, decompress, prepareParts, MAX_STORED_TEXT_BYTES, type Compression } from './codec.js';
import { readBodyBytes, readStoredBody, type BodySource } from './body-read.js';
import type { ReaderHandle, ReadRange } from './readers.js';
import { FolderExists, InvalidRequest, MailboxLocked, NoSuchFolder, NoSuchMessage, OverQuota, Retryable } from './errors.js';
import {
  applyFlags, checkSpecialUse, decodeKeywords, DELETED, encodeKeywords, flagList, normalizePath, parentsOf, parseFlags, sharedFlagLists,
} from './names.js';
import { canonicalBytes, headerEndOf, parseForStore, serializeStructureForStore, deserializeStructureFromStore } from './parse.js';
import { fdatasyncPath, GroupCommit, type GroupCommitStats } from './group-commit.js';
import { compileSearch, encodeSearchText, splitSearchText, storedIndexedText, uidSetSql } from './search.js';
import { derivedObjectId, newMailboxObjectId, objectIdPermutation } from './object-id.js';
import { SORT_COLUMNS } from './schema.js';
import { messageKeys, sentDateKey } from './sort-keys.js';
import { compileSort, onDemandSortIndex } from './sort.js';
import { buildThreads, threadInputSql, type ThreadRow } from './thread.js';
import { sieveStore, type SieveStore } from './sieve-store.js';
import type { Db } from './sqlite.js';
import type { CachedPrepare } from '../sqlite.js';
import type {
  AppendOptions, AppendResult, ChangeEntry, CopyResult, CreateFolderOptions, DeferredSyncMailbox, FolderInfo, FolderStatus, LiveFolderState, Mailbox, MailboxChangeEvent, MailboxId,
  HeaderedMessageMeta, JunkStatus, JunkTrainingCounts, MessageFlags, MessageMeta, UidFlagListing, MessageRecord, ThreadedMessageMeta, QuotaUsage, RenameFolderOptions, SearchQuery, SortKey, SpecialUse, StorageReport, StoreMode, StoreResult, ThreadAlgorithm, ThreadNode,
  UidSet,
} from './types.js';
import { stageStart, timeStage } from '../stages.js';
import { DEFAULT_JUNK_STORE_LIMITS, tokenize, trustedMxTokens, type JunkStoreLimits } from '../junk/index.js';
import { donePending, junkCounts, junkStatus, pendingTraining, pruneTokens, queueTraining, trainBody } from './junk.js';

/** The open SQLite connection of one mailbox file, shared by every Mailbox object handed out for it. */
export interface Handle {
  readonly id: MailboxId;
  readonly file: string;
  db: Db | null;
  lastUsed: number;
  /** Statements of `db`, each compiled once (statementCache); null while the handle is closed. */
  prepare: CachedPrepare | null;
  /**
   * Set by the store: throws MailboxLocked (after dropping the handle) when the file at `file` is no longer
   * the one this handle opened (replaced by another process). Always before a write, at most every few ms on reads.
   */
  checkFile?: (beforeWrite: boolean) => void;
  /** This connection's file in the reader threads (readers.ts), or null to read on the event loop only. */
  reader?: ReaderHandle | null;
}

export interface MailboxContext {
  readonly compression: Compression;
  readonly emit: (event: MailboxChangeEvent) => void;
  /** Caps of the junk classifier's training (tokens per message, bytes read, tokens kept). */
  readonly junkLimits?: JunkStoreLimits;
}

interface FolderRow {
  id: number;
  path: string;
  special_use: string | null;
  subscribed: number;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  message_count: number;
  unseen_count: number;
  total_size: number;
  /** Since schema v3. */
  noselect?: number;
  /** Since schema v4. */
  recent_from: number;
  deleted_count: number;
  object_id: string | null;
}

interface MessageRow {
  id: number;
  uid: number;
  modseq: number;
  sysflags: number;
  keywords: string;
  internal_date: string;
  size: number;
  body_id: number;
  save_date: string | null;
}

interface ThreadedRow extends MessageRow {
  message_id: string | null;
  thread_id: number;
}

const KIND_APPEND = 1;
const KIND_FLAGS = 2;
const KIND_EXPUNGE = 3;
const MAX_THREAD_REFS = 50;
/** Messages tokenized and trained per write transaction. */
const JUNK_TRAIN_BATCH = 50;

const folderInfo = (r: FolderRow): FolderInfo => ({
  path: r.path,
  specialUse: (r.special_use as SpecialUse | null) ?? null,
  subscribed: r.subscribed === 1,
  uidValidity: r.uid_validity,
  uidNext: r.uid_next,
  highestModseq: r.highest_modseq,
  ...(r.noselect ? { noselect: true } : {}),
  mailboxId: r.object_id ?? '',
});

// The messages table alone: SELECT, FETCH FLAGS and STORE over a whole folder read only its small rows.
const MESSAGE_COLUMNS = 'm.id, m.uid, m.modseq, m.sysflags, m.keywords, m.internal_date, m.size, m.body_id, m.save_date';
// SQL longer than this (a UID set of many ranges) is not kept among the prepared statements.
const QUERY_CACHE_MAX_SQL = 1024;
/** Bodies waiting for the trigram index that start a catch-up at once, and the most one catch-up commit adds. */
const SEARCH_INDEX_BATCH = 64;
const SEARCH_INDEX_MAX = 128;
/** A pause in appends this long starts a catch-up of whatever is waiting. */
const SEARCH_INDEX_IDLE_MS = 200;
// Columns of the body row: each is a page (or more) of the encrypted file, so only when asked for.
const THREAD_COLUMNS = 'b.message_id, b.thread_id';

// Transient SQLite conditions: busy beyond busy_timeout, disk full, I/O error. Nothing was committed.
const TRANSIENT = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_IOERR_WRITE', 'SQLITE_IOERR_FSYNC']);

function asRetryable(err: unknown): unknown {
  const code = typeof err === 'object' && err !== null ? String((err as { code?: unknown }).code) : '';
  // The v3 trigger: a message written into a \Noselect folder (see deleteFolder).
  if (code === 'SQLITE_CONSTRAINT_TRIGGER' && err instanceof Error && err.message.includes('noselect folder')) return new NoSuchFolder('The folder cannot hold messages (\\Noselect)');
  if (code === 'SQLITE_FULL') return new Retryable('Not enough disk space, try again later', true);
  return TRANSIENT.has(code) || code.startsWith('SQLITE_IOERR') ? new Retryable() : err;
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && String((err as { code?: unknown }).code).startsWith('SQLITE_CONSTRAINT');
}

export class SqliteMailbox implements Mailbox {
  constructor(
    private readonly handle: Handle,
    private readonly context: MailboxContext,
  ) {}

  get id(): MailboxId {
    return this.handle.id;
  }

  /** The Sieve verbs over this file's statements and transactions. */
  get sieve(): SieveStore {
    this.sieveVerbs ??= sieveStore({ stmt: (sql) => this.stmt(sql), write: (fn) => this.write(fn) });
    return this.sieveVerbs;
  }

  private sieveVerbs: SieveStore | null = null;

  private groupCommit: GroupCommit | null = null;
  /** Settles when the last append called so far has put its task in the commit queue (or failed). */
  private appendTurn: Promise<void> = Promise.resolve();
  /** Appends called but not yet handed to the commit queue (parsing, compressing, waiting for their turn). */
  private appendsPreparing = 0;
  /** Deferred-sync calls running now (their writes commit without an fsync). */
  private relaxedDepth = 0;
  /** Commits made without an fsync so far, and how many of them an fdatasync has since covered. */
  private relaxedCommits = 0;
  private syncedCommits = 0;
  /** The WAL fdatasync running now, and the relaxed commits it covers. */
  private walSync: { readonly through: number; readonly done: Promise<void> } | null = null;
  /** Runs of appends announced by expectAppends() and not yet ended. */
  private appendRuns = 0;
  /** Bodies stored since the trigram index last caught up, as far as this object has seen. */
  private unindexedBodies = 0;
  private searchIndexTimer: NodeJS.Timeout | null = null;
  /** The catch-up running now, if any. */
  private searchIndexRun: Promise<number> | null = null;

  /** The EMAILID/THREADID permutation of the open file (re-read when the handle's connection changes). */
  private objectIds: { db: Db; permute: (n: number) => number } | null = null;

  private permutation(): (n: number) => number {
    const db = this.db();
    if (this.objectIds?.db !== db) {
      const key = (this.stmt('SELECT object_key FROM mailbox_state').get() as { object_key: string | null }).object_key ?? '';
      this.objectIds = { db, permute: objectIdPermutation(key) };
    }
    return this.objectIds.permute;
  }

  private messageMeta(r: MessageRow, permute: (n: number) => number): MessageMeta {
    return {
      uid: r.uid,
      modseq: r.modseq,
      flags: flagList(r.sysflags, r.keywords),
      internalDate: new Date(r.internal_date),
      size: r.size,
      saveDate: r.save_date === null ? null : new Date(r.save_date),
      emailId: derivedObjectId('M', permute(r.body_id)),
    };
  }

  private threadedMeta(r: ThreadedRow, permute: (n: number) => number): ThreadedMessageMeta {
    return { ...this.messageMeta(r, permute), messageId: r.message_id, threadId: r.thread_id, threadObjectId: derivedObjectId('T', permute(r.thread_id)) };
  }

  /** Appends share transactions and fsyncs with the appends that arrive while a commit is in flight. */
  private get commits(): GroupCommit {
    this.groupCommit ??= new GroupCommit({
      db: () => this.db(true),
      walFile: `${this.handle.file}-wal`,
      mapError: asRetryable,
      moreComing: () => (this.appendsPreparing > 0 ? 'preparing' : this.appendRuns > 0 ? 'expected' : null),
    });
    return this.groupCommit;
  }

  /** Commits made without an fsync through deferred-sync views, and how many an fdatasync has covered since. */
  get syncStats(): { readonly relaxedCommits: number; readonly syncedCommits: number } {
    return { relaxedCommits: this.relaxedCommits, syncedCommits: this.syncedCommits };
  }

  /** Group-commit counters (tests, benchmarks). */
  get commitStats(): GroupCommitStats {
    return { ...this.commits.stats };
  }

  // ---- plumbing ----

  private db(beforeWrite = false): Db {
    const db = this.handle.db;
    if (!db) throw new MailboxLocked('Mailbox was closed; open it again');
    this.handle.checkFile?.(beforeWrite);
    this.handle.lastUsed = Date.now();
    return db;
  }

  private stmt(sql: string): Statement {
    const db = this.db();
    return this.handle.prepare ? this.handle.prepare(sql) : db.prepare(sql);
  }

  /**
   * A statement whose text depends on a UID set (one `BETWEEN` per range): cached like stmt() while the set has
   * few ranges (the usual 1:*, n:m, a page of a FETCH), prepared afresh otherwise so odd sets cannot grow the cache.
   */
  private query(sql: string): Statement {
    return sql.length <= QUERY_CACHE_MAX_SQL ? this.stmt(sql) : this.db().prepare(sql);
  }

  private write<T>(fn: () => T): T {
    const db = this.db(true);
    // Inside a deferred-sync view (deferredSync()) the commit skips its fsync; the view's caller waits for
    // durableThrough() before acknowledging. Everyone else gets synchronous=FULL: durable when this returns.
    const relaxed = this.relaxedDepth > 0 && !db.inTransaction;
    try {
      if (!relaxed) return db.transaction(fn).immediate();
      // Cached statements rather than db.pragma(), which prepares its statement on every call.
      this.stmt('PRAGMA synchronous = NORMAL').run();
      try {
        const value = db.transaction(fn).immediate();
        this.relaxedCommits++;
        return value;
      } finally {
        this.stmt('PRAGMA synchronous = FULL').run();
      }
    } catch (err) {
      throw asRetryable(err);
    }
  }

  /** Resolves once every relaxed commit up to number `mark` is on disk (one fdatasync covers all before it). */
  private async durableThrough(mark: number): Promise<void> {
    while (this.syncedCommits < mark) {
      const running = this.walSync;
      if (running) {
        // A sync that started after our commit covers it; an older one does not, but must end first.
        await (running.through >= mark ? running.done : running.done.catch(() => undefined));
        continue;
      }
      const through = this.relaxedCommits;
      const done = fdatasyncPath(`${this.handle.file}-wal`).then(
        () => {
          this.syncedCommits = Math.max(this.syncedCommits, through);
        },
      );
      const entry = { through, done };
      this.walSync = entry;
      void done.finally(() => {
        if (this.walSync === entry) this.walSync = null;
      }).catch(() => undefined);
      await done;
    }
  }

  deferredSync(): DeferredSyncMailbox {
    let mark = 0;
    const durable = (): Promise<void> => (mark > this.syncedCommits ? this.durableThrough(mark) : Promise.resolve());
    const calls = new Map<PropertyKey, (...args: unknown[]) => unknown>();
    return new Proxy(this, {
      get: (target, property) => {
        if (property === 'durable') return durable;
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        let call = calls.get(property);
        if (!call) {
          // The synchronous part of every call runs relaxed; a write after an await inside it is not (it commits with FULL).
          call = (...args: unknown[]): unknown => {
            const before = target.relaxedCommits;
            target.relaxedDepth++;
            try {
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            } finally {
              target.relaxedDepth--;
              if (target.relaxedCommits !== before) mark = target.relaxedCommits;
            }
          };
          calls.set(property, call);
        }
        return call;
      },
    }) as unknown as DeferredSyncMailbox;
  }

  private folder(path: string): FolderRow {
    const row = this.stmt('SELECT * FROM folders WHERE path = ?').get(normalizePath(path)) as FolderRow | undefined;
    if (!row) throw new NoSuchFolder();
    return row;
  }

  private nextModseq(): number {
    return (this.stmt('UPDATE mailbox_state SET modseq = modseq + 1 RETURNING modseq').get() as { modseq: number }).modseq;
  }

  private nextUidValidity(): number {
    const now = Math.floor(Date.now() / 1000);
    return (
      this.stmt('UPDATE mailbox_state SET last_uid_validity = max(last_uid_validity + 1, ?) RETURNING last_uid_validity').get(now) as {
        last_uid_validity: number;
      }
    ).last_uid_validity;
  }

  private touchFolder(folderId: number, modseq: number, uidNext?: number): void {
    if (uidNext === undefined) this.stmt('UPDATE folders SET highest_modseq = ? WHERE id = ?').run(modseq, folderId);
    else this.stmt('UPDATE folders SET highest_modseq = ?, uid_next = ? WHERE id = ?').run(modseq, uidNext, folderId);
  }

  private journal(folderId: number, modseq: number, kind: number, uid: number, sysflags?: number, keywords?: string): void {
    // Only the newest flags entry of a message matters to a resync; older ones are dropped to keep the journal small.
    if (kind !== KIND_APPEND) this.stmt('DELETE FROM changes WHERE folder_id = ? AND uid = ? AND kind = ?').run(folderId, uid, KIND_FLAGS);
    this.stmt('INSERT INTO changes (folder_id, modseq, kind, uid, sysflags, keywords) VALUES (?, ?, ?, ?, ?, ?)').run(
      folderId, modseq, kind, uid, sysflags ?? null, keywords ?? null,
    );
  }

  private emit(path: string, highestModseq: number): void {
    this.context.emit({ mailboxId: this.handle.id, folder: path, highestModseq });
  }

  private selectMessages(folderId: number, uids: UidSet | null, extra = ''): MessageRow[] {
    const params: unknown[] = [folderId];
    const where = uids ? uidSetSql(uids, params, folderId) : '1';
    return this.query(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.folder_id = ? AND ${where} ${extra} ORDER BY m.uid`).all(...params) as MessageRow[];
  }

  /** Message rows with their body's thread columns, plus `extra` columns of the body (e.g. `b.structure`). */
  private selectThreaded<Extra extends object = object>(folderId: number, uids: UidSet | null, extra = ''): (ThreadedRow & Extra)[] {
    const params: unknown[] = [folderId];
    const where = uids ? uidSetSql(uids, params, folderId) : '1';
    return this.query(
      `SELECT ${MESSAGE_COLUMNS}, ${THREAD_COLUMNS}${extra ? `, ${extra}` : ''} FROM messages m JOIN bodies b ON b.id = m.body_id WHERE m.folder_id = ? AND ${where} ORDER BY m.uid`,
    ).all(...params) as (ThreadedRow & Extra)[];
  }

  private assertQuota(extraBytes: number): void {
    const s = this.stmt('SELECT quota_bytes, used_bytes FROM mailbox_state').get() as { quota_bytes: number | null; used_bytes: number };
    if (s.quota_bytes !== null && s.used_bytes + extraBytes > s.quota_bytes) throw new OverQuota();
  }

  // ---- folders ----

  listFolders(): FolderInfo[] {
    return (this.stmt('SELECT * FROM folders ORDER BY path').all() as FolderRow[]).map(folderInfo);
  }

  status(path: string): FolderStatus {
    const r = this.folder(path);
    // \Recent is counted when read, once: only STATUS RECENT reads it, while FETCH, SEARCH and SELECT call status()
    // for UIDNEXT or HIGHESTMODSEQ, and the count walks every message from recent_from on (all of a folder no
    // session has selected: about 2 ms at 100,000 messages, on every one of those commands).
    let recent: number | undefined;
    const countRecent = (): number =>
      (recent ??= (this.stmt('SELECT count(*) AS n FROM messages WHERE folder_id = ? AND uid >= ?').get(r.id, r.recent_from) as { n: number }).n);
    return {
      ...folderInfo(r), messages: r.message_count, unseen: r.unseen_count, size: r.total_size, deleted: r.deleted_count,
      get recent(): number {
        return countRecent();
      },
    };
  }

  /**
   * Inserts a folder row. `subscribed` adds its name to the subscription list: the v5 trigger on folders records a
   * subscribed row's name there and marks the row subscribed whenever its name is listed.
   */
  private insertFolder(path: string, specialUse: SpecialUse | null, subscribed: boolean): FolderRow {
    const modseq = (this.stmt('SELECT modseq FROM mailbox_state').get() as { modseq: number }).modseq;
    this.stmt('INSERT INTO folders (path, special_use, uid_validity, highest_modseq, subscribed) VALUES (?, ?, ?, ?, ?)').run(
      path, specialUse, this.nextUidValidity(), modseq, subscribed ? 1 : 0,
    );
    return this.folder(path);
  }

  /** Adds a name to the subscription list (a no-op when it is there); triggers mark a folder of that name. */
  private addSubscription(path: string): void {
    this.stmt('INSERT OR IGNORE INTO subscriptions (path) VALUES (?)').run(path);
  }

  /** Creates the missing superior names of `path`, adding them to the subscription list when `subscribe`. */
  private ensureParents(path: string, subscribe: boolean): void {
    for (const parent of parentsOf(path)) {
      if (!this.stmt('SELECT 1 FROM folders WHERE path = ?').get(parent)) this.insertFolder(parent, null, subscribe);
    }
  }

  createFolder(path: string, specialUse?: SpecialUse | null, options: CreateFolderOptions = {}): FolderInfo {
    const normalized = normalizePath(path);
    const use = checkSpecialUse(specialUse);
    const subscribe = options.subscribe !== false;
    return this.write(() => {
      const existing = this.stmt('SELECT * FROM folders WHERE path = ?').get(normalized) as FolderRow | undefined;
      if (existing?.noselect) {
        // CREATE of a name left \Noselect by DELETE makes it a real folder again (new UIDVALIDITY).
        this.stmt(
          `UPDATE folders SET noselect = 0, special_use = ?, uid_validity = ?, uid_next = 1, recent_from = 1, object_id = ? WHERE id = ?`,
        ).run(use, this.nextUidValidity(), newMailboxObjectId(), existing.id);
        return folderInfo(this.folder(normalized));
      }
      if (existing) throw new FolderExists();
      this.ensureParents(normalized, subscribe);
      return folderInfo(this.insertFolder(normalized, use, subscribe));
    });
  }

  renameFolder(from: string, to: string, options: RenameFolderOptions = {}): void {
    const source = normalizePath(from);
    const target = normalizePath(to);
    const follow = options.keepSubscriptions !== true;
    // Renaming INBOX only moves its messages into a new folder, so that folder may be below INBOX (INBOX/old).
    if (target === source || (source !== 'INBOX' && target.startsWith(`${source}/`))) throw new InvalidRequest('cannot rename a folder into itself');
    const changed = this.write(() => {
      const src = this.folder(source);
      if (this.stmt('SELECT 1 FROM folders WHERE path = ?').get(target)) throw new FolderExists();
      this.ensureParents(target, follow);
      if (source === 'INBOX') {
        // RFC 3501: renaming INBOX moves its messages to a new folder and leaves INBOX (and its children) in place.
        const dst = this.insertFolder(target, null, follow);
        const rows = this.selectMessages(src.id, null);
        if (rows.length > 0) this.moveRows(src, dst, rows);
        return [source, target];
      }
      const moved = follow
        ? (this.stmt('SELECT path, subscribed FROM folders WHERE path = ? OR substr(path, 1, ?) = ?').all(
          source, source.length + 1, `${source}/`,
        ) as { path: string; subscribed: number }[])
        : [];
      try {
        this.stmt(
          `UPDATE folders SET path = ? || substr(path, ?) WHERE path = ? OR substr(path, 1, ?) = ?`,
        ).run(target, source.length + 1, source, source.length + 1, `${source}/`);
      } catch (err) {
        if (isUniqueViolation(err)) throw new FolderExists();
        throw err;
      }
      // Subscriptions follow the folders: each old name leaves the list, its new name is listed as the old one was.
      for (const folder of moved) {
        const renamed = target + folder.path.slice(source.length);
        this.stmt('DELETE FROM subscriptions WHERE path = ?').run(folder.path);
        if (folder.subscribed) this.addSubscription(renamed);
        else this.stmt('DELETE FROM subscriptions WHERE path = ?').run(renamed);
      }
      return [target];
    });
    for (const path of changed) this.emit(path, this.folder(path).highest_modseq);
  }

  deleteFolder(path: string): void {
    const normalized = normalizePath(path);
    if (normalized === 'INBOX') throw new InvalidRequest('INBOX cannot be deleted');
    const emptied = this.write((): number => {
      const f = this.folder(normalized);
      if (this.stmt('SELECT 1 FROM folders WHERE substr(path, 1, ?) = ? LIMIT 1').get(normalized.length + 1, `${normalized}/`)) {
        // RFC 3501 DELETE with inferior names: remove its messages, keep the name as \Noselect.
        if (f.noselect) throw new InvalidRequest('Folder is already \\Noselect and has child folders; delete them first');
        const rows = this.selectMessages(f.id, null);
        const modseq = this.nextModseq();
        this.deleteRows(f, rows, modseq);
        this.stmt('UPDATE folders SET noselect = 1, special_use = NULL WHERE id = ?').run(f.id);
        this.stmt('DELETE FROM delivered WHERE folder_id = ?').run(f.id);
        return modseq;
      }
      // Cascades: messages → bodies (when unreferenced) → parts → attachments; journal rows.
      this.stmt('DELETE FROM folders WHERE id = ?').run(f.id);
      this.stmt('DELETE FROM delivered WHERE folder_id = ?').run(f.id);
      return 0;
    });
    if (emptied > 0) this.emit(normalized, emptied);
  }

  subscribe(path: string, subscribed: boolean): void {
    const normalized = normalizePath(path);
    this.write(() => {
      const exists = this.stmt('SELECT 1 FROM folders WHERE path = ?').get(normalized) !== undefined;
      const listed = this.stmt('SELECT 1 FROM subscriptions WHERE path = ?').get(normalized) !== undefined;
      // A name the list keeps after its folder went can still be removed (and re-added, a no-op).
      if (!exists && !listed) throw new NoSuchFolder();
      if (subscribed) this.addSubscription(normalized);
      else this.stmt('DELETE FROM subscriptions WHERE path = ?').run(normalized);
    });
  }

  listSubscriptions(): string[] {
    return this.stmt('SELECT path FROM subscriptions ORDER BY path').pluck().all() as string[];
  }

  // ---- messages ----

  append(folder: string, raw: Buffer, options: AppendOptions = {}): Promise<AppendResult> {
    return timeStage(stageStart('mailbox.append'), this.appendMessage(folder, raw, options, null));
  }

  expectAppends(): () => void {
    this.appendRuns++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.appendRuns--;
      this.groupCommit?.nudge();
    };
  }

  /** append() that records `dedupeKey`; a second call with the same key returns the first result and stores nothing. */
  appendOnce(folder: string, raw: Buffer, options: AppendOptions & { readonly dedupeKey: string }): Promise<AppendResult> {
    if (typeof options.dedupeKey !== 'string' || options.dedupeKey.length === 0 || options.dedupeKey.length > 256) {
      throw new InvalidRequest('bad dedupe key');
    }
    return timeStage(stageStart('mailbox.append'), this.appendMessage(folder, raw, options, options.dedupeKey));
  }

  /**
   * Appends commit in the order they were called, whatever order their CPU work finishes in (a large message
   * parses on a worker and compresses on the thread pool, a small one here at once): a queue drain's messages get UIDs in arrival order, pipelined
   * APPENDs in command order. Each append takes its turn now and hands it on once its task is in the commit queue.
   */
  private appendMessage(folder: string, received: Buffer, options: AppendOptions, dedupeKey: string | null): Promise<AppendResult> {
    const prior = this.appendTurn;
    let release!: () => void;
    this.appendTurn = new Promise<void>((resolve) => (release = resolve));
    this.appendsPreparing++;
    let handedOn = false;
    const handOn = (): void => {
      if (handedOn) return;
      handedOn = true;
      this.appendsPreparing--;
      release();
      if (this.appendsPreparing === 0 && this.appendRuns === 0) this.groupCommit?.nudge();
    };
    const stored = this.storeMessage(folder, received, options, dedupeKey, { prior, release: handOn });
    void stored.then(handOn, handOn);
    return stored;
  }

  private async storeMessage(
    folder: string,
    received: Buffer,
    options: AppendOptions,
    dedupeKey: string | null,
    turn: { readonly prior: Promise<void>; readonly release: () => void },
  ): Promise<AppendResult> {
    if (!Buffer.isBuffer(received) || received.length === 0) throw new InvalidRequest('empty message');
    const raw = canonicalBytes(received);
    const path = normalizePath(folder);
    const flags = parseFlags(options.flags ?? []);
    const internalDate = options.internalDate ?? new Date();
    if (!(internalDate instanceof Date) || Number.isNaN(internalDate.getTime())) throw new InvalidRequest('bad internal date');
    if (dedupeKey !== null) {
      const done = this.deliveredResult(dedupeKey);
      if (done) return done;
    }
    this.folder(path); // fail fast, before parsing
    this.assertQuota(raw.length);

    const parsed = await parseForStore(raw);
    const method = this.context.compression;
    const parts = await timeStage(stageStart('mailbox.append.compress'), prepareParts(raw, parsed.attachmentRanges, method));
    const searchText = encodeSearchText(parsed.search);
    // SEARCH decodes these blobs on every candidate row: the fastest decoder, whatever the body setting.
    const textMethod = method === 'none' ? 'none' : 'lz4';
    const { head: searchHead, body: searchBody } = splitSearchText(searchText);
    const structure = compressSync(serializeStructureForStore(parsed.structure), method);
    const headBlob = compressSync(Buffer.from(JSON.stringify(searchHead)), textMethod);
    const bodyBlob = compressSync(Buffer.from(searchBody), textMethod);
    const keys = messageKeys(raw); // reads the header block only
    const saveDate = new Date().toISOString();
    const threadKeys = [parsed.messageId, parsed.inReplyTo, ...parsed.references]
      .filter((k): k is string => typeof k === 'string' && k.length > 0 && k.length <= 998)
      .slice(0, MAX_THREAD_REFS);

    // Runs inside a group-commit batch (its own savepoint); resolves after the batch's fsync.
    await turn.prior;
    const stopCommit = stageStart('mailbox.append.commit');
    const committed = this.commits.submit((): AppendResult & { highestModseq: number } => {
      if (dedupeKey !== null) {
        const done = this.deliveredResult(dedupeKey);
        if (done) return { ...done, highestModseq: 0 };
      }
      const f = this.folder(path);
      this.assertQuota(raw.length);
      const modseq = this.nextModseq();
      const threadId = this.threadFor(threadKeys);
      const bodyId = Number(
        this.stmt(
          'INSERT INTO bodies (size, header_date, message_id, thread_id, search_head, structure, search_body, header_end) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        ).run(raw.length, parsed.date ? parsed.date.toISOString() : null, parsed.messageId, threadId, headBlob, structure, bodyBlob, headerEndOf(parsed)).lastInsertRowid,
      );
      for (const part of parts) {
        if (part.kind === 'inline') {
          this.stmt('INSERT INTO body_parts (body_id, raw_start, raw_len, data) VALUES (?, ?, ?, ?)').run(bodyId, part.rawStart, part.rawLen, part.data);
          continue;
        }
        let attachment = this.stmt('SELECT id FROM attachments WHERE sha256 = ?').get(part.sha256) as { id: number } | undefined;
        if (!attachment) {
          const id = Number(this.stmt('INSERT INTO attachments (sha256, size) VALUES (?, ?)').run(part.sha256, part.rawLen).lastInsertRowid);
          part.chunks.forEach((data, seq) => this.stmt('INSERT INTO attachment_chunks (attachment_id, seq, data) VALUES (?, ?, ?)').run(id, seq, data));
          attachment = { id };
        }
        this.stmt('INSERT INTO body_parts (body_id, raw_start, raw_len, attachment_id) VALUES (?, ?, ?, ?)').run(
          bodyId, part.rawStart, part.rawLen, attachment.id,
        );
      }
      this.stmt('INSERT INTO thread_keys (body_id, message_id, refs, reply) VALUES (?, ?, ?, ?)').run(
        bodyId, keys.messageId, keys.refs, keys.replyOrForward ? 1 : 0,
      );
      const uid = f.uid_next;
      const arrival = internalDate.toISOString();
      this.stmt(
        `INSERT INTO messages (folder_id, uid, modseq, sysflags, keywords, internal_date, size, body_id, save_date,
           sort_subject, sort_date, sort_from, sort_to, sort_cc, sort_dfrom, sort_dto) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        f.id, uid, modseq, flags.bits, encodeKeywords(flags.keywords), arrival, raw.length, bodyId, saveDate,
        keys.subject, sentDateKey(parsed.date ? parsed.date.toISOString() : null, arrival), keys.from, keys.to, keys.cc, keys.displayFrom, keys.displayTo,
      );
      this.journal(f.id, modseq, KIND_APPEND, uid);
      this.touchFolder(f.id, modseq, uid + 1);
      if (dedupeKey !== null) {
        this.stmt('INSERT INTO delivered (dedupe_key, folder_id, uid, uid_validity, modseq) VALUES (?, ?, ?, ?, ?)').run(
          dedupeKey, f.id, uid, f.uid_validity, modseq,
        );
      }
      return { uid, uidValidity: f.uid_validity, modseq, highestModseq: modseq };
    });
    turn.release();
    const result = await committed;
    stopCommit();
    if (result.highestModseq > 0) {
      this.emit(path, result.highestModseq);
      this.searchBacklogGrew();
    }
    return { uid: result.uid, uidValidity: result.uidValidity, modseq: result.modseq };
  }

  private deliveredResult(dedupeKey: string): AppendResult | null {
    const row = this.stmt('SELECT uid, uid_validity, modseq FROM delivered WHERE dedupe_key = ?').get(dedupeKey) as
      | { uid: number; uid_validity: number; modseq: number }
      | undefined;
    return row ? { uid: row.uid, uidValidity: row.uid_validity, modseq: row.modseq } : null;
  }

  /** Thread of a new message: the thread of any message it references or that referenced it, else a new one. */
  private threadFor(keys: readonly string[]): number {
    let threadId: number | null = null;
    for (const key of keys) {
      const row = this.stmt('SELECT thread_id FROM thread_refs WHERE message_id = ?').get(key) as { thread_id: number } | undefined;
      if (row && (threadId === null || row.thread_id < threadId)) threadId = row.thread_id;
    }
    if (threadId === null) {
      threadId = (this.stmt('UPDATE mailbox_state SET last_thread_id = last_thread_id + 1 RETURNING last_thread_id').get() as {
        last_thread_id: number;
      }).last_thread_id;
    }
    for (const key of keys) this.stmt('INSERT OR IGNORE INTO thread_refs (message_id, thread_id) VALUES (?, ?)').run(key, threadId);
    return threadId;
  }

  listFlags(folder: string, uids?: UidSet): MessageFlags[] {
    const id = this.folder(folder).id;
    const params: unknown[] = [id];
    const where = uids ? uidSetSql(uids, params, id) : '1';
    // Rows as arrays (no object per row from the driver); the statement's SQL is used by nothing else, so
    // switching the cached statement to raw mode affects only this method.
    const rows = this.query(`SELECT m.uid, m.modseq, m.sysflags, m.keywords, m.size FROM messages m WHERE m.folder_id = ? AND ${where} ORDER BY m.uid`)
      .raw(true)
      .all(...params) as [number, number, number, string, number][];
    const flagsOf = sharedFlagLists();
    const out: MessageFlags[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [uid, modseq, sysflags, keywords, size] = rows[i]!;
      out[i] = { uid, modseq, flags: flagsOf(sysflags, keywords), size };
    }
    return out;
  }

  /**
   * An append added a body the trigram index does not hold yet. Indexing each body in its own append's commit
   * cost more than all other inserts of the append together (FTS5 flushes a segment per commit, about 1.9 ms a
   * message one at a time, 0.5 ms in batches), so bodies are indexed in batches: once SEARCH_INDEX_BATCH are
   * waiting, or when appends pause for SEARCH_INDEX_IDLE_MS. Until then SEARCH tests them without the index.
   */
  private searchBacklogGrew(): void {
    this.unindexedBodies++;
    if (this.unindexedBodies >= SEARCH_INDEX_BATCH && !this.searchIndexRun) {
      void this.indexSearchBacklog();
      return;
    }
    // Also while a catch-up runs: it may finish before reaching the bodies stored meanwhile.
    if (this.searchIndexTimer) {
      this.searchIndexTimer.refresh();
      return;
    }
    this.searchIndexTimer = setTimeout(() => {
      this.searchIndexTimer = null;
      void this.indexSearchBacklog();
    }, SEARCH_INDEX_IDLE_MS);
    this.searchIndexTimer.unref();
  }

  /**
   * Adds every body stored since the last catch-up to the trigram index, SEARCH_INDEX_MAX per commit; resolves
   * with how many it added. Called while a catch-up runs, it waits for that one and then catches up what is
   * left. A failure leaves the bodies for the next catch-up (SEARCH still finds them meanwhile).
   */
  indexSearchBacklog(): Promise<number> {
    const running = this.searchIndexRun;
    if (running) return running.then(() => this.indexSearchBacklog());
    const run = this.catchUpSearchIndex().finally(() => {
      if (this.searchIndexRun === run) this.searchIndexRun = null;
    });
    this.searchIndexRun = run;
    return run;
  }

  private async catchUpSearchIndex(): Promise<number> {
    this.unindexedBodies = 0;
    if (this.searchIndexTimer) {
      clearTimeout(this.searchIndexTimer);
      this.searchIndexTimer = null;
    }
    let added = 0;
    try {
      for (;;) {
        if (!this.handle.db) return added;
        const batch = await this.commits.submit(() => this.indexSearchBatch(SEARCH_INDEX_MAX));
        added += batch;
        if (batch < SEARCH_INDEX_MAX) return added;
      }
    } catch {
      return added;
    }
  }

  /** One catch-up step inside a write transaction: up to `limit` bodies newer than the index, oldest first. */
  private indexSearchBatch(limit: number): number {
    const through = (this.stmt('SELECT indexed_through FROM search_progress').get() as { indexed_through: number }).indexed_through;
    const rows = this.stmt('SELECT id, search_head, search_body FROM bodies WHERE id > ? ORDER BY id LIMIT ?').all(through, limit) as {
      id: number;
      search_head: Buffer;
      search_body: Buffer;
    }[];
    if (rows.length === 0) return 0;
    const insert = this.stmt('INSERT INTO search_index (rowid, text) VALUES (?, ?)');
    for (const row of rows) insert.run(row.id, storedIndexedText(row.search_head, row.search_body));
    // Ids between `through` and the last row that have no row any more were bodies deleted before their turn.
    this.stmt('UPDATE search_progress SET indexed_through = ?').run(rows[rows.length - 1]!.id);
    return rows.length;
  }

  listUidFlags(folder: string): UidFlagListing {
    const id = this.folder(folder).id;
    // One row for the whole folder: the UIDs as decimal text, the system flags as one character each (48 + bits,
    // so "0" is none and "1" is \Seen), and "<uid> <keywords>" lines for the messages that have keywords (stored
    // as " kw1 kw2 "; keywords are atoms, which hold neither space nor line feed). Row objects from the driver
    // cost about 1.5 µs a message; splitting these strings costs a tenth of that.
    const [uidText, bitText, keywordText] = this.query(
      `SELECT group_concat(uid), group_concat(char(48 + sysflags), ''),
         group_concat(CASE WHEN keywords != '' THEN uid || keywords END, char(10))
       FROM (SELECT uid, sysflags, keywords FROM messages WHERE folder_id = ? ORDER BY uid)`,
    )
      .raw(true)
      .get(id) as [string | null, string | null, string | null];
    const uids = parseUidList(uidText ?? '');
    if (bitText === null || bitText.length !== uids.length) {
      // Not one BMP character per message: flag bits outside what the encoding carries. The general path.
      const rows = this.listFlags(folder);
      return { uids: rows.map((r) => r.uid), flags: rows.map((r) => r.flags) };
    }
    const keywordsByUid = new Map<number, string>();
    if (keywordText !== null) {
      for (const line of keywordText.split('\n')) {
        const space = line.indexOf(' ');
        keywordsByUid.set(Number(line.slice(0, space)), line.slice(space));
      }
    }
    const flagsOf = sharedFlagLists();
    const flags: (readonly string[])[] = new Array(uids.length);
    for (let i = 0; i < uids.length; i++) {
      const keywords = keywordsByUid.size === 0 ? '' : (keywordsByUid.get(uids[i]!) ?? '');
      flags[i] = flagsOf(bitText.charCodeAt(i) - 48, keywords);
    }
    return { uids, flags };
  }

  listMessages(folder: string, uids?: UidSet): MessageMeta[];
  listMessages(folder: string, uids: UidSet | undefined, options: { readonly thread: true }): ThreadedMessageMeta[];
  listMessages(folder: string, uids?: UidSet, options?: { readonly thread: true }): MessageMeta[] {
    const permute = this.permutation();
    const id = this.folder(folder).id;
    if (options?.thread) return this.selectThreaded(id, uids ?? null).map((r) => this.threadedMeta(r, permute));
    return timeStage(stageStart('mailbox.list'), this.selectMessages(id, uids ?? null).map((r) => this.messageMeta(r, permute)));
  }

  listHeaders(folder: string, uids: UidSet): HeaderedMessageMeta[] {
    const rows = this.selectThreaded<{ header_end: number | null }>(this.folder(folder).id, uids, 'b.header_end');
    const permute = this.permutation();
    return rows.map((r) => ({ ...this.threadedMeta(r, permute), headerEnd: r.header_end }));
  }

  fetch(folder: string, uids: UidSet): MessageRecord[] {
    const rows = this.selectThreaded<{ structure: Buffer }>(this.folder(folder).id, uids, 'b.structure');
    const permute = this.permutation();
    return timeStage(stageStart('mailbox.fetch.decode'), rows.map((r) => ({ ...this.threadedMeta(r, permute), structure: deserializeStructureFromStore(decompress(r.structure, MAX_STORED_TEXT_BYTES)) })));
  }

  async readMessage(folder: string, uid: number): Promise<Buffer> {
    return timeStage(stageStart('mailbox.read-body'), this.readBytes(folder, uid, 0, Number.MAX_SAFE_INTEGER));
  }

  async readRange(folder: string, uid: number, start: number, end: number): Promise<Buffer> {
    return timeStage(stageStart('mailbox.read-range'), this.readBytes(folder, uid, start, end));
  }

  async readMany(folder: string, ranges: readonly ReadRange[]): Promise<(Buffer | null)[]> {
    const path = normalizePath(folder);
    this.db(); // MailboxLocked once closed
    const reader = this.handle.reader;
    if (reader && ranges.length) {
      try {
        return await timeStage(stageStart('mailbox.read-many'), reader.read(path, ranges));
      } catch {
        // The thread could not answer (stopped, file replaced or unreadable there): read here, where every
        // error is the store's own. A replaced file trips checkFile in db() below.
      }
    }
    this.db();
    return ranges.map((r) => readBodyBytes(this.bodySource, path, r.uid, r.start, r.end));
  }

  /** Bytes [start, end) of a message, clamped to its size (server/mailbox/body-read.ts). */
  private readBytes(folder: string, uid: number, start: number, end: number): Buffer {
    const bytes = readBodyBytes(this.bodySource, normalizePath(folder), uid, start, end);
    if (bytes !== null) return bytes;
    this.folder(folder); // NoSuchFolder when that is what is missing
    throw new NoSuchMessage();
  }

  /** This connection as body-read.ts reads it. */
  private readonly bodySource: BodySource = {
    stmt: (sql) => this.stmt(sql),
    snapshot: (fn) => this.db().transaction(fn).deferred(),
  };

  store(folder: string, uids: UidSet, mode: StoreMode, flags: readonly string[], unchangedSince?: number): StoreResult {
    if (mode !== 'add' && mode !== 'remove' && mode !== 'replace') throw new InvalidRequest('bad store mode');
    const change = parseFlags(flags);
    const path = normalizePath(folder);
    const result = this.write(() => {
      const f = this.folder(path);
      const updated: { uid: number; flags: string[]; modseq: number }[] = [];
      const modified: number[] = [];
      let modseq = 0;
      for (const row of this.selectMessages(f.id, uids)) {
        if (unchangedSince !== undefined && row.modseq > unchangedSince) {
          modified.push(row.uid);
          continue;
        }
        const next = applyFlags(row.sysflags, decodeKeywords(row.keywords), mode, change);
        const keywords = encodeKeywords(next.keywords);
        if (next.bits === row.sysflags && keywords === row.keywords) continue;
        if (modseq === 0) modseq = this.nextModseq();
        this.stmt('UPDATE messages SET sysflags = ?, keywords = ?, modseq = ? WHERE id = ?').run(next.bits, keywords, modseq, row.id);
        this.journal(f.id, modseq, KIND_FLAGS, row.uid, next.bits, keywords);
        updated.push({ uid: row.uid, flags: flagList(next.bits, keywords), modseq });
      }
      if (modseq > 0) this.touchFolder(f.id, modseq);
      return { updated, modified, modseq };
    });
    if (result.modseq > 0) this.emit(path, result.modseq);
    return { updated: result.updated, modified: result.modified };
  }

  /** Inserts copies of rows into dst (same body, flags, internal date); returns [src uid, dst uid] pairs. */
  private copyRows(dst: FolderRow, rows: readonly MessageRow[], modseq: number): [number, number][] {
    let uid = dst.uid_next;
    const mapping: [number, number][] = [];
    // RFC 8514: a copy (or moved message) is saved now; its sort keys are the source's (same bytes).
    const saveDate = new Date().toISOString();
    for (const row of rows) {
      this.stmt(
        `INSERT INTO messages (folder_id, uid, modseq, sysflags, keywords, internal_date, size, body_id, save_date, ${SORT_COLUMNS.join(', ')})
         SELECT ?, ?, ?, sysflags, keywords, internal_date, size, body_id, ?, ${SORT_COLUMNS.join(', ')} FROM messages WHERE id = ?`,
      ).run(dst.id, uid, modseq, saveDate, row.id);
      this.journal(dst.id, modseq, KIND_APPEND, uid);
      mapping.push([row.uid, uid]);
      uid++;
    }
    this.touchFolder(dst.id, modseq, uid);
    return mapping;
  }

  private deleteRows(src: FolderRow, rows: readonly MessageRow[], modseq: number): void {
    for (const row of rows) {
      this.stmt('DELETE FROM messages WHERE id = ?').run(row.id);
      this.stmt('DELETE FROM changes WHERE folder_id = ? AND uid = ? AND kind = ?').run(src.id, row.uid, KIND_APPEND);
      this.journal(src.id, modseq, KIND_EXPUNGE, row.uid);
    }
    this.touchFolder(src.id, modseq);
  }

  private moveRows(src: FolderRow, dst: FolderRow, rows: readonly MessageRow[]): [number, number][] {
    const modseq = this.nextModseq();
    const mapping = this.copyRows(dst, rows, modseq);
    this.deleteRows(src, rows, modseq);
    return mapping;
  }

  copy(folder: string, uids: UidSet, target: string): CopyResult {
    const srcPath = normalizePath(folder);
    const dstPath = normalizePath(target);
    const result = this.write(() => {
      const src = this.folder(srcPath);
      const dst = this.folder(dstPath);
      const rows = this.selectMessages(src.id, uids);
      if (rows.length === 0) return { uidValidity: dst.uid_validity, mapping: [], modseq: 0 };
      this.assertQuota(rows.reduce((n, r) => n + r.size, 0));
      const modseq = this.nextModseq();
      this.queueJunkTraining(src, dst, rows);
      return { uidValidity: dst.uid_validity, mapping: this.copyRows(dst, rows, modseq), modseq };
    });
    if (result.modseq > 0) {
      this.emit(dstPath, result.modseq);
      this.scheduleJunkTraining();
    }
    return { uidValidity: result.uidValidity, mapping: result.mapping };
  }

  move(folder: string, uids: UidSet, target: string): CopyResult {
    const srcPath = normalizePath(folder);
    const dstPath = normalizePath(target);
    const result = this.write(() => {
      const src = this.folder(srcPath);
      const dst = this.folder(dstPath);
      const rows = this.selectMessages(src.id, uids);
      if (rows.length === 0) return { uidValidity: dst.uid_validity, mapping: [] as [number, number][], moved: false };
      // Moving within one file never changes usage, so no quota check (a full mailbox can still clean up).
      this.queueJunkTraining(src, dst, rows);
      return { uidValidity: dst.uid_validity, mapping: this.moveRows(src, dst, rows), moved: true };
    });
    if (result.moved) {
      this.scheduleJunkTraining();
      this.emit(dstPath, this.folder(dstPath).highest_modseq);
      this.emit(srcPath, this.folder(srcPath).highest_modseq);
    }
    return { uidValidity: result.uidValidity, mapping: result.mapping };
  }

  expunge(folder: string, uids?: UidSet): number[] {
    const path = normalizePath(folder);
    const result = this.write(() => {
      const f = this.folder(path);
      const rows = this.selectMessages(f.id, uids ?? null, `AND (m.sysflags & ${DELETED}) != 0`);
      if (rows.length === 0) return { uids: [] as number[], modseq: 0 };
      const modseq = this.nextModseq();
      this.deleteRows(f, rows, modseq);
      return { uids: rows.map((r) => r.uid), modseq };
    });
    if (result.modseq > 0) this.emit(path, result.modseq);
    return result.uids;
  }

  search(folder: string, query: SearchQuery): number[] {
    const f = this.folder(folder);
    const compiled = compileSearch(f.id, query);
    return (this.db().prepare(compiled.sql).pluck().all(...compiled.params) as number[]);
  }

  sort(folder: string, keys: readonly SortKey[], query: SearchQuery): number[] {
    const f = this.folder(folder);
    const compiled = compileSort(f.id, keys, query);
    this.ensureSortIndex(keys);
    return this.db().prepare(compiled.sql).pluck().all(...compiled.params) as number[];
  }

  /**
   * Builds the index a SORT by `keys` scans when the file does not have it yet (schema.ts ON_DEMAND_SORT_INDEXES):
   * once per key and file, in a write of its own. Building it reads every message of the file once (165–265 ms at
   * 100,000 messages, see docs/mailbox-store.md). A file that cannot be written now
   * (another writer past the busy timeout) is sorted without the index and gets it at a later SORT.
   */
  private ensureSortIndex(keys: readonly SortKey[]): void {
    const index = onDemandSortIndex(keys);
    if (!index || this.stmt("SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = ?").get(index.name)) return;
    try {
      this.write(() => this.db().exec(index.createSql));
    } catch (error) {
      if (!(error instanceof Retryable)) throw error;
    }
  }

  thread(folder: string, algorithm: ThreadAlgorithm, query: SearchQuery): ThreadNode[] {
    const f = this.folder(folder);
    const compiled = threadInputSql(f.id, query, algorithm);
    const rows = this.db().prepare(compiled.sql).raw().all(...compiled.params) as ThreadRow[];
    return buildThreads(algorithm, rows);
  }

  claimRecent(folder: string): { from: number; to: number } {
    const path = normalizePath(folder);
    // Nothing arrived since the last claim (a client re-selecting a quiet folder): no write transaction, so no
    // commit for a deferred-sync session to wait an fdatasync for. A message that arrives after this read is
    // left to the next claim, exactly as if the write below had run first.
    const known = this.folder(path);
    if (known.recent_from >= known.uid_next) return { from: known.uid_next, to: known.uid_next };
    return this.write(() => {
      const f = this.folder(path);
      if (f.recent_from < f.uid_next) this.stmt('UPDATE folders SET recent_from = uid_next WHERE id = ?').run(f.id);
      return { from: Math.min(f.recent_from, f.uid_next), to: f.uid_next };
    });
  }

  recentFrom(folder: string): number {
    return this.folder(folder).recent_from;
  }

  changesSince(folder: string, since: number): ChangeEntry[] {
    const f = this.folder(folder);
    const rows = this.stmt(
      'SELECT kind, uid, modseq, sysflags, keywords FROM changes WHERE folder_id = ? AND modseq > ? ORDER BY modseq, id',
    ).all(f.id, since) as { kind: number; uid: number; modseq: number; sysflags: number | null; keywords: string | null }[];
    return rows.map((r): ChangeEntry => {
      if (r.kind === KIND_FLAGS) return { kind: 'flags', uid: r.uid, modseq: r.modseq, flags: flagList(r.sysflags ?? 0, r.keywords ?? '') };
      if (r.kind === KIND_EXPUNGE) return { kind: 'expunge', uid: r.uid, modseq: r.modseq };
      return { kind: 'append', uid: r.uid, modseq: r.modseq };
    });
  }

  quota(): QuotaUsage {
    const s = this.stmt('SELECT quota_bytes, used_bytes, message_count FROM mailbox_state').get() as {
      quota_bytes: number | null;
      used_bytes: number;
      message_count: number;
    };
    return { usedBytes: s.used_bytes, limitBytes: s.quota_bytes, messages: s.message_count };
  }

  /** Sets the quota limit in the file (MailboxStore.setQuota calls this). */
  setQuota(quotaBytes: number | null): void {
    if (quotaBytes !== null && !(Number.isSafeInteger(quotaBytes) && quotaBytes >= 0)) throw new InvalidRequest('bad quota');
    this.write(() => this.stmt('UPDATE mailbox_state SET quota_bytes = ?').run(quotaBytes));
  }

  reissueUidValidity(above: number, keep: readonly string[] = []): FolderInfo[] {
    if (!Number.isSafeInteger(above) || above < 0) throw new InvalidRequest('bad UIDVALIDITY');
    const kept = new Set(keep.map((p) => normalizePath(p)));
    // Meant for a file no session has open (a staged restore), so no change event: sessions would not expect one.
    return this.write(() => {
      // nextUidValidity() returns more than last_uid_validity: raising it first puts every new value above `above`.
      this.stmt('UPDATE mailbox_state SET last_uid_validity = max(last_uid_validity, ?)').run(above);
      for (const f of this.stmt('SELECT * FROM folders ORDER BY path').all() as FolderRow[]) {
        if (kept.has(f.path)) continue;
        const uidValidity = this.nextUidValidity();
        this.stmt('UPDATE folders SET uid_validity = ? WHERE id = ?').run(uidValidity, f.id);
        // A re-drain of an already delivered queue item reports where the message is now.
        this.stmt('UPDATE delivered SET uid_validity = ? WHERE folder_id = ?').run(uidValidity, f.id);
      }
      return (this.stmt('SELECT * FROM folders ORDER BY path').all() as FolderRow[]).map(folderInfo);
    });
  }

  renumberAbove(folder: string, live: LiveFolderState, modseqAbove: number): FolderInfo {
    if (!Number.isSafeInteger(live.uidNext) || live.uidNext < 1 || !Number.isSafeInteger(modseqAbove) || modseqAbove < 0) {
      throw new InvalidRequest('bad live folder state');
    }
    const path = normalizePath(folder);
    // Meant for a file no session has open (a staged restore), so no change event.
    return this.write(() => {
      const f = this.folder(path);
      this.stmt('UPDATE mailbox_state SET modseq = max(modseq, ?)').run(modseqAbove);
      const modseq = this.nextModseq();
      let uidNext = Math.max(f.uid_next, live.uidNext);
      const held = new Set<number>();
      for (const row of this.selectMessages(f.id, null)) {
        held.add(row.uid);
        const now = live.messages.get(row.uid);
        if (now === undefined) {
          // Expunged from the live folder since: it comes back as a new message, above every UID handed out.
          const uid = uidNext++;
          this.stmt('UPDATE messages SET uid = ?, modseq = ? WHERE id = ?').run(uid, modseq, row.id);
          this.stmt('DELETE FROM changes WHERE folder_id = ? AND uid = ? AND kind = ?').run(f.id, row.uid, KIND_APPEND);
          this.journal(f.id, modseq, KIND_EXPUNGE, row.uid);
          this.journal(f.id, modseq, KIND_APPEND, uid);
          this.stmt('UPDATE delivered SET uid = ?, modseq = ? WHERE folder_id = ? AND uid = ?').run(uid, modseq, f.id, row.uid);
          continue;
        }
        const flags = flagList(row.sysflags, row.keywords).sort();
        const liveFlags = [...now.flags].sort();
        if (flags.length !== liveFlags.length || flags.some((flag, i) => flag !== liveFlags[i])) {
          // Clients hold the live flags at a MODSEQ up to modseqAbove: a higher one makes CONDSTORE resyncs fetch these.
          this.stmt('UPDATE messages SET modseq = ? WHERE id = ?').run(modseq, row.id);
          this.journal(f.id, modseq, KIND_FLAGS, row.uid, row.sysflags, row.keywords);
        }
      }
      // Messages the live folder holds that the restored one does not: gone, as an expunge (QRESYNC VANISHED).
      for (const uid of live.messages.keys()) {
        if (held.has(uid)) continue;
        this.stmt('DELETE FROM changes WHERE folder_id = ? AND uid = ? AND kind = ?').run(f.id, uid, KIND_APPEND);
        this.journal(f.id, modseq, KIND_EXPUNGE, uid);
      }
      this.touchFolder(f.id, modseq, uidNext);
      return folderInfo(this.folder(path));
    });
  }

  // ---- junk classifier (counts inside this file; scoring and tokens in server/junk) ----

  private get junkLimits(): JunkStoreLimits {
    return this.context.junkLimits ?? DEFAULT_JUNK_STORE_LIMITS;
  }

  /** Owner's verdicts by moving mail: into \Junk is spam; out of \Junk to anything but \Trash is ham. */
  private queueJunkTraining(src: FolderRow, dst: FolderRow, rows: readonly MessageRow[]): void {
    const intoJunk = dst.special_use === '\\Junk' && src.special_use !== '\\Junk';
    const outOfJunk = src.special_use === '\\Junk' && dst.special_use !== '\\Junk' && dst.special_use !== '\\Trash';
    if (intoJunk || outOfJunk) queueTraining((sql) => this.stmt(sql), rows.map((r) => r.body_id), intoJunk);
  }

  private junkTraining: Promise<number> | null = null;

  /** Trains the queue soon, off the command's path; what fails stays queued for the next run. */
  private scheduleJunkTraining(): void {
    setImmediate(() => void this.trainQueuedJunk().catch(() => undefined));
  }

  junkCounts(tokens: readonly string[]): JunkTrainingCounts {
    return junkCounts((sql) => this.stmt(sql), tokens);
  }

  junkStatus(): JunkStatus {
    return junkStatus((sql) => this.stmt(sql));
  }

  /** The tokens of a stored body, reading at most the classifier's byte cap of it. */
  private bodyTokens(bodyId: number): string[] | null {
    const size = this.stmt('SELECT size FROM bodies WHERE id = ?').pluck().get(bodyId) as number | undefined;
    if (size === undefined) return null;
    const limits = this.junkLimits;
    const raw = readStoredBody(this.bodySource, bodyId, 0, Math.min(size, limits.maxBytes));
    return tokenize(raw, limits, trustedMxTokens(raw));
  }

  private trainBodies(bodies: readonly { bodyId: number; asSpam: boolean; queued: boolean }[]): number {
    const tokenized = bodies.map((b) => ({ ...b, tokens: this.bodyTokens(b.bodyId) }));
    return this.write(() => {
      let trained = 0;
      for (const body of tokenized) {
        // A queued training a newer move changed meanwhile is left for the next run.
        if (body.queued && !donePending((sql) => this.stmt(sql), body.bodyId, body.asSpam)) continue;
        if (body.tokens && trainBody((sql) => this.stmt(sql), body.bodyId, body.tokens, body.asSpam)) trained++;
      }
      pruneTokens((sql) => this.stmt(sql), this.junkLimits.maxStoredTokens);
      return trained;
    });
  }

  async junkTrain(folder: string, uids: UidSet, asSpam: boolean): Promise<number> {
    const f = this.folder(normalizePath(folder));
    const bodyIds = [...new Set(this.selectMessages(f.id, uids).map((r) => r.body_id))];
    let trained = 0;
    for (let i = 0; i < bodyIds.length; i += JUNK_TRAIN_BATCH) {
      trained += this.trainBodies(bodyIds.slice(i, i + JUNK_TRAIN_BATCH).map((bodyId) => ({ bodyId, asSpam, queued: false })));
      await new Promise((resolve) => setImmediate(resolve)); // other sessions run between batches
    }
    return trained;
  }

  trainQueuedJunk(): Promise<number> {
    // One run at a time per mailbox; a caller during a run waits for it and then runs again for what it missed.
    const previous = this.junkTraining ?? Promise.resolve(0);
    const run = previous.catch(() => 0).then(async () => {
      let trained = 0;
      for (;;) {
        if (!this.handle.db) return trained;
        const batch = pendingTraining((sql) => this.stmt(sql), JUNK_TRAIN_BATCH);
        if (!batch.length) return trained;
        trained += this.trainBodies(batch.map((b) => ({ ...b, queued: true })));
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    this.junkTraining = run;
    void run.finally(() => {
      if (this.junkTraining === run) this.junkTraining = null;
    }).catch(() => undefined);
    return run;
  }

  storageReport(): StorageReport {
    const r = this.db()
      .transaction(() =>
        this.stmt(
          `SELECT
             (SELECT used_bytes FROM mailbox_state) AS logical,
             (SELECT coalesce(sum(size), 0) FROM bodies) AS bodies,
             (SELECT coalesce(sum(raw_len), 0) FROM body_parts WHERE attachment_id IS NOT NULL) AS attachment_refs,
             (SELECT coalesce(sum(size), 0) FROM attachments) AS attachments,
             (SELECT coalesce(sum(length(data)), 0) FROM body_parts) AS inline_stored,
             (SELECT coalesce(sum(length(data)), 0) FROM attachment_chunks) AS attachment_stored`,
        ).get(),
      )
      .deferred() as {
      logical: number; bodies: number; attachment_refs: number; attachments: number; inline_stored: number; attachment_stored: number;
    };
    const uniqueRaw = r.bodies - r.attachment_refs + r.attachments;
    let fileBytes = 0;
    for (const suffix of ['', '-wal']) {
      try {
        fileBytes += statSync(this.handle.file + suffix).size;
      } catch {}
    }
    return {
      logicalBytes: r.logical,
      fileBytes,
      dedupeSavedBytes: r.logical - uniqueRaw,
      compressionSavedBytes: uniqueRaw - (r.inline_stored + r.attachment_stored),
    };
  }
}

/** "1,2,30" → [1, 2, 30] without a string per number (SQLite's group_concat of integer UIDs). */
function parseUidList(text: string): number[] {
  const out: number[] = [];
  let n = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44) {
      out.push(n);
      n = 0;
      digits = 0;
    } else {
      n = n * 10 + (c - 48);
      digits++;
    }
  }
  if (digits > 0) out.push(n);
  return out;
}
