// Listing, verifying and pruning local generations.
import fs from 'node:fs';
import { UserError } from '../config/index.js';
import { backupPaths, assertMailboxId, isGenerationId, backupLockFile } from './paths.js';
import { readManifest, updateManifest, type Generation } from './manifest.js';
import { withLock } from '../mailbox/index.js';
import { generationsToPrune, DEFAULT_RETENTION, type RetentionPolicy } from './retention.js';
import { removeIfExists } from '../fsutil.js';
import { inWorker } from './worker.js';

/** What `backup list --json` prints for one generation. */
export interface GenerationListing {
  readonly id: string;
  readonly time: string;
  readonly size: number;
  readonly sha256: string;
  readonly verified: boolean;
  /** "local", "local+remote:NAME[,NAME]" or "remote:NAME" (a remote-only listing). */
  readonly location: string;
  readonly kind: string;
}

export function listingOf(g: Generation): GenerationListing {
  const remotes = g.remotes?.length ? `+remote:${g.remotes.join(',')}` : '';
  return { id: g.id, time: g.time, size: g.size, sha256: g.sha256, verified: g.verifiedWithKey, location: `local${remotes}`, kind: g.kind };
}

/** Local generations, oldest first. */
export function listGenerations(dataDir: string, mailboxId: string): Generation[] {
  assertMailboxId(mailboxId);
  return [...readManifest(dataDir, mailboxId).generations];
}

export function findGeneration(dataDir: string, mailboxId: string, generationId: string): Generation {
  if (!isGenerationId(generationId)) throw new UserError(`"${generationId}" is not a generation id (see "backup list")`, 'BAD_GENERATION');
  const g = listGenerations(dataDir, mailboxId).find((x) => x.id === generationId);
  if (!g) throw new UserError(`No local backup generation ${generationId} for this alias`, 'NO_GENERATION');
  return g;
}

export interface VerifyReport {
  readonly id: string;
  /** Size and SHA-256 match the manifest. */
  readonly intact: boolean;
  /** Opened with the key and passed quick_check (null when no key was given). */
  readonly decrypts: boolean | null;
  readonly problem: string | null;
}

/** Re-hashes a generation (and its sidecars) and, given the key, opens it and runs quick_check. */
export async function verifyGeneration(dataDir: string, mailboxId: string, generationId: string, key?: Buffer | null): Promise<VerifyReport> {
  const g = findGeneration(dataDir, mailboxId, generationId);
  const paths = backupPaths(dataDir);
  const file = paths.generation(mailboxId, g.id);
  if (!fs.existsSync(file)) return { id: g.id, intact: false, decrypts: null, problem: 'the generation file is missing' };
  const digest = await inWorker.hash(file);
  let problem: string | null = null;
  if (digest.size !== g.size || digest.sha256 !== g.sha256) problem = 'the file does not match its recorded size and SHA-256';
  for (const [label, side, sidePath] of [
    ['queue', g.queue, paths.queueSidecar(mailboxId, g.id)],
    ['WAL', g.wal, paths.walSidecar(mailboxId, g.id)],
  ] as const) {
    if (!side || problem) continue;
    const d = fs.existsSync(sidePath) ? await inWorker.hash(sidePath) : null;
    if (!d || d.sha256 !== side.sha256) problem = `the ${label} file saved with it does not match its SHA-256`;
  }
  const intact = problem === null;
  let decrypts: boolean | null = null;
  if (key && intact) {
    try {
      decrypts = (await inWorker.verify(file, key)).ok;
      if (!decrypts) problem = 'the generation fails quick_check';
    } catch (error) {
      decrypts = false;
      problem = error instanceof Error && error.name === 'WrongKey' ? 'the password does not open this generation' : String(error);
    }
  }
  return { id: g.id, intact, decrypts, problem };
}

/** Deletes generations outside the retention policy; returns the deleted ids. */
export async function pruneGenerations(dataDir: string, mailboxId: string, policy: RetentionPolicy = DEFAULT_RETENTION, now = new Date()): Promise<string[]> {
  assertMailboxId(mailboxId);
  const paths = backupPaths(dataDir);
  return withLock(backupLockFile(dataDir, mailboxId), 'retention', async () => {
    const doomed = generationsToPrune(readManifest(dataDir, mailboxId).generations, policy, now);
    if (doomed.length === 0) return [];
    const ids = new Set(doomed.map((g) => g.id));
    // Manifest first: a crash afterwards leaves orphan files (harmless), never a manifest entry without its file.
    updateManifest(dataDir, mailboxId, (gens) => gens.filter((g) => !ids.has(g.id)));
    for (const id of ids) {
      removeIfExists(paths.generation(mailboxId, id));
      removeIfExists(paths.queueSidecar(mailboxId, id));
      removeIfExists(paths.walSidecar(mailboxId, id));
    }
    return [...ids];
  }, 60_000);
}
