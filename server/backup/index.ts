// server/backup: snapshots, generations + manifest, retention, restore, export/import.
// The functions below are the ones server/ops wraps; they take the few handles they need for the keys.
import type { DataLayout } from '../config/index.js';
import type { AliasRecord } from '../directory/index.js';
import { wipe, type KeyRing } from '../crypto/index.js';
import type { MailboxId, MailboxStore } from '../mailbox/types.js';
import { snapshotMailbox, type SnapshotResult } from './snapshot.js';
import type { GenerationKind } from './manifest.js';
import { DEFAULT_RETENTION, parseRetention, type RetentionPolicy } from './retention.js';

export { snapshotMailbox, type SnapshotOptions, type SnapshotResult } from './snapshot.js';
export { readManifest, type Generation, type Manifest, type GenerationKind } from './manifest.js';
export { listGenerations, findGeneration, verifyGeneration, pruneGenerations, listingOf, type GenerationListing, type VerifyReport } from './generations.js';
export { generationsToPrune, parseRetention, DEFAULT_RETENTION, type RetentionPolicy } from './retention.js';
export { restoreReplace, restoreFolders, cleanInterruptedRestore, withReadonlyCopy, type RestoreResult, type RestoreStep } from './restore.js';
export { exportMbox, exportEml, exportSqlite, importArchive, detectImportKind, type ExportFormat, type ExportResult, type ImportKind } from './archive.js';
export { backupEvents, type MailboxReplaceEvent } from './events.js';
export { isMailboxLocked } from '../mailbox/index.js';
export type { TransferProgress, TransferTotals } from './transfer.js';

/** Settings keys (directory settings) and environment variables of the backup schedule. */
export const BACKUP_SETTINGS = { time: 'backup.time', retention: 'backup.retention', enabled: 'backup.enabled' } as const;

export interface BackupSchedule {
  /** Daily local time "HH:MM". */
  readonly time: string;
  readonly retention: RetentionPolicy;
  readonly enabled: boolean;
}

/** SEALPOST_BACKUP_TIME / _RETENTION / _ENABLED over saved settings over defaults (02:30, 7d,4w,12m, on). */
export function backupSchedule(env: Readonly<Record<string, string | undefined>>, settings: { getSetting(key: string): unknown }): BackupSchedule {
  const pick = (envName: string, key: string): string | undefined => {
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    const saved = settings.getSetting(key);
    return saved === undefined || saved === null ? undefined : String(saved);
  };
  const time = pick('SEALPOST_BACKUP_TIME', BACKUP_SETTINGS.time) ?? '02:30';
  if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(time)) throw new Error(`backup time "${time}" is not HH:MM`);
  const retentionText = pick('SEALPOST_BACKUP_RETENTION', BACKUP_SETTINGS.retention);
  const enabledText = pick('SEALPOST_BACKUP_ENABLED', BACKUP_SETTINGS.enabled) ?? 'true';
  return {
    time,
    retention: retentionText ? parseRetention(retentionText) : DEFAULT_RETENTION,
    enabled: !/^(0|false|off|no)$/i.test(enabledText),
  };
}

/**
 * Snapshots one alias's mailbox: with its key when it is unlocked in this process (VACUUM INTO,
 * verified), else a quiescent copy under the lock; the sealed queue through SQLite with the app key.
 * `key` overrides (a CLI given the password).
 */
export async function backupAlias(ctx: { readonly paths: DataLayout; readonly keyRing: KeyRing; readonly mailboxes: MailboxStore; readonly appKey: Buffer }, alias: AliasRecord, kind: GenerationKind, key?: Buffer | null): Promise<SnapshotResult> {
  const material = key ? null : ctx.keyRing.get(alias.id);
  try {
    return await snapshotMailbox({
      dataDir: ctx.paths.root,
      mailboxId: alias.mailboxId,
      key: key ?? material?.mailboxKey ?? null,
      appKey: ctx.appKey,
      openHere: ctx.mailboxes.isOpen(alias.mailboxId as MailboxId),
      kind,
    });
  } finally {
    if (material) {
      wipe(material.mailboxKey);
      wipe(material.privateKey);
    }
  }
}
