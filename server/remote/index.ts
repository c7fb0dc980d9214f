// Remote sync of backup generations through rclone: push (upload new generations, apply remote
// retention, upload the remote manifest), list, fetch (download + verify into the local backups).
// Objects: <bucket>/<prefix><mailbox uuid>/<generation id>.sqlite (+ sidecars) and manifest.json —
// the uuid, never the address. Every object is still encrypted (mailbox key / app key).
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { UserError } from '../config/index.js';
import { backupPaths, assertMailboxId, isGenerationId, timeOfGenerationId, backupLockFile } from '../backup/paths.js';
import { readManifest, updateManifest, type Generation } from '../backup/manifest.js';
import { withLock } from '../mailbox/index.js';
import { generationsToPrune } from '../backup/retention.js';
import { DIRECTORY_BACKUP_ID } from '../backup/directory.js';
import { ensureDir, fsyncDir, makePrivate, removeIfExists } from '../fsutil.js';
import { inWorker } from '../backup/worker.js';
import { SecretStore } from '../keychain/index.js';
import type { GenerationListing } from '../backup/generations.js';
import { baseEnv, findRclone, runRclone, type Env, type RcloneLogLine, type RcloneRun } from './rclone.js';
import {
  describeTarget,
  endpointOf,
  loadTargets,
  makeTarget,
  pickTarget,
  rcloneTargetEnv,
  saveTargets,
  secretName,
  type NewTarget,
  type RemoteTarget,
  type TargetSecrets,
  type TargetSettings,
} from './targets.js';

export { rcloneVersion, findRclone } from './rclone.js';
export { makeTarget, describeTarget, type RemoteTarget, type NewTarget, type TargetSettings, type TargetSecrets } from './targets.js';

export class RemoteError extends UserError {
  constructor(message: string, code = 'REMOTE') {
    super(message, code);
  }
}

export interface RemoteProgress {
  readonly phase: 'upload' | 'download' | 'list' | 'delete';
  readonly bytes: number;
  readonly totalBytes: number;
  readonly transfers: number;
  readonly totalTransfers: number;
}

export interface PushResult {
  readonly target: string;
  readonly uploaded: string[];
  readonly pruned: string[];
  readonly remote: string[];
}

export interface RemoteDeps {
  readonly dataDir: string;
  readonly settings: TargetSettings;
  readonly secrets: TargetSecrets;
  readonly env?: Env;
  /** rclone's idle I/O timeout in seconds (default SEALPOST_RCLONE_TIMEOUT or 30). */
  readonly timeoutSeconds?: number;
}

/** Entry of the remote manifest.json (same fields as the local manifest). */
type RemoteGeneration = Omit<Generation, 'remotes'>;

/** Flags on every call; the short retries and timeouts make a wrong secret or dead endpoint fail fast, never hang. */
function commonFlags(timeoutSeconds: number): string[] {
  return [
    '--fast-list', // always: s3rver and R2 listings are only right (and cheapest) recursively
    '--use-json-log',
    '--log-level',
    'INFO',
    '--stats',
    '1s',
    '--retries',
    '1',
    '--low-level-retries',
    '1',
    '--contimeout',
    `${Math.min(10, timeoutSeconds)}s`,
    '--timeout',
    `${timeoutSeconds}s`,
  ];
}

/** Turns rclone's failure into one sentence a user can act on: what failed (credentials, bucket, network) and what to do. */
export function explainFailure(target: RemoteTarget, run: RcloneRun): RemoteError {
  const text = run.errors.join('\n');
  const endpoint = endpointOf(target);
  const slow = (): RemoteError =>
    new RemoteError(`Remote "${target.name}" did not answer in time (${endpoint}): check that the endpoint is right and reachable from this machine, or raise SEALPOST_RCLONE_TIMEOUT.`, 'REMOTE_TIMEOUT');
  if (run.timedOut) return slow();
  if (/SignatureDoesNotMatch|InvalidAccessKeyId|AccessDenied|InvalidToken|status code: 40[13]|Forbidden|Unauthorized/i.test(text)) {
    return new RemoteError(`Remote "${target.name}" refused the credentials: check the access key id and the secret (and that the key may read, write and delete in bucket "${target.bucket}"), then add the remote again.`, 'REMOTE_AUTH');
  }
  if (/timeout awaiting response headers|Client\.Timeout|deadline exceeded|i\/o timeout/i.test(text)) return slow();
  if (/NoSuchBucket|bucket.*not.*exist/i.test(text)) {
    return new RemoteError(`Bucket "${target.bucket}" does not exist on remote "${target.name}" (${endpoint}): create it, or add the remote again with the right --bucket.`, 'REMOTE_BUCKET');
  }
  const network = /connection refused|no such host|network is unreachable|TLS handshake|certificate|connection reset/i.exec(text);
  if (network || /dial tcp/i.test(text)) {
    return new RemoteError(`Cannot reach remote "${target.name}" at ${endpoint}${network ? ` (${network[0].toLowerCase()})` : ''}: check the endpoint URL and that the service is up and reachable from this machine.`, 'REMOTE_UNREACHABLE');
  }
  const last = (run.errors.filter(Boolean).pop() ?? `exit code ${run.code}`).split('\n')[0] as string;
  return new RemoteError(`Remote "${target.name}" failed: ${last.slice(0, 300)}; run "sealpost remote test ${target.name}" to see which step fails.`);
}

/** The outcome of the last test or push of a target, as its card shows it. */
export interface RemoteActivity {
  /** ISO time it ended. */
  readonly at: string;
  readonly ok: boolean;
  /** What came of it in one sentence: objects counted or uploaded, or why it failed. */
  readonly summary: string;
}

/** Directory setting: target id → its last test and last push. */
const ACTIVITY_SETTING = 'remote.activity';
type ActivityBook = Record<string, { test?: RemoteActivity; push?: RemoteActivity }>;

export class Remotes {
  private readonly env: Env;
  private readonly timeoutSeconds: number;

  constructor(private readonly deps: RemoteDeps) {
    this.env = deps.env ?? process.env;
    const fromEnv = Number(this.env.SEALPOST_RCLONE_TIMEOUT);
    this.timeoutSeconds = deps.timeoutSeconds ?? (Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 30);
  }

  list(): RemoteTarget[] {
    return loadTargets(this.deps.settings);
  }

  /** Every target as `remote list` and the admin show it (no secret), with its last test and last push. */
  describe(): Record<string, unknown>[] {
    const book = this.activity();
    return this.list().map((t) => ({ ...describeTarget(t), lastTest: book[t.id]?.test ?? null, lastPush: book[t.id]?.push ?? null }));
  }

  private activity(): ActivityBook {
    const value = this.deps.settings.getSetting(ACTIVITY_SETTING);
    return value && typeof value === 'object' ? (value as ActivityBook) : {};
  }

  private record(target: RemoteTarget, kind: 'test' | 'push', ok: boolean, summary: string): void {
    const book = this.activity();
    // only targets that still exist keep a record
    const ids = new Set(this.list().map((t) => t.id));
    const kept: ActivityBook = Object.fromEntries(Object.entries(book).filter(([id]) => ids.has(id)));
    kept[target.id] = { ...kept[target.id], [kind]: { at: new Date().toISOString(), ok, summary: summary.slice(0, 500) } };
    this.deps.settings.setSetting(ACTIVITY_SETTING, kept);
  }

  /** Remembers how a push of every backup to `name` ended (pushBackups calls it), for the target's card. */
  recordPush(name: string, ok: boolean, summary: string): void {
    this.record(this.target(name), 'push', ok, summary);
  }

  /** Saves a new target and its secret; the name must be free. */
  async add(input: NewTarget, secret: string): Promise<RemoteTarget> {
    if (!secret) throw new UserError('The secret access key is empty', 'REMOTE_CONFIG');
    const targets = this.list();
    if (targets.some((t) => t.name === input.name)) throw new UserError(`A remote named "${input.name}" already exists`, 'REMOTE_EXISTS');
    const target = makeTarget(input);
    await this.deps.secrets.setSecret(secretName(target), secret);
    saveTargets(this.deps.settings, [...targets, target]);
    return target;
  }

  async remove(name: string): Promise<void> {
    const targets = this.list();
    const target = pickTarget(targets, name);
    saveTargets(
      this.deps.settings,
      targets.filter((t) => t.id !== target.id),
    );
    await this.deps.secrets.deleteSecret(secretName(target));
  }

  target(name?: string): RemoteTarget {
    return pickTarget(this.list(), name);
  }

  private async rclone(target: RemoteTarget, args: string[], options: { stdin?: Buffer; onLog?: (l: RcloneLogLine) => void } = {}): Promise<RcloneRun> {
    const bin = findRclone(this.env);
    if (!bin) throw new RemoteError('rclone was not found (set SEALPOST_RCLONE, bundle resources/bin/rclone, or install it)', 'NO_RCLONE');
    const secret = await this.deps.secrets.getSecret(secretName(target));
    if (secret === null) throw new RemoteError(`The secret of remote "${target.name}" is missing from the keychain; add the remote again`, 'REMOTE_SECRET');
    const home = path.join(backupPaths(this.deps.dataDir).scratch(), `rclone-${randomUUID()}`);
    ensureDir(home);
    try {
      return await runRclone({
        bin,
        args: [...args, ...commonFlags(this.timeoutSeconds)],
        env: { ...baseEnv(this.env, home), ...rcloneTargetEnv(target, secret) },
        ...(options.stdin ? { stdin: options.stdin } : {}),
        ...(options.onLog ? { onLog: options.onLog } : {}),
        // A transfer can be long, but a listing or a manifest never is: bound both so nothing hangs.
        killAfterMs: args[0] === 'copy' ? 6 * 60 * 60_000 : Math.max(60_000, this.timeoutSeconds * 4_000),
      });
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  }

  private remotePath(target: RemoteTarget, mailboxId?: string): string {
    return `sealpost:${target.bucket}/${target.prefix}${mailboxId ? `${mailboxId}/` : ''}`;
  }

  /**
   * Proves the target works for what push and restore do: writes a probe object (random name under the
   * prefix, random content), reads it back and compares the bytes, deletes it, then counts the objects
   * under the prefix. Throws a RemoteError naming what failed (credentials, bucket, network).
   */
  async test(name?: string): Promise<{ target: string; objects: number }> {
    const target = this.target(name);
    try {
      const result = await this.probe(target);
      this.record(target, 'test', true, `The bucket answered: ${result.objects} object${result.objects === 1 ? '' : 's'} under the prefix.`);
      return result;
    } catch (error) {
      this.record(target, 'test', false, error instanceof Error ? error.message : String(error));
      throw error;
    }
  }

  private async probe(target: RemoteTarget): Promise<{ target: string; objects: number }> {
    const probe = `${this.remotePath(target)}.sealpost-probe-${randomUUID()}`;
    const content = randomBytes(64);
    const written = await this.rclone(target, ['rcat', probe], { stdin: content });
    if (written.code !== 0) throw explainFailure(target, written);
    let failure: unknown = null;
    try {
      const read = await this.rclone(target, ['cat', probe]);
      if (read.code !== 0) throw explainFailure(target, read);
      if (!read.stdout.equals(content)) {
        throw new RemoteError(`Remote "${target.name}" returned different bytes than were written to it: check that the endpoint is an S3 service and not a proxy or cache that alters objects.`, 'REMOTE_CORRUPT');
      }
    } catch (error) {
      failure = error;
    }
    // Deleting is part of the test (remote retention needs it); the probe goes even when reading failed.
    const deleted = await this.rclone(target, ['deletefile', probe]);
    if (failure) throw failure;
    if (deleted.code !== 0) throw explainFailure(target, deleted);
    const run = await this.rclone(target, ['lsjson', '-R', '--files-only', this.remotePath(target)]);
    if (run.code !== 0 && !isNotFound(run)) throw explainFailure(target, run);
    const objects = run.code === 0 ? (JSON.parse(run.stdout.toString('utf8') || '[]') as unknown[]).length : 0;
    return { target: target.name, objects };
  }

  /** Object names under <prefix><uuid>/ (empty when the directory does not exist yet). */
  private async listObjects(target: RemoteTarget, mailboxId: string): Promise<{ name: string; size: number }[]> {
    const run = await this.rclone(target, ['lsjson', '--files-only', this.remotePath(target, mailboxId)]);
    if (run.code !== 0) {
      if (isNotFound(run)) return [];
      throw explainFailure(target, run);
    }
    return (JSON.parse(run.stdout.toString('utf8') || '[]') as { Name: string; Size: number }[]).map((o) => ({ name: o.Name, size: o.Size }));
  }

  private async readRemoteManifest(target: RemoteTarget, mailboxId: string): Promise<RemoteGeneration[]> {
    const run = await this.rclone(target, ['cat', `${this.remotePath(target, mailboxId)}manifest.json`]);
    if (run.code !== 0) {
      if (isNotFound(run)) return [];
      throw explainFailure(target, run);
    }
    try {
      const parsed = JSON.parse(run.stdout.toString('utf8')) as { generations?: RemoteGeneration[] };
      return Array.isArray(parsed.generations) ? parsed.generations : [];
    } catch {
      return [];
    }
  }

  /** Uploads local generations missing on the target, prunes by the target's retention, writes its manifest. */
  async push(mailboxId: string, options: { target?: string; onProgress?: (p: RemoteProgress) => void } = {}): Promise<PushResult> {
    assertBackupId(mailboxId);
    const target = this.target(options.target);
    const paths = backupPaths(this.deps.dataDir);
    return withLock(backupLockFile(this.deps.dataDir, mailboxId), 'remote push', async () => {
      const local = readManifest(this.deps.dataDir, mailboxId).generations;
      const objects = new Set((await this.listObjects(target, mailboxId)).map((o) => o.name));
      const remoteManifest = await this.readRemoteManifest(target, mailboxId);
      // The candidate set: what is on the target (manifest entries whose object exists, or bare objects) plus every local generation.
      const onRemote = new Map<string, RemoteGeneration>();
      for (const g of remoteManifest) if (objects.has(`${g.id}.sqlite`)) onRemote.set(g.id, g);
      for (const name of objects) {
        const id = name.replace(/\.sqlite$/, '');
        if (name.endsWith('.sqlite') && !name.endsWith('.queue.sqlite') && isGenerationId(id) && !onRemote.has(id)) {
          const l = local.find((g) => g.id === id);
          onRemote.set(id, l ? stripRemotes(l) : { id, time: timeOfGenerationId(id).toISOString(), size: 0, sha256: '', verifiedWithKey: false, sourceSchemaVersion: null, kind: 'manual' });
        }
      }
      const candidates = new Map(onRemote);
      for (const g of local) if (!candidates.has(g.id)) candidates.set(g.id, stripRemotes(g));
      // Retention first, so a generation the target would prune is never uploaded (nor re-uploaded on every push).
      const doomed = generationsToPrune([...candidates.values()], target.retention);
      const doomedIds = new Set(doomed.map((g) => g.id));
      const missing = local.filter((g) => !onRemote.has(g.id) && !doomedIds.has(g.id));
      const files = missing.flatMap((g) => [`${g.id}.sqlite`, ...(g.queue ? [`${g.id}.queue.sqlite`] : []), ...(g.wal ? [`${g.id}.sqlite-wal`] : [])]);
      if (files.length) {
        const list = path.join(paths.scratch(), `push-${randomUUID()}.txt`);
        fs.writeFileSync(list, files.join('\n') + '\n', { mode: 0o600 });
        try {
          const run = await this.rclone(target, ['copy', '--files-from-raw', list, '--no-traverse', paths.dir(mailboxId), this.remotePath(target, mailboxId)], {
            onLog: progressRelay('upload', options.onProgress),
          });
          if (run.code !== 0) throw explainFailure(target, run);
        } finally {
          removeIfExists(list);
        }
      }
      const pruneNames = [...onRemote.keys()].filter((id) => doomedIds.has(id)).flatMap((id) => [`${id}.sqlite`, `${id}.queue.sqlite`, `${id}.sqlite-wal`]).filter((n) => objects.has(n));
      if (pruneNames.length) {
        const list = path.join(paths.scratch(), `prune-${randomUUID()}.txt`);
        fs.writeFileSync(list, pruneNames.join('\n') + '\n', { mode: 0o600 });
        try {
          const run = await this.rclone(target, ['delete', '--files-from-raw', list, this.remotePath(target, mailboxId)]);
          if (run.code !== 0) throw explainFailure(target, run);
        } finally {
          removeIfExists(list);
        }
      }
      const byId = new Map([...candidates].filter(([id]) => !doomedIds.has(id) && (onRemote.has(id) || missing.some((g) => g.id === id))));
      const remaining = [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
      const manifest = Buffer.from(JSON.stringify({ version: 1, mailboxId, generations: remaining }, null, 2) + '\n');
      const run = await this.rclone(target, ['rcat', `${this.remotePath(target, mailboxId)}manifest.json`], { stdin: manifest });
      if (run.code !== 0) throw explainFailure(target, run);
      const remoteIds = new Set(remaining.map((g) => g.id));
      updateManifest(this.deps.dataDir, mailboxId, (gens) =>
        gens.map((g) => {
          const others = (g.remotes ?? []).filter((r) => r !== target.name);
          return { ...g, remotes: remoteIds.has(g.id) ? [...others, target.name] : others };
        }),
      );
      return { target: target.name, uploaded: missing.map((g) => g.id), pruned: [...onRemote.keys()].filter((id) => doomedIds.has(id)), remote: [...remoteIds] };
    }, 120_000);
  }

  /** Generations on the target, oldest first, as `backup list` shows them. */
  async listBackups(mailboxId: string, options: { target?: string } = {}): Promise<GenerationListing[]> {
    assertBackupId(mailboxId);
    const target = this.target(options.target);
    const objects = new Map((await this.listObjects(target, mailboxId)).map((o) => [o.name, o.size]));
    const manifest = new Map((await this.readRemoteManifest(target, mailboxId)).map((g) => [g.id, g]));
    const out: GenerationListing[] = [];
    for (const [name, size] of objects) {
      const id = name.replace(/\.sqlite$/, '');
      if (!name.endsWith('.sqlite') || name.endsWith('.queue.sqlite') || !isGenerationId(id)) continue;
      const g = manifest.get(id);
      out.push({
        id,
        time: g?.time ?? timeOfGenerationId(id).toISOString(),
        size,
        sha256: g?.sha256 ?? '',
        verified: g?.verifiedWithKey ?? false,
        location: `remote:${target.name}`,
        kind: g?.kind ?? 'manual',
      });
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Downloads a generation into the local backups (verifying its SHA-256 against the remote manifest)
   * so that restore can use it; returns its local manifest entry.
   */
  async fetch(mailboxId: string, generationId: string, options: { target?: string; onProgress?: (p: RemoteProgress) => void } = {}): Promise<Generation> {
    assertBackupId(mailboxId);
    if (!isGenerationId(generationId)) throw new UserError(`"${generationId}" is not a generation id (see "remote list-backups")`, 'BAD_GENERATION');
    const target = this.target(options.target);
    const existing = readManifest(this.deps.dataDir, mailboxId).generations.find((g) => g.id === generationId);
    if (existing) return existing;
    const entry = (await this.readRemoteManifest(target, mailboxId)).find((g) => g.id === generationId);
    const objects = new Set((await this.listObjects(target, mailboxId)).map((o) => o.name));
    if (!objects.has(`${generationId}.sqlite`)) throw new UserError(`Generation ${generationId} does not exist on remote "${target.name}" for this alias: list the generations with "sealpost remote list-backups ADDRESS".`, 'NO_GENERATION');
    const paths = backupPaths(this.deps.dataDir);
    const stage = path.join(paths.scratch(), `fetch-${randomUUID()}`);
    ensureDir(stage);
    try {
      const files = [`${generationId}.sqlite`, `${generationId}.queue.sqlite`, `${generationId}.sqlite-wal`].filter((n) => objects.has(n));
      const list = path.join(stage, '.files');
      fs.writeFileSync(list, files.join('\n') + '\n', { mode: 0o600 });
      const run = await this.rclone(target, ['copy', '--files-from-raw', list, '--no-traverse', this.remotePath(target, mailboxId), stage], {
        onLog: progressRelay('download', options.onProgress),
      });
      if (run.code !== 0) throw explainFailure(target, run);
      const digest = await inWorker.hash(path.join(stage, `${generationId}.sqlite`));
      if (entry?.sha256 && entry.sha256 !== digest.sha256) throw new RemoteError(`Generation ${generationId} on remote "${target.name}" is damaged (SHA-256 mismatch)`, 'REMOTE_DAMAGED');
      const side = async (name: string): Promise<{ size: number; sha256: string } | undefined> =>
        objects.has(name) ? inWorker.hash(path.join(stage, name)) : undefined;
      const queue = await side(`${generationId}.queue.sqlite`);
      const wal = await side(`${generationId}.sqlite-wal`);
      const generation: Generation = {
        id: generationId,
        time: entry?.time ?? timeOfGenerationId(generationId).toISOString(),
        size: digest.size,
        sha256: digest.sha256,
        verifiedWithKey: entry?.verifiedWithKey ?? false,
        sourceSchemaVersion: entry?.sourceSchemaVersion ?? null,
        kind: entry?.kind ?? 'manual',
        ...(entry?.contentHmac ? { contentHmac: entry.contentHmac } : {}),
        ...(queue ? { queue } : {}),
        ...(wal ? { wal } : {}),
        remotes: [target.name],
      };
      return await withLock(backupLockFile(this.deps.dataDir, mailboxId), 'remote fetch', async () => {
        ensureDir(paths.dir(mailboxId));
        if (queue) fs.renameSync(path.join(stage, `${generationId}.queue.sqlite`), paths.queueSidecar(mailboxId, generationId));
        if (wal) fs.renameSync(path.join(stage, `${generationId}.sqlite-wal`), paths.walSidecar(mailboxId, generationId));
        fs.renameSync(path.join(stage, `${generationId}.sqlite`), paths.generation(mailboxId, generationId));
        // rclone creates what it downloads under the process umask: make the generation 0600 whatever that was
        for (const file of [paths.generation(mailboxId, generationId), paths.queueSidecar(mailboxId, generationId), paths.walSidecar(mailboxId, generationId)]) makePrivate(file);
        fsyncDir(paths.dir(mailboxId));
        updateManifest(this.deps.dataDir, mailboxId, (gens) => [...gens.filter((g) => g.id !== generationId), generation]);
        return generation;
      }, 60_000);
    } finally {
      fs.rmSync(stage, { recursive: true, force: true });
    }
  }
}

/** A mailbox uuid, or the directory's backup id (its generations travel the same way; see backup/directory.ts). */
function assertBackupId(id: string): void {
  if (id !== DIRECTORY_BACKUP_ID) assertMailboxId(id);
}

function stripRemotes(g: Generation): RemoteGeneration {
  const { remotes: _remotes, ...rest } = g;
  return rest;
}

function isNotFound(run: RcloneRun): boolean {
  return run.code === 3 || run.errors.some((e) => /directory not found|object not found|not found/i.test(e));
}

function progressRelay(phase: RemoteProgress['phase'], onProgress?: (p: RemoteProgress) => void): ((l: RcloneLogLine) => void) | undefined {
  if (!onProgress) return undefined;
  return (line) => {
    if (line.stats) onProgress({ phase, bytes: line.stats.bytes, totalBytes: line.stats.totalBytes, transfers: line.stats.transfers, totalTransfers: line.stats.totalTransfers });
  };
}

/** The Remotes of an opened app context (directory settings + keychain secrets). */
export function remotesOf(ctx: { paths: { root: string }; directory: TargetSettings; appKey: Buffer; config: { env: Env } }): Remotes {
  return new Remotes({ dataDir: ctx.paths.root, settings: ctx.directory, secrets: new SecretStore(ctx.paths.root, ctx.appKey, { ...ctx.config.env }), env: ctx.config.env });
}
