// The per-mailbox manifest: every local generation with its size, SHA-256 and how it was verified.
import fs from 'node:fs';
import { backupPaths } from './paths.js';
import { ensureDir, writeFileAtomic } from '../fsutil.js';

export type GenerationKind = 'scheduled' | 'manual' | 'pre-restore';

export interface SidecarFile {
  readonly size: number;
  readonly sha256: string;
  /** Keyed fingerprint of the decrypted content (queue copies, whose bytes differ on every copy); used for dedupe. */
  readonly contentHmac?: string;
}

export interface Generation {
  /** UTC timestamp id, e.g. 20250102T030405.123Z; what `restore` and `verify` take. */
  readonly id: string;
  /** ISO 8601 UTC. */
  readonly time: string;
  readonly size: number;
  /** Hex SHA-256 of the generation file (dedupe and verification). */
  readonly sha256: string;
  /** True when the snapshot was opened with the mailbox key and passed quick_check. */
  readonly verifiedWithKey: boolean;
  /** PRAGMA user_version of the source (null when the mailbox was locked). */
  readonly sourceSchemaVersion: number | null;
  readonly kind: GenerationKind;
  /** Keyed fingerprint of the decrypted content (unlocked snapshots only); used for dedupe. */
  readonly contentHmac?: string;
  /** Sealed inbound queue saved beside it (still app-key encrypted). */
  readonly queue?: SidecarFile;
  /** Un-checkpointed WAL of a locked copy (rare: only after a crash of an unlocked session). */
  readonly wal?: SidecarFile;
  /** Remote targets this generation has been pushed to. */
  readonly remotes?: readonly string[];
}

export interface Manifest {
  readonly version: 1;
  readonly mailboxId: string;
  /** Oldest first. */
  readonly generations: readonly Generation[];
}

export function readManifest(dataDir: string, mailboxId: string): Manifest {
  const file = backupPaths(dataDir).manifest(mailboxId);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, mailboxId, generations: [] };
    throw error;
  }
  const parsed = JSON.parse(text) as Manifest;
  if (parsed.version !== 1 || !Array.isArray(parsed.generations)) throw new Error('backup manifest has an unknown format');
  return { ...parsed, generations: [...parsed.generations].sort((a, b) => a.id.localeCompare(b.id)) };
}

export function writeManifest(dataDir: string, manifest: Manifest): void {
  const paths = backupPaths(dataDir);
  ensureDir(paths.dir(manifest.mailboxId));
  const sorted = [...manifest.generations].sort((a, b) => a.id.localeCompare(b.id));
  writeFileAtomic(paths.manifest(manifest.mailboxId), JSON.stringify({ ...manifest, generations: sorted }, null, 2) + '\n');
}

/** Applies `change` to the manifest read fresh from disk (callers hold the backup lock). */
export function updateManifest(dataDir: string, mailboxId: string, change: (generations: Generation[]) => Generation[]): Manifest {
  const current = readManifest(dataDir, mailboxId);
  const next: Manifest = { version: 1, mailboxId, generations: change([...current.generations]) };
  writeManifest(dataDir, next);
  return next;
}

export function newestGeneration(manifest: Manifest): Generation | null {
  return manifest.generations.length ? (manifest.generations[manifest.generations.length - 1] as Generation) : null;
}
