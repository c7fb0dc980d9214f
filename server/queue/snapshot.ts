// A point-in-time copy of one sealed-queue file for a backup generation, taken through SQLite so that
// frames still in the WAL are in it and an enqueue committing meanwhile is wholly in or wholly out.
import path from 'node:path';
import { createPrivateFile, fsyncFile } from '../fsutil.js';
import { queueFileKey } from './index.js';
import { SqliteFileMissing } from '../sqlite.js';
import { openQueueFile, type QueueDatabase } from './sqlite.js';

export interface QueueSnapshot {
  /** Queued (sealed) messages in the copy. */
  readonly rows: number;
}

/** Opens an existing queue file with its cipher settings without creating or changing anything; null when absent. */
function openExisting(file: string, fileKey: Buffer, readonly: boolean): QueueDatabase | null {
  try {
    // The copy profile: busy_timeout and temp_store=MEMORY (VACUUM's scratch never decrypted on disk), nothing written.
    return openQueueFile(file, fileKey, path.basename(file, '.sqlite'), { profile: 'copy', mustExist: true, readonly });
  } catch (error) {
    if (error instanceof SqliteFileMissing) return null;
    throw error;
  }
}

/**
 * Copies the queue file `file` into `target` with VACUUM INTO (same cipher and key, written by SQLite from one
 * read transaction), then reopens the copy and quick_checks it. Returns null when there is nothing to copy:
 * no file (none yet, or created after the backup started) or one still being created (no table yet).
 * Throws QueueFileUnreadable when the app key does not open it.
 */
export function snapshotQueueFile(file: string, appKey: Uint8Array, target: string): QueueSnapshot | null {
  const fileKey = queueFileKey(appKey);
  try {
    const db = openExisting(file, fileKey, false);
    if (!db) return null;
    try {
      const ready = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'item'").get();
      if (!ready) return null;
      createPrivateFile(target); // SQLite would create it 0644; an empty file is a valid VACUUM INTO target
      db.prepare('VACUUM INTO ?').run(target);
    } finally {
      db.close();
    }
    fsyncFile(target);
    const copy = openExisting(target, fileKey, true);
    if (!copy) throw new Error('the queue snapshot vanished');
    try {
      const check = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`the queue snapshot fails quick_check (${String(check)})`);
      return { rows: (copy.prepare('SELECT count(*) AS n FROM item').get() as { n: number }).n };
    } finally {
      copy.close();
    }
  } finally {
    fileKey.fill(0);
  }
}
