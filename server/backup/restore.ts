// Restore: replace the live mailbox with a generation (crash-safe swap under the mailbox lock, the
// current file kept as a pre-restore generation), or copy single folders out of a generation.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { MailboxLocked, WrongKey } from '../mailbox/errors.js';
import { openMailboxStore, readUidState } from '../mailbox/index.js';
import type { FolderInfo, LiveFolderState, Mailbox, MailboxId, MailboxStore, UidState } from '../mailbox/types.js';
import { UserError } from '../config/index.js';
import { backupPaths, assertMailboxId, generationIdOf, backupLockFile } from './paths.js';
import { readManifest, updateManifest, newestGeneration, type Generation } from './manifest.js';
import { acquireLockWaiting, mailboxLockFile, openByAnotherProcess, withLock } from '../mailbox/index.js';
import { ensureDir, fileSize, fsyncDir, fsyncFile, removeIfExists } from '../fsutil.js';
import { findGeneration } from './generations.js';
import { inWorker } from './worker.js';
import { emitSafely } from './events.js';
import { copyFolders, type TransferProgress, type TransferTotals } from './transfer.js';

/** Steps where the crash-safety test kills the process (SEALPOST_TEST_RESTORE_PAUSE=<step>). */
export type RestoreStep = 'staged' | 'kept' | 'wal-removed' | 'swapped';

async function pauseForTest(step: RestoreStep): Promise<void> {
  if (process.env.SEALPOST_TEST !== '1' || process.env.SEALPOST_TEST_RESTORE_PAUSE !== step) return;
  process.stdout.write(`restore-paused:${step}\n`);
  await new Promise((resolve) => setTimeout(resolve, 60_000));
}

export interface RestoreOptions {
  readonly dataDir: string;
  readonly mailboxId: string;
  readonly generationId: string;
  /** The current mailbox key: the generation must open with it (a generation from before a password change does not). */
  readonly key: Buffer;
  /** This process's store: its handle is closed before the swap. */
  readonly store?: MailboxStore;
  readonly now?: Date;
}

export interface RestoreResult {
  readonly restored: string;
  /** The generation that now holds what the mailbox was before the restore. */
  readonly preRestore: string;
}

/** Removes leftovers of a restore killed mid-way (staging files); the live file is always whole. */
export function cleanInterruptedRestore(dataDir: string, mailboxId: string): void {
  const paths = backupPaths(dataDir);
  const dir = paths.layout.mailboxesDir;
  // Staging names of earlier versions (beside the live file), then today's staging dirs in the scratch space.
  const prefix = `${mailboxId}.sqlite.restore-`;
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) if (name.startsWith(prefix)) removeIfExists(path.join(dir, name));
  const scratch = paths.scratch();
  const staging = `restore-${mailboxId}-`;
  for (const name of fs.existsSync(scratch) ? fs.readdirSync(scratch) : []) {
    if (name.startsWith(staging)) fs.rmSync(path.join(scratch, name), { recursive: true, force: true });
  }
}

/**
 * What the restored file must not reuse: the live file's UID state, or null when the live file cannot be
 * read with the key (damaged; or missing) — then nothing it handed out is known and every folder is renewed.
 */
function liveUidState(live: string, key: Buffer): UidState | null {
  if (!fs.existsSync(live)) return null;
  try {
    return readUidState(live, key);
  } catch {
    return null;
  }
}

/** True when every UID both hold names the same message (size and internal date): the folders share one history. */
function sameHistory(restored: Mailbox, folder: string, live: FolderInfo & LiveFolderState): boolean {
  return restored.listMessages(folder).every((m) => {
    const now = live.messages.get(m.uid);
    return now === undefined || (now.size === m.size && now.internalDate === m.internalDate.toISOString());
  });
}

/**
 * RFC 3501 §2.3.1.1: a UID never names another message under the same UIDVALIDITY, and new UIDs only grow
 * (RFC 1939 §7 the same for UIDLs, `UIDVALIDITY.UID` of INBOX). The generation's UIDNEXT is below what the
 * live mailbox handed out since, so each restored folder is made to agree with the live one:
 * - the live folder has the same UIDVALIDITY (one history): messages it still holds keep their UIDs, the
 *   ones it expunged since come back under new UIDs from its UIDNEXT on, its messages the generation lacks
 *   are journalled as expunged, and changed flags get a MODSEQ above any it used (renumberAbove) —
 *   clients keep their caches; a folder nothing happened to since the generation is left as it is;
 * - otherwise (folder deleted or re-created since, or no readable live file): a new UIDVALIDITY above any
 *   the live file or the generation ever used, so clients drop what they cached for it.
 * The restored file's UIDVALIDITY high-water mark is raised to the live one's either way, so a folder
 * created later never gets a UIDVALIDITY that was used before.
 */
function reconcileUids(restored: Mailbox, live: UidState | null): void {
  const agreed: string[] = [];
  for (const folder of live ? restored.listFolders() : []) {
    const now = live?.folders.find((l) => l.path === folder.path);
    if (!live || !now || now.uidValidity !== folder.uidValidity || now.uidNext < folder.uidNext) continue;
    if (now.uidNext === folder.uidNext && now.highestModseq === folder.highestModseq) {
      agreed.push(folder.path); // untouched since the generation: identical
      continue;
    }
    if (!sameHistory(restored, folder.path, now)) continue;
    restored.renumberAbove(folder.path, now, live.modseq);
    agreed.push(folder.path);
  }
  restored.reissueUidValidity(Math.max(live?.lastUidValidity ?? 0, Math.floor(Date.now() / 1000)), agreed);
}

/**
 * Replaces the live mailbox with a generation. Order (each step durable before the next):
 * stage a verified copy in the scratch space (same filesystem) → under the mailbox lock, read what the
 * live file handed out and make the staged copy agree with it (see reconcileUids) → keep
 * the live file as a pre-restore generation (hard link, so it costs nothing) → drop the live -wal/-shm
 * (the handle was closed cleanly, so they are empty) → rename the staged copy over the live name.
 * rename(2) is atomic: a kill at any point leaves the old file or the new one under the live name, both whole.
 */
export async function restoreReplace(options: RestoreOptions): Promise<RestoreResult> {
  const { dataDir, mailboxId, generationId } = options;
  assertMailboxId(mailboxId);
  const paths = backupPaths(dataDir);
  const live = paths.layout.mailboxFile(mailboxId);
  return withLock(backupLockFile(dataDir, mailboxId), 'restore', async () => {
    cleanInterruptedRestore(dataDir, mailboxId);
    const generation = findGeneration(dataDir, mailboxId, generationId);
    const source = paths.generation(mailboxId, generation.id);
    // The staged copy is a mailbox of a scratch store, so the store's own verbs can renew its UIDVALIDITYs.
    const stagingDir = path.join(paths.scratch(), `restore-${mailboxId}-${randomUUID()}`);
    const stagedId = randomUUID() as MailboxId;
    const staged = path.join(stagingDir, 'mailboxes', `${stagedId}.sqlite`);
    ensureDir(path.dirname(staged));
    const stagingStore = openMailboxStore(stagingDir, {});
    try {
      const digest = await inWorker.copy(source, staged);
      if (digest.sha256 !== generation.sha256) throw new UserError(`Generation ${generation.id} is damaged (its SHA-256 does not match); pick another`, 'DAMAGED');
      if (generation.wal) {
        // Bring the sidecar WAL in with the copy; the store's open and close below fold it into the file.
        fs.copyFileSync(paths.walSidecar(mailboxId, generation.id), `${staged}-wal`);
      }
      let check;
      let restored: Mailbox;
      try {
        check = await inWorker.verify(staged, options.key);
        restored = await stagingStore.open(stagedId, options.key);
      } catch (error) {
        if (error instanceof WrongKey) {
          throw new UserError(`Generation ${generation.id} does not open with the current password (it predates a password change)`, 'GENERATION_KEY');
        }
        throw error;
      }
      if (!check.ok) throw new UserError(`Generation ${generation.id} fails its integrity check; pick another`, 'DAMAGED');
      await pauseForTest('staged');

      // Sessions say BYE, this process's handle closes (checkpointing its WAL), then nobody may open it.
      emitSafely('replacing', { mailboxId, generationId: generation.id });
      if (options.store?.isOpen(mailboxId as MailboxId)) await options.store.close(mailboxId as MailboxId);
      const lock = await acquireLockWaiting(mailboxLockFile(dataDir, mailboxId), 'restore', 10_000);
      try {
        // A delivery may have reopened it before the lock was taken; under the lock nobody can open it again.
        if (options.store?.isOpen(mailboxId as MailboxId)) await options.store.close(mailboxId as MailboxId);
        if (openByAnotherProcess(live)) throw new MailboxLocked('The mailbox is open in a running server; restore it from there (admin UI) or stop the server first');
        // Read before the pre-restore link: closing this read folds a leftover WAL into the file it links.
        reconcileUids(restored, liveUidState(live, options.key));
        await stagingStore.closeAll(); // checkpoints the staged WAL into the file
        if (fileSize(`${staged}-wal`) > 0) throw new Error('the staged restore copy kept a WAL after its checkpoint');
        removeIfExists(`${staged}-wal`);
        removeIfExists(`${staged}-shm`);
        fsyncFile(staged);
        const preRestore = await keepAsPreRestore(dataDir, mailboxId, live, options.now ?? new Date());
        await pauseForTest('kept');
        removeIfExists(`${live}-wal`);
        removeIfExists(`${live}-shm`);
        await pauseForTest('wal-removed');
        fs.renameSync(staged, live);
        fsyncDir(path.dirname(live));
        await pauseForTest('swapped');
        emitSafely('replaced', { mailboxId, generationId: generation.id });
        return { restored: generation.id, preRestore };
      } finally {
        lock.release();
      }
    } finally {
      await stagingStore.closeAll();
      fs.rmSync(stagingDir, { recursive: true, force: true });
    }
  }, 60_000);
}

/** Hard-links (or copies across filesystems) the live file into a 'pre-restore' generation. */
async function keepAsPreRestore(dataDir: string, mailboxId: string, live: string, now: Date): Promise<string> {
  const paths = backupPaths(dataDir);
  ensureDir(paths.dir(mailboxId));
  const newest = newestGeneration(readManifest(dataDir, mailboxId));
  let time = now;
  if (newest && generationIdOf(time) <= newest.id) time = new Date(new Date(newest.time).getTime() + 1);
  const id = generationIdOf(time);
  const target = paths.generation(mailboxId, id);
  try {
    fs.linkSync(live, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV' && (error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
    await inWorker.copy(live, target);
  }
  let wal: { size: number; sha256: string } | undefined;
  // A -wal left by a crash holds committed transactions: keep it with the pre-restore copy.
  if (fileSize(`${live}-wal`) > 0) wal = await inWorker.copy(`${live}-wal`, paths.walSidecar(mailboxId, id));
  const digest = await inWorker.hash(target);
  const generation: Generation = {
    id,
    time: time.toISOString(),
    size: digest.size,
    sha256: digest.sha256,
    verifiedWithKey: false,
    sourceSchemaVersion: null,
    kind: 'pre-restore',
    ...(wal ? { wal } : {}),
  };
  fsyncDir(paths.dir(mailboxId));
  updateManifest(dataDir, mailboxId, (gens) => [...gens, generation]);
  return id;
}

/**
 * Opens a copy of a generation (or of any file keyed with `key`) read-only through the mailbox store,
 * in a scratch data dir inside the data dir, and runs fn on it. The copy is removed afterwards.
 */
export async function withReadonlyCopy<T>(
  dataDir: string,
  file: string,
  key: Buffer,
  fn: (mailbox: Mailbox) => Promise<T>,
  opts: { rawCopy?: boolean; /** A WAL saved with the file (a locked generation's sidecar): replayed on open. */ wal?: string } = {},
): Promise<T> {
  const scratch = path.join(backupPaths(dataDir).scratch(), `ro-${randomUUID()}`);
  const id = randomUUID() as MailboxId;
  ensureDir(path.join(scratch, 'mailboxes'));
  const store = openMailboxStore(scratch, {});
  try {
    const target = path.join(scratch, 'mailboxes', `${id}.sqlite`);
    if (opts.rawCopy === false) fs.renameSync(file, target);
    else await inWorker.copy(file, target);
    if (opts.wal) await inWorker.copy(opts.wal, `${target}-wal`);
    const mailbox = await store.open(id, key);
    return await fn(mailbox);
  } finally {
    await store.closeAll();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

export interface RestoreFoldersOptions {
  readonly dataDir: string;
  readonly mailboxId: string;
  readonly generationId: string;
  readonly key: Buffer;
  /** Folders to copy back (case-insensitive); empty = all. */
  readonly folders: readonly string[];
  /** The live, open mailbox to copy into. */
  readonly target: Mailbox;
  readonly onProgress?: (p: TransferProgress) => void;
}

/** Copies folders out of a generation into the live mailbox; messages already there are skipped. */
export async function restoreFolders(options: RestoreFoldersOptions): Promise<TransferTotals> {
  assertMailboxId(options.mailboxId);
  const generation = findGeneration(options.dataDir, options.mailboxId, options.generationId);
  const paths = backupPaths(options.dataDir);
  const file = paths.generation(options.mailboxId, generation.id);
  const wal = generation.wal ? { wal: paths.walSidecar(options.mailboxId, generation.id) } : {};
  try {
    return await withReadonlyCopy(
      options.dataDir,
      file,
      options.key,
      (source) => copyFolders(source, options.target, { folders: options.folders, ...(options.onProgress ? { onProgress: options.onProgress } : {}) }),
      wal,
    );
  } catch (error) {
    if (error instanceof WrongKey) throw new UserError(`Generation ${generation.id} does not open with the current password (it predates a password change)`, 'GENERATION_KEY');
    throw error;
  }
}
