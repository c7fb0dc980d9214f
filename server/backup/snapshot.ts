// Taking a generation: VACUUM INTO (unlocked, verified with the key) or a quiescent copy under the
// mailbox lock (locked: no key, nothing decrypted). Identical to the newest generation → none kept.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { MailboxLocked } from '../mailbox/errors.js';
import { UserError } from '../config/index.js';
import { backupPaths, generationIdOf, assertMailboxId, backupLockFile } from './paths.js';
import { readManifest, updateManifest, newestGeneration, type Generation, type GenerationKind, type SidecarFile } from './manifest.js';
import { acquireLockWaiting, mailboxLockFile, openByAnotherProcess, withLock } from '../mailbox/index.js';
import { ensureDir, fsyncDir, removeIfExists, fileSize } from '../fsutil.js';
import { inWorker } from './worker.js';

export interface SnapshotOptions {
  readonly dataDir: string;
  readonly mailboxId: string;
  /** The mailbox's raw key when it is unlocked; null/undefined → quiescent copy under the lock. */
  readonly key?: Buffer | null;
  /** The app key: the sealed queue is copied through SQLite with it (required when the alias has a queue file). */
  readonly appKey?: Buffer | null;
  /** True when this process's mailbox store has the file open (then the key is required). */
  readonly openHere?: boolean;
  readonly kind?: GenerationKind;
  readonly now?: Date;
}

export interface SnapshotResult {
  /** The new generation, or the newest existing one it was identical to. */
  readonly generation: Generation;
  /** False when the snapshot equalled the newest generation and none was kept. */
  readonly created: boolean;
}

/** Content identical to the newest generation? (see contentFingerprint for why file SHA-256 alone cannot tell). */
function sameContent(newest: Generation | null, sha256: string, contentHmac: string | null, wal: SidecarFile | undefined): boolean {
  if (!newest || newest.kind === 'pre-restore') return false;
  if ((newest.wal?.sha256 ?? null) !== (wal?.sha256 ?? null)) return false;
  if (newest.sha256 === sha256) return true;
  return contentHmac !== null && newest.contentHmac === contentHmac;
}

/** Same sealed-queue content: both absent, or equal bytes, or equal content fingerprints. */
function sameQueue(saved: SidecarFile | undefined, now: SidecarFile | undefined): boolean {
  if (!saved || !now) return !saved && !now;
  return saved.sha256 === now.sha256 || (saved.contentHmac !== undefined && saved.contentHmac === now.contentHmac);
}

/** A fresh generation id, strictly after the newest one (two snapshots in one millisecond stay distinct). */
function nextGenerationId(newest: Generation | null, now: Date): { id: string; time: Date } {
  let time = now;
  if (newest && generationIdOf(time) <= newest.id) time = new Date(new Date(newest.time).getTime() + 1);
  return { id: generationIdOf(time), time };
}

export async function snapshotMailbox(options: SnapshotOptions): Promise<SnapshotResult> {
  const { dataDir, mailboxId } = options;
  assertMailboxId(mailboxId);
  const paths = backupPaths(dataDir);
  const source = paths.layout.mailboxFile(mailboxId);
  if (!fs.existsSync(source)) throw new UserError('This alias has no mailbox file to back up', 'NO_MAILBOX');
  if (options.openHere && !options.key) throw new MailboxLocked('The mailbox is open but its key is not available for a snapshot');
  ensureDir(paths.scratch());
  ensureDir(paths.dir(mailboxId));

  return withLock(backupLockFile(dataDir, mailboxId), 'backup', async () => {
    const tmp = path.join(paths.scratch(), `${randomUUID()}.sqlite`);
    const tmpWal = `${tmp}-wal`;
    const tmpQueue = path.join(paths.scratch(), `${randomUUID()}.queue.sqlite`);
    try {
      let sha256: string;
      let size: number;
      let contentHmac: string | null = null;
      let schemaVersion: number | null = null;
      let wal: SidecarFile | undefined;
      if (options.key) {
        const result = await inWorker.vacuum(source, options.key, tmp);
        ({ sha256, size, contentHmac, schemaVersion } = result);
      } else {
        const lock = await acquireLockWaiting(mailboxLockFile(dataDir, mailboxId), 'backup copy', 5_000);
        try {
          // Another process (a running server) holding the file unlocked means it is not quiescent.
          if (openByAnotherProcess(source)) {
            throw new MailboxLocked('The mailbox is open in a running server; back it up there, or give its password');
          }
          ({ sha256, size } = await inWorker.copy(source, tmp));
          const liveWal = `${source}-wal`;
          if (fileSize(liveWal) > 0) wal = await inWorker.copy(liveWal, tmpWal);
        } finally {
          lock.release();
        }
      }
      const queue = await snapshotQueue(paths.layout.queueFile(mailboxId), options.appKey ?? null, tmpQueue);

      const manifest = readManifest(dataDir, mailboxId);
      const newest = newestGeneration(manifest);
      if (newest && sameContent(newest, sha256, contentHmac, wal) && sameQueue(newest.queue, queue)) {
        return { generation: newest, created: false };
      }
      const { id, time } = nextGenerationId(newest, options.now ?? new Date());
      const generation: Generation = {
        id,
        time: time.toISOString(),
        size,
        sha256,
        verifiedWithKey: Boolean(options.key),
        sourceSchemaVersion: schemaVersion,
        kind: options.kind ?? 'manual',
        ...(contentHmac ? { contentHmac } : {}),
        ...(queue ? { queue } : {}),
        ...(wal ? { wal } : {}),
      };
      if (wal) fs.renameSync(tmpWal, paths.walSidecar(mailboxId, id));
      if (queue) fs.renameSync(tmpQueue, paths.queueSidecar(mailboxId, id));
      fs.renameSync(tmp, paths.generation(mailboxId, id));
      fsyncDir(paths.dir(mailboxId));
      updateManifest(dataDir, mailboxId, (gens) => [...gens, generation]);
      return { generation, created: true };
    } finally {
      for (const f of [tmp, tmpWal, tmpQueue]) removeIfExists(f);
    }
  }, 60_000);
}

/**
 * The sealed queue is appended to by the MX while we copy (it is how mail arrives for a locked mailbox):
 * VACUUM INTO through the queue's own cipher settings copies one point in time, WAL frames included, an
 * enqueue committing meanwhile wholly in or out. No queue file (or one created after this started) → none.
 * It stays encrypted with the app-key-derived file key, and the rows stay sealed to the alias.
 */
async function snapshotQueue(queueFile: string, appKey: Buffer | null, target: string): Promise<SidecarFile | undefined> {
  if (!fs.existsSync(queueFile)) return undefined;
  if (!appKey) throw new Error('the app key is needed to back up the sealed queue');
  const copied = await inWorker.vacuumQueue(queueFile, appKey, target);
  return copied ? { size: copied.size, sha256: copied.sha256, contentHmac: copied.contentHmac } : undefined;
}
