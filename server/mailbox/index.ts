// The encrypted per-alias mailbox store: opens/creates/re-keys mailboxes/<id>.sqlite and caches one
// handle per file per process (LRU + idle close). See types.ts for the verbs.
import type { JunkStoreLimits } from '../junk/index.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { DEFAULT_COMPRESSION, type Compression } from './codec.js';
import { InvalidRequest, MailboxLocked, WrongKey } from './errors.js';
import { acquireLock, isLocked } from './lock.js';
import { SqliteMailbox, type Handle } from './mailbox.js';
import { MailboxReaders } from './readers.js';
import { DEFAULT_READER_THREADS } from './settings.js';
import type { GroupCommitStats } from './group-commit.js';
import { migrate, SCHEMA_VERSION } from './schema.js';
import { registerSearchFunctions } from './search.js';
import { registerObjectIdFunctions } from './object-id.js';
import { rekeyRaw, statementCache } from '../sqlite.js';
import { assertKey, openDb, openMailboxCopy, type Db } from './sqlite.js';
import type { FolderInfo, LiveFolderState, LiveMessage, Mailbox, MailboxChangeEvent, MailboxId, MailboxStore, UidState } from './types.js';
import { flagList } from './names.js';

export * from './types.js';
export * from './errors.js';
export { NoSuchScript, ScriptActive, ScriptExists, type SieveScriptInfo, type SieveStore } from './sieve-store.js';
export type { Compression } from './codec.js';
export { MAILBOX_COMPRESSION_ENV, MAILBOX_READERS_ENV, mailboxCompressionFromEnv, mailboxReadersFromEnv } from './settings.js';
export type { GroupCommitStats } from './group-commit.js';
export { acquireLockWaiting, isMailboxLocked, mailboxLockFile, openByAnotherProcess, withLock, type HeldLock } from './lock.js';

/** Points of a re-key where crash-safety tests kill the process. */
export type RekeyStep = 'locked' | 'copied' | 'rekeyed' | 'verified' | 'swapped';

export interface MailboxStoreOptions {
  readonly logger?: Logger;
  /** Most handles kept open at once; the least recently used is closed beyond it (default 64). */
  readonly maxOpen?: number;
  /** Handles unused this long are closed (default 10 minutes). */
  readonly idleCloseMs?: number;
  /** Compression of new stored blobs (default 'lz4'); blobs written with any method stay readable. */
  readonly compression?: Compression;
  /** Reader threads for bulk message reads (Mailbox.readMany; default 1, 0 = read on the event loop only). */
  readonly readerThreads?: number;
  /** Caps of the junk classifier's training inside each file (default DEFAULT_JUNK_STORE_LIMITS). */
  readonly junkLimits?: JunkStoreLimits;
  /** BENCHMARKS ONLY: same code without the cipher, to measure encryption overhead. Never set in the product. */
  readonly unencryptedForBenchmarks?: boolean;
  /** TESTS ONLY: called at each re-key step (the crash-safety test SIGKILLs its child process here). */
  readonly rekeyStepHook?: (step: RekeyStep) => void;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

function assertId(id: string): void {
  if (typeof id !== 'string' || !ID.test(id)) throw new InvalidRequest('bad mailbox id');
}

/** Reads re-check that the file is still the one opened at most this often (writes always do). */
const FILE_CHECK_MS = 5;

interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

function identityOf(path: string): FileIdentity | null {
  try {
    const st = statSync(path);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return null;
  }
}

const sameFile = (a: FileIdentity | null, b: FileIdentity | null): boolean => a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;

const digestOf = (key: Buffer): Buffer => createHash('sha256').update('sealpost-mailbox-handle').update(key).digest();

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}

interface CachedHandle extends Handle {
  readonly digest: Buffer;
  readonly mailbox: SqliteMailbox;
}

class SqliteMailboxStore implements MailboxStore {
  private readonly dir: string;
  private readonly logger: Logger;
  private readonly maxOpen: number;
  private readonly idleCloseMs: number;
  private readonly compression: Compression;
  private readonly encrypted: boolean;
  /** Open handles, least recently used first. */
  private readonly handles = new Map<MailboxId, CachedHandle>();
  /**
   * Every handle object handed out, open or closed: re-opening with the same key revives the same
   * Mailbox object, so a session holding it across an idle/LRU close works again once anyone re-opens.
   */
  private readonly known = new Map<MailboxId, CachedHandle>();
  private readonly busy = new Map<MailboxId, Promise<void>>();
  private readonly listeners = new Set<(event: MailboxChangeEvent) => void>();
  private readonly idleTimer: NodeJS.Timeout;
  private readonly readers: MailboxReaders;

  constructor(
    dataDir: string,
    private readonly options: MailboxStoreOptions,
  ) {
    this.dir = join(dataDir, 'mailboxes');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.logger = options.logger ?? silentLogger();
    this.maxOpen = Math.max(1, options.maxOpen ?? 64);
    this.idleCloseMs = Math.max(1, options.idleCloseMs ?? 10 * 60_000);
    this.compression = options.compression ?? DEFAULT_COMPRESSION;
    this.encrypted = options.unencryptedForBenchmarks !== true;
    this.idleTimer = setInterval(() => this.closeIdle(), Math.max(50, Math.min(this.idleCloseMs / 2, 60_000)));
    this.idleTimer.unref();
    this.readers = new MailboxReaders(options.readerThreads ?? DEFAULT_READER_THREADS);
  }

  private file(id: MailboxId): string {
    return join(this.dir, `${id}.sqlite`);
  }

  private lockFile(id: MailboxId): string {
    return join(this.dir, `${id}.sqlite.lock`);
  }

  /** Renews every folder's UIDVALIDITY once when a marker asks for it (see markUidValidityRenewal). */
  private renewUidValidityIfMarked(id: MailboxId, mailbox: SqliteMailbox): void {
    const marker = join(this.dir, `${id}${RENEW_UIDVALIDITY_SUFFIX}`);
    if (!existsSync(marker)) return;
    // nextUidValidity() never goes below the current time in seconds, so every new value is above any the
    // lost machine handed out before now, whatever it did after its last backup.
    mailbox.reissueUidValidity(0);
    unlinkQuiet(marker);
    fsyncPath(this.dir);
    this.logger.info({ event: 'mailbox.uidvalidity_renewed', mailboxId: id }, 'UIDVALIDITY renewed after a restore from a remote');
  }

  private emit = (event: MailboxChangeEvent): void => {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error({ err, mailboxId: event.mailboxId }, 'mailbox change listener failed');
      }
    }
  };

  private openRaw(file: string, key: Buffer | null): Db {
    return openDb(file, key, { encrypted: this.encrypted });
  }

  /** Runs fn with the mailbox exclusively held in this process (create, rekey, remove). */
  private async exclusive<T>(id: MailboxId, fn: () => Promise<T> | T): Promise<T> {
    while (this.busy.has(id)) await this.busy.get(id);
    let done!: () => void;
    this.busy.set(id, new Promise<void>((resolve) => (done = resolve)));
    try {
      return await fn();
    } finally {
      this.busy.delete(id);
      done();
    }
  }

  async create(id: MailboxId, mailboxKey: Buffer, quotaBytes: number | null = null): Promise<void> {
    assertId(id);
    if (this.encrypted) assertKey(mailboxKey);
    await this.exclusive(id, () => {
      const file = this.file(id);
      if (existsSync(file)) throw new InvalidRequest('mailbox already exists');
      // Built under a temporary name and renamed: a crash never leaves a half-made mailbox under the real name.
      const tmp = `${file}.creating`;
      for (const s of ['', '-wal', '-shm', '-journal']) unlinkQuiet(tmp + s);
      const db = openDb(tmp, mailboxKey, { encrypted: this.encrypted, mustExist: false });
      try {
        migrate(db);
        if (quotaBytes !== null) db.prepare('UPDATE mailbox_state SET quota_bytes = ?').run(quotaBytes);
        db.pragma('wal_checkpoint(TRUNCATE)');
      } finally {
        db.close();
      }
      chmodSync(tmp, 0o600);
      fsyncPath(tmp);
      renameSync(tmp, file);
      fsyncPath(this.dir);
      this.logger.info({ mailboxId: id }, 'mailbox created');
    });
  }

  async open(id: MailboxId, mailboxKey: Buffer): Promise<Mailbox> {
    assertId(id);
    if (this.encrypted) assertKey(mailboxKey);
    while (this.busy.has(id)) await this.busy.get(id);
    return this.openNow(id, mailboxKey);
  }

  private openNow(id: MailboxId, mailboxKey: Buffer): SqliteMailbox {
    const digest = digestOf(mailboxKey);
    const cached = this.handles.get(id);
    if (cached) {
      if (!timingSafeEqual(cached.digest, digest)) throw new WrongKey();
      cached.lastUsed = Date.now();
      // Map order is the LRU order: move to the end.
      this.handles.delete(id);
      this.handles.set(id, cached);
      return cached.mailbox;
    }
    // A backup copy or restore (server/backup) or another process's re-key holds the file.
    if (isLocked(this.lockFile(id))) throw new MailboxLocked('The mailbox is busy (backup, restore or re-key in progress)');
    const file = this.file(id);
    if (!existsSync(file)) throw new InvalidRequest('no such mailbox');
    // A re-key killed part-way leaves its (encrypted) copy; nobody holds the lock, so it is garbage now.
    if (existsSync(`${file}.rekey`)) for (const s of ['', '-wal', '-shm', '-journal']) unlinkQuiet(`${file}.rekey${s}`);
    const started = process.hrtime.bigint();
    const db = this.openRaw(file, mailboxKey);
    try {
      if (Number(db.pragma('user_version', { simple: true })) !== SCHEMA_VERSION) migrate(db);
      registerSearchFunctions(db);
      registerObjectIdFunctions(db);
    } catch (err) {
      db.close();
      throw err;
    }
    let entry = this.known.get(id);
    if (entry && timingSafeEqual(entry.digest, digest) && entry.file === file) {
      entry.db = db;
      entry.prepare = statementCache(db);
      entry.lastUsed = Date.now();
    } else {
      const handle = { id, file, db, lastUsed: Date.now(), prepare: statementCache(db), digest } as Omit<CachedHandle, 'mailbox'> & {
        mailbox?: SqliteMailbox;
      };
      const mailbox = new SqliteMailbox(handle, {
        compression: this.compression,
        emit: this.emit,
        ...(this.options.junkLimits ? { junkLimits: this.options.junkLimits } : {}),
      });
      entry = Object.assign(handle, { mailbox });
      this.known.set(id, entry);
    }
    entry.checkFile = this.fileGuard(id, entry, file);
    const opened = identityOf(file);
    entry.reader = opened ? this.readers.register({ file, key: this.encrypted ? mailboxKey : null, ...opened }) : null;
    this.handles.set(id, entry);
    this.renewUidValidityIfMarked(id, entry.mailbox);
    this.logger.debug({ mailboxId: id, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'mailbox opened');
    while (this.handles.size > this.maxOpen) {
      const oldest = this.handles.keys().next().value as MailboxId;
      void this.closeHandle(oldest);
    }
    return entry.mailbox;
  }

  /**
   * Defense in depth against another process swapping the file (a restore or re-key that did not go
   * through this server): compares the path's inode with the one opened. On a mismatch the handle is
   * dropped and MailboxLocked thrown, so nothing is ever written to the orphaned inode (lost mail).
   */
  private fileGuard(id: MailboxId, entry: CachedHandle, file: string): (beforeWrite: boolean) => void {
    const opened = identityOf(file);
    let checkedAt = 0;
    return (beforeWrite) => {
      const now = Date.now();
      if (!beforeWrite && now - checkedAt < FILE_CHECK_MS) return;
      checkedAt = now;
      if (sameFile(identityOf(file), opened)) return;
      this.logger.error({ event: 'mailbox.replaced_underneath', mailboxId: id }, 'mailbox file was replaced by another process; handle dropped');
      // Closing is safe: SQLite neither checkpoints into nor deletes the -wal/-shm names of a moved database
      // (pager databaseIsUnmoved), so the new file's WAL survives (test/unit/mailbox-replaced.test.ts).
      if (this.handles.get(id) === entry) void this.closeHandle(id);
      throw new MailboxLocked('The mailbox file was replaced by another process; open it again');
    };
  }

  get readerStats(): { readonly read: number; readonly failed: number } {
    return { ...this.readers.stats };
  }

  isOpen(id: MailboxId): boolean {
    return this.handles.has(id);
  }

  /**
   * Closes a handle's connection at once and its reader-thread connection soon after; the promise settles when
   * that one is closed too (await it before touching the file: an open reader keeps the -wal in place).
   */
  private closeHandle(id: MailboxId): Promise<void> {
    const h = this.handles.get(id);
    if (!h) return Promise.resolve();
    this.handles.delete(id);
    const db = h.db;
    h.db = null;
    h.prepare = null;
    const readerClosed = h.reader?.release() ?? Promise.resolve();
    h.reader = null;
    if (!db) return readerClosed;
    try {
      db.pragma('optimize');
      db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (err) {
      this.logger.warn({ err, mailboxId: id }, 'mailbox checkpoint on close failed');
    }
    db.close();
    return readerClosed;
  }

  private closeIdle(): void {
    const limit = Date.now() - this.idleCloseMs;
    for (const [id, h] of [...this.handles]) if (h.lastUsed < limit) void this.closeHandle(id);
  }

  async close(id: MailboxId): Promise<void> {
    await this.closeHandle(id);
  }

  startReaders(): void {
    this.readers.start();
  }

  async closeAll(): Promise<void> {
    clearInterval(this.idleTimer);
    await Promise.all([...this.handles.keys()].map((id) => this.closeHandle(id)));
    await this.readers.close();
  }

  async remove(id: MailboxId): Promise<void> {
    assertId(id);
    await this.exclusive(id, async () => {
      await this.closeHandle(id);
      this.known.delete(id);
      const file = this.file(id);
      for (const s of ['', '-wal', '-shm', '-journal', '.rekey', '.rekey-wal', '.rekey-shm', '.rekey-journal']) unlinkQuiet(file + s);
      unlinkQuiet(join(this.dir, `${id}${RENEW_UIDVALIDITY_SUFFIX}`));
      fsyncPath(this.dir);
    });
  }

  async setQuota(id: MailboxId, mailboxKey: Buffer, quotaBytes: number | null): Promise<void> {
    const mailbox = (await this.open(id, mailboxKey)) as SqliteMailbox;
    mailbox.setQuota(quotaBytes);
  }

  onChange(listener: (event: MailboxChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Re-key: VACUUM INTO a copy (still under the old key) → rekey the copy → reopen it with the new key
   * and integrity_check → fsync → atomic rename over the live file, all under the mailbox lock.
   * Until the rename the old file is untouched, after it the new one is complete: a kill at any
   * point leaves a file that opens with the old key or the new key.
   */
  async rekey(id: MailboxId, oldKey: Buffer, newKey: Buffer): Promise<void> {
    assertId(id);
    assertKey(oldKey);
    assertKey(newKey);
    if (!this.encrypted) throw new InvalidRequest('re-key needs an encrypted store');
    const step = this.options.rekeyStepHook ?? ((): void => {});
    await this.exclusive(id, async () => {
      const file = this.file(id);
      if (!existsSync(file)) throw new InvalidRequest('no such mailbox');
      const cached = this.handles.get(id);
      if (cached && !timingSafeEqual(cached.digest, digestOf(oldKey))) throw new WrongKey();
      const release = acquireLock(this.lockFile(id), 're-key');
      const tmp = `${file}.rekey`;
      const cleanTmp = (): void => {
        for (const s of ['', '-wal', '-shm', '-journal']) unlinkQuiet(tmp + s);
      };
      try {
        step('locked');
        await this.closeHandle(id);
        this.known.delete(id); // Mailbox objects bound to the old key stay closed (MailboxLocked) for good
        cleanTmp();
        const started = process.hrtime.bigint();
        const src = this.openRaw(file, oldKey); // WrongKey here leaves everything as it was
        let messages: number;
        try {
          messages = (src.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n;
          src.pragma('wal_checkpoint(TRUNCATE)');
          // The copy is written by SQLite through the cipher, encrypted with the old key: never plaintext on disk.
          src.prepare('VACUUM INTO ?').run(tmp);
        } finally {
          src.close();
        }
        step('copied');
        const copy = openMailboxCopy(tmp, oldKey);
        try {
          copy.pragma('journal_mode = DELETE'); // sqlite3mc cannot rekey a WAL-mode database
          rekeyRaw(copy, newKey);
        } finally {
          copy.close();
        }
        step('rekeyed');
        const check = this.openRaw(tmp, newKey); // sets journal_mode=WAL in the header, as the live file has
        try {
          const integrity = check.pragma('integrity_check', { simple: true });
          const copied = (check.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n;
          if (integrity !== 'ok' || copied !== messages) throw new Error(`re-keyed copy failed verification (${String(integrity)})`);
          check.pragma('wal_checkpoint(TRUNCATE)');
        } finally {
          check.close();
        }
        chmodSync(tmp, 0o600);
        fsyncPath(tmp);
        step('verified');
        // A -wal still present means another process has the live file open: swapping now would lose its writes.
        if (existsSync(`${file}-wal`)) throw new MailboxLocked('mailbox is open in another process');
        unlinkQuiet(`${file}-shm`);
        renameSync(tmp, file);
        fsyncPath(this.dir);
        step('swapped');
        this.logger.info({ mailboxId: id, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'mailbox re-keyed');
      } catch (err) {
        cleanTmp();
        throw err;
      } finally {
        release();
      }
    });
  }
}

/** Opens the store over <dataDir>/mailboxes. */
/** Empty marker beside a mailbox file: at its next open every folder gets a new UIDVALIDITY. */
const RENEW_UIDVALIDITY_SUFFIX = '.sqlite.renew-uidvalidity';

/**
 * Asks for new UIDVALIDITYs at the mailbox's next open (by whoever has the key). For a mailbox placed from a
 * backup without its password (disaster recovery): the lost machine may have handed out UIDs after that
 * backup, which the restored file would hand out again (RFC 3501 §2.3.1.1). Durable before it returns;
 * written before the file is placed, so a crash in between never leaves a placed file without it.
 */
export function markUidValidityRenewal(dataDir: string, id: MailboxId): void {
  assertId(id);
  const dir = join(dataDir, 'mailboxes');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  closeSync(openSync(join(dir, `${id}${RENEW_UIDVALIDITY_SUFFIX}`), 'a', 0o600));
  fsyncPath(dir);
}

export function openMailboxStore(dataDir: string, options: MailboxStoreOptions = {}): MailboxStore {
  return new SqliteMailboxStore(dataDir, options);
}

/** Batches the store's reader threads answered, and those they could not (read on the event loop instead). */
export function readerStats(store: MailboxStore): { readonly read: number; readonly failed: number } | null {
  return store instanceof SqliteMailboxStore ? store.readerStats : null;
}

/** Group-commit counters of an open mailbox (tests, benchmarks); null for other Mailbox implementations. */
export function groupCommitStats(mailbox: Mailbox): GroupCommitStats | null {
  return mailbox instanceof SqliteMailbox ? mailbox.commitStats : null;
}

/** Deferred-sync counters of an open mailbox (tests): commits made without an fsync, and those fsynced since. */
export function deferredSyncStats(mailbox: Mailbox): { readonly relaxedCommits: number; readonly syncedCommits: number } | null {
  return mailbox instanceof SqliteMailbox ? mailbox.syncStats : null;
}

/**
 * What a mailbox file has handed out (highest UIDVALIDITY and MODSEQ, each folder's UIDVALIDITY/UIDNEXT/HIGHESTMODSEQ
 * and its messages' UIDs, flags, sizes and internal dates),
 * read outside the store: a restore reads the live file while it holds the mailbox lock, which the store
 * refuses to open under. Closing the connection checkpoints the file's WAL. Throws WrongKey.
 */
export function readUidState(file: string, mailboxKey: Buffer): UidState {
  assertKey(mailboxKey);
  const db = openDb(file, mailboxKey, { encrypted: true });
  try {
    return db
      .transaction((): UidState => {
        const state = db.prepare('SELECT last_uid_validity, modseq FROM mailbox_state').get() as { last_uid_validity: number; modseq: number };
        // SELECT *: the live file may predate schema v4 (no object_id yet); this reader never migrates it.
        const rows = db.prepare('SELECT * FROM folders ORDER BY path').all() as {
          id: number; path: string; special_use: string | null; subscribed: number; uid_validity: number; uid_next: number; highest_modseq: number;
          object_id?: string | null;
        }[];
        const messages = db.prepare('SELECT uid, sysflags, keywords, size, internal_date FROM messages WHERE folder_id = ? ORDER BY uid');
        const folders = rows.map((f): FolderInfo & LiveFolderState => ({
          path: f.path,
          specialUse: f.special_use as FolderInfo['specialUse'],
          subscribed: f.subscribed === 1,
          uidValidity: f.uid_validity,
          uidNext: f.uid_next,
          highestModseq: f.highest_modseq,
          mailboxId: f.object_id ?? '',
          messages: new Map(
            (messages.all(f.id) as { uid: number; sysflags: number; keywords: string; size: number; internal_date: string }[]).map((m) => [
              m.uid,
              { flags: flagList(m.sysflags, m.keywords), size: m.size, internalDate: m.internal_date } satisfies LiveMessage,
            ]),
          ),
        }));
        return { lastUidValidity: Math.max(state.last_uid_validity, ...rows.map((f) => f.uid_validity)), modseq: state.modseq, folders };
      })
      .deferred();
  } finally {
    db.close();
  }
}

/** Size of a mailbox file plus its WAL (for admin listings; no key needed). */
export function mailboxFileBytes(dataDir: string, id: MailboxId): number {
  assertId(id);
  let total = 0;
  for (const s of ['', '-wal']) {
    try {
      total += statSync(join(dataDir, 'mailboxes', `${id}.sqlite${s}`)).size;
    } catch {}
  }
  return total;
}
