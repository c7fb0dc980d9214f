// sealpost remote restore-all TARGET: rebuilds a lost appliance into a fresh data dir from a remote.
// Needs the old app key (SEALPOST_APP_KEY) and the target added to the fresh data dir (`remote add`).
// The newest directory generation becomes sealpost.db (domains, aliases, wrapped keys, settings) and
// outbound.sqlite (DKIM keys, outgoing mail); then each alias's newest mailbox generation is put in
// place still encrypted — no password is needed, each mailbox opens again with its old password.
import fs from 'node:fs';
import { Command } from 'commander';
import { UserError } from '../config/index.js';
import type { DataLayout } from '../config/index.js';
import { DIRECTORY_BACKUP_ID, installDirectoryGeneration } from '../backup/directory.js';
import { backupPaths } from '../backup/paths.js';
import { ensureDir, fsyncDir } from '../fsutil.js';
import { inWorker } from '../backup/worker.js';
import { WrongKey } from '../mailbox/errors.js';
import { markUidValidityRenewal } from '../mailbox/index.js';
import type { MailboxId } from '../mailbox/types.js';
import { remotesOf, type RemoteTarget } from '../remote/index.js';
import { loadTargets, saveTargets, type TargetSettings } from '../remote/targets.js';
import { printJson, withContext, withDataOption, type DataOptions } from './common.js';

export interface RestoreAllResult {
  readonly directoryGeneration: string;
  readonly aliases: number;
  readonly restored: { address: string; generation: string }[];
  readonly missing: string[];
}

/** The whole recovery; `log` gets one line per step for people (not used with --json). */
export async function restoreAll(data: string | undefined, targetName: string, log: (line: string) => void): Promise<RestoreAllResult> {
  // 1. In the fresh data dir: find and download the newest directory generation.
  const fetched = await withContext({ data }, async (ctx) => {
    if (ctx.directory.listAliases().length > 0) {
      throw new UserError('This data dir already has aliases; restore-all rebuilds a fresh data dir (use "sealpost remote restore" for one mailbox).', 'NOT_FRESH');
    }
    const remotes = remotesOf(ctx);
    const target = remotes.target(targetName);
    const generations = await remotes.listBackups(DIRECTORY_BACKUP_ID, { target: target.name });
    const newest = generations.at(-1);
    if (!newest) throw new UserError(`Remote "${target.name}" holds no backup of sealpost.db (make one with "sealpost backup now" and "sealpost remote push" on the old machine).`, 'NO_DIRECTORY_BACKUP');
    log(`downloading the directory backup ${newest.id} from ${target.name}`);
    await remotes.fetch(DIRECTORY_BACKUP_ID, newest.id, { target: target.name });
    return { generationId: newest.id, target, layout: ctx.paths, appKey: Buffer.from(ctx.appKey) };
  });

  // 2. No context open: swap sealpost.db (and outbound.sqlite) for the backup.
  try {
    await installDirectoryGeneration({ layout: fetched.layout, appKey: fetched.appKey, generationId: fetched.generationId });
  } catch (error) {
    if (error instanceof WrongKey) throw new UserError('The app key does not open this backup: set SEALPOST_APP_KEY to the key of the old machine (sealpost key show printed it).', 'WRONG_APP_KEY');
    throw error;
  } finally {
    fetched.appKey.fill(0);
  }

  // 3. The restored directory: keep the target we came through, then bring every mailbox back.
  return withContext({ data }, async (ctx) => {
    keepTarget(ctx.directory, fetched.target);
    const remotes = remotesOf(ctx);
    const aliases = ctx.directory.listAliases();
    const restored: { address: string; generation: string }[] = [];
    const missing: string[] = [];
    for (const alias of aliases) {
      // Keys "remembered on this device" were in the old machine's keychain.
      if (alias.remember) ctx.directory.setRemember(alias.id, false);
      const newest = (await remotes.listBackups(alias.mailboxId, { target: fetched.target.name })).at(-1);
      if (!newest) {
        missing.push(alias.displayAddress);
        log(`${alias.displayAddress}: no mailbox backup on ${fetched.target.name}`);
        continue;
      }
      await remotes.fetch(alias.mailboxId, newest.id, { target: fetched.target.name });
      await placeMailbox(ctx.paths, alias.mailboxId, newest.id);
      restored.push({ address: alias.displayAddress, generation: newest.id });
      log(`${alias.displayAddress}: mailbox ${newest.id} restored`);
    }
    return { directoryGeneration: fetched.generationId, aliases: aliases.length, restored, missing };
  });
}

/** The restored directory lists the old machine's targets; ours (same name) is replaced so its stored secret matches. */
function keepTarget(settings: TargetSettings, target: RemoteTarget): void {
  saveTargets(settings, [...loadTargets(settings).filter((t) => t.name !== target.name), target]);
}

/** Copies a fetched generation (and its WAL/queue sidecars) to the live names; refuses to overwrite a live mailbox. */
async function placeMailbox(layout: DataLayout, mailboxId: string, generationId: string): Promise<void> {
  const paths = backupPaths(layout.root);
  const live = layout.mailboxFile(mailboxId);
  if (fs.existsSync(live)) throw new UserError(`A mailbox file already exists for ${mailboxId}; not overwritten.`, 'EXISTS');
  ensureDir(layout.mailboxesDir);
  // The lost machine may have handed out UIDs after this backup: the first unlock renews every UIDVALIDITY.
  markUidValidityRenewal(layout.root, mailboxId as MailboxId);
  const wal = paths.walSidecar(mailboxId, generationId);
  if (fs.existsSync(wal)) await inWorker.copy(wal, `${live}-wal`);
  await inWorker.copy(paths.generation(mailboxId, generationId), live);
  fsyncDir(layout.mailboxesDir);
  const queue = paths.queueSidecar(mailboxId, generationId);
  const liveQueue = layout.queueFile(mailboxId);
  if (fs.existsSync(queue) && !fs.existsSync(liveQueue)) {
    ensureDir(layout.queueDir);
    await inWorker.copy(queue, liveQueue);
    fsyncDir(layout.queueDir);
  }
}

export function restoreAllCommand(): Command {
  return withDataOption(
    new Command('restore-all')
      .argument('<target>', 'the remote target (add it to this fresh data dir first with "sealpost remote add")')
      .description('rebuild a lost machine into a fresh data dir: sealpost.db and every mailbox from the remote (needs the old app key in SEALPOST_APP_KEY)')
      .addHelpText('after', `
Steps on the new machine:
  export SEALPOST_APP_KEY=<the 64 hex characters "sealpost key show" printed on the old machine>
  printf '%s\\n' "$SECRET" | sealpost remote add r2 --type r2 --account-id … --bucket … --access-key-id …
  sealpost remote restore-all r2
Then log in with the old alias passwords.`),
  )
    .option('--json', 'print the result as JSON')
    .action(async (target: string, options: DataOptions & { json?: boolean }) => {
      const result = await restoreAll(options.data, target, options.json ? () => undefined : (line) => process.stderr.write(`${line}\n`));
      if (options.json) printJson(result);
      else process.stdout.write(`restored ${result.aliases} alias(es) and ${result.restored.length} mailbox(es) from ${target}${result.missing.length ? `; no mailbox backup for: ${result.missing.join(', ')}` : ''}\n`);
    });
}
