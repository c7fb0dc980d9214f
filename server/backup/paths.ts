// Where backups live: backups/<mailbox uuid>/<UTC timestamp>.sqlite (+ manifest.json). Never an address.
import path from 'node:path';
import { dataLayout, type DataLayout } from '../config/index.js';

export interface BackupPaths {
  readonly layout: DataLayout;
  /** backups/<uuid>/ */
  dir(mailboxId: string): string;
  manifest(mailboxId: string): string;
  /** backups/<uuid>/<id>.sqlite */
  generation(mailboxId: string, generationId: string): string;
  /** Queue sidecar saved with a generation. */
  queueSidecar(mailboxId: string, generationId: string): string;
  /** WAL sidecar of a locked copy that still had an un-checkpointed WAL (SQLite replays it on open). */
  walSidecar(mailboxId: string, generationId: string): string;
  /** Scratch space inside the data dir (same filesystem → atomic renames; never /tmp, files stay encrypted). */
  scratch(): string;
}

export function backupPaths(dataDir: string): BackupPaths {
  const layout = dataLayout(dataDir);
  const dir = (id: string): string => path.join(layout.backupsDir, id);
  return {
    layout,
    dir,
    manifest: (id) => path.join(dir(id), 'manifest.json'),
    generation: (id, gen) => path.join(dir(id), `${gen}.sqlite`),
    queueSidecar: (id, gen) => path.join(dir(id), `${gen}.queue.sqlite`),
    walSidecar: (id, gen) => path.join(dir(id), `${gen}.sqlite-wal`),
    scratch: () => path.join(layout.root, 'tmp'),
  };
}

/** backups/<uuid>/.lock: serialises snapshot, retention, restore and push on one manifest (server/mailbox/lock.ts). */
export function backupLockFile(dataDir: string, mailboxId: string): string {
  return path.join(dataLayout(dataDir).backupsDir, mailboxId, '.lock');
}

const GENERATION_ID = /^\d{8}T\d{6}\.\d{3}Z$/;

/** Generation id = its UTC time, e.g. 20250102T030405.123Z: sortable, filesystem- and URL-safe. */
export function generationIdOf(time: Date): string {
  return time.toISOString().replace(/[-:]/g, '');
}

export function isGenerationId(value: string): boolean {
  return GENERATION_ID.test(value);
}

export function timeOfGenerationId(id: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/.exec(id);
  if (!m) throw new Error(`not a generation id: ${id}`);
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Guards every path built from a mailbox id. */
export function assertMailboxId(id: string): void {
  if (!UUID.test(id)) throw new Error('invalid mailbox id');
}
