// Disaster recovery of the appliance itself: generations of sealpost.db (domains, aliases with their
// salts, verifiers and wrapped keys, forwards, settings, remote targets) under backups/directory/, with
// a snapshot of outbound.sqlite (DKIM keys, mail waiting to go out) saved beside each as its
// "queue" sidecar. Both stay encrypted with the app key (VACUUM INTO keeps the cipher and key), so a
// generation is useless without the app key — keep the key itself safe (`sealpost key show`).
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { DataLayout } from '../config/index.js';
import { backupPaths, generationIdOf, backupLockFile } from './paths.js';
import { readManifest, updateManifest, newestGeneration, type Generation, type GenerationKind } from './manifest.js';
import { withLock } from '../mailbox/index.js';
import { generationsToPrune, DEFAULT_RETENTION, type RetentionPolicy } from './retention.js';
import { ensureDir, fsyncDir, removeIfExists } from '../fsutil.js';
import { inWorker } from './worker.js';

/** The id used in place of a mailbox uuid for the directory's generations (locally and on remotes). */
export const DIRECTORY_BACKUP_ID = 'directory';

export interface DirectorySnapshotResult {
  readonly generation: Generation;
  readonly created: boolean;
  readonly pruned: readonly string[];
}

/**
 * Snapshots sealpost.db (+ outbound.sqlite as its sidecar) with VACUUM INTO under the app key, each copy
 * reopened and quick_checked; skipped when the content equals the newest generation; then retention.
 */
export async function snapshotDirectory(options: {
  readonly layout: DataLayout;
  readonly appKey: Buffer;
  readonly kind?: GenerationKind;
  readonly retention?: RetentionPolicy;
  readonly now?: Date;
}): Promise<DirectorySnapshotResult> {
  const { layout, appKey } = options;
  const dataDir = layout.root;
  const paths = backupPaths(dataDir);
  ensureDir(paths.scratch());
  ensureDir(paths.dir(DIRECTORY_BACKUP_ID));
  return withLock(backupLockFile(dataDir, DIRECTORY_BACKUP_ID), 'directory backup', async () => {
    const tmp = path.join(paths.scratch(), `${randomUUID()}.sqlite`);
    const tmpOutbound = path.join(paths.scratch(), `${randomUUID()}.queue.sqlite`);
    try {
      const main = await inWorker.vacuum(layout.directoryDb, appKey, tmp);
      const outbound = fs.existsSync(layout.outboundDb) ? await inWorker.vacuum(layout.outboundDb, appKey, tmpOutbound) : null;
      const newest = newestGeneration(readManifest(dataDir, DIRECTORY_BACKUP_ID));
      // The content fingerprint (an HMAC under the app key) decides "unchanged": page nonces make every copy's SHA-256 differ.
      const outboundHmac = outbound?.contentHmac ?? '';
      const contentHmac = `${main.contentHmac}:${outboundHmac}`;
      if (newest && newest.contentHmac === contentHmac) {
        return { generation: newest, created: false, pruned: [] };
      }
      let time = options.now ?? new Date();
      if (newest && generationIdOf(time) <= newest.id) time = new Date(new Date(newest.time).getTime() + 1);
      const id = generationIdOf(time);
      const generation: Generation = {
        id,
        time: time.toISOString(),
        size: main.size,
        sha256: main.sha256,
        verifiedWithKey: true,
        sourceSchemaVersion: main.schemaVersion,
        kind: options.kind ?? 'manual',
        contentHmac,
        ...(outbound ? { queue: { size: outbound.size, sha256: outbound.sha256 } } : {}),
      };
      if (outbound) fs.renameSync(tmpOutbound, paths.queueSidecar(DIRECTORY_BACKUP_ID, id));
      fs.renameSync(tmp, paths.generation(DIRECTORY_BACKUP_ID, id));
      fsyncDir(paths.dir(DIRECTORY_BACKUP_ID));
      const doomed = new Set(generationsToPrune([...readManifest(dataDir, DIRECTORY_BACKUP_ID).generations, generation], options.retention ?? DEFAULT_RETENTION, time).map((g) => g.id));
      doomed.delete(id);
      updateManifest(dataDir, DIRECTORY_BACKUP_ID, (gens) => [...gens, generation].filter((g) => !doomed.has(g.id)));
      for (const old of doomed) {
        removeIfExists(paths.generation(DIRECTORY_BACKUP_ID, old));
        removeIfExists(paths.queueSidecar(DIRECTORY_BACKUP_ID, old));
      }
      return { generation, created: true, pruned: [...doomed] };
    } finally {
      removeIfExists(tmp);
      removeIfExists(tmpOutbound);
    }
  }, 60_000);
}

/**
 * Puts a fetched directory generation in place as the data dir's sealpost.db (and its sidecar as
 * outbound.sqlite) after checking it opens with the app key. Refuses a data dir that already has
 * aliases. The caller must have closed every handle on those files (no open context).
 */
export async function installDirectoryGeneration(options: { readonly layout: DataLayout; readonly appKey: Buffer; readonly generationId: string }): Promise<void> {
  const { layout, appKey, generationId } = options;
  const paths = backupPaths(layout.root);
  const source = paths.generation(DIRECTORY_BACKUP_ID, generationId);
  const sidecar = paths.queueSidecar(DIRECTORY_BACKUP_ID, generationId);
  // Throws WrongKey when the app key is not the one the backup was made with.
  if (!(await inWorker.verify(source, appKey)).ok) throw new Error(`directory generation ${generationId} fails its integrity check`);
  for (const [from, to] of [[source, layout.directoryDb], ...(fs.existsSync(sidecar) ? [[sidecar, layout.outboundDb]] : [])] as const) {
    const staged = `${to}.restore-${randomUUID()}`;
    try {
      await inWorker.copy(from, staged);
      for (const suffix of ['-wal', '-shm', '-journal']) removeIfExists(`${to}${suffix}`);
      fs.renameSync(staged, to);
    } finally {
      removeIfExists(staged);
    }
  }
  fsyncDir(layout.root);
}
