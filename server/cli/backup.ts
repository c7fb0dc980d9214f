// sealpost backup now|list|verify, restore, export, import
// Commands that change a mailbox (or need its key) run in the server when one is running on the data dir
// (server/control), else here; the work itself is in server/ops (through server/control), this file parses and prints.
import path from 'node:path';
import { Command, Option } from 'commander';
import { UserError } from '../config/index.js';
import {
  listGenerations,
  listingOf,
  type GenerationListing,
} from '../backup/index.js';
import { remotesOf } from '../remote/index.js';
import { viaServerOrHere } from './via-server.js';
import { formatSize, printJson, readSecrets, withContext, withDataOption, type DataOptions } from './common.js';

/** A progress bar on a terminal (stderr), JSON lines with --json, nothing otherwise. */
export function progressReporter(json: boolean | undefined, verb: string): ((p: { done: number; total: number | null; imported?: number; skipped?: number; folder?: string }) => void) | undefined {
  if (json) return (p) => printJson({ event: 'progress', ...p });
  if (!process.stderr.isTTY) return undefined;
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 100 && p.done !== p.total) return;
    last = now;
    const width = 30;
    const ratio = p.total ? Math.min(1, p.done / p.total) : 0;
    const bar = p.total ? `[${'#'.repeat(Math.round(ratio * width)).padEnd(width, '.')}] ` : '';
    const counts = p.imported !== undefined ? ` (${p.imported} new, ${p.skipped ?? 0} already there)` : '';
    process.stderr.write(`\r${bar}${verb} ${p.done}${p.total ? `/${p.total}` : ''}${counts}`);
    if (p.total && p.done >= p.total) process.stderr.write('\n');
  };
}

function printGenerations(rows: readonly GenerationListing[], json: boolean | undefined): void {
  if (json) {
    printJson(rows.map((g) => ({ id: g.id, time: g.time, size: g.size, sha256: g.sha256, verified: g.verified, location: g.location, kind: g.kind })));
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('no backups yet; make one with: sealpost backup now ADDRESS\n');
    return;
  }
  for (const g of rows) process.stdout.write(`${g.id}\t${formatSize(g.size)}\t${g.verified ? 'verified' : 'copied locked'}\t${g.location}${g.kind === 'pre-restore' ? '\tpre-restore' : ''}\n`);
}

export function backupCommand(): Command {
  const backup = new Command('backup').description('local backup generations of mailboxes (still encrypted)');

  withDataOption(backup.command('now').argument('[address]', 'one alias (default: every alias)').description('take a backup now (a new generation unless nothing changed)'))
    .option('--password-stdin', 'read the alias password from standard input: snapshot with its key, verified (else a locked copy, no password needed)')
    .option('--json', 'print JSON')
    .action(async (address: string | undefined, options: DataOptions & { passwordStdin?: boolean; json?: boolean }) => {
      if (options.passwordStdin && !address) throw new UserError('--password-stdin needs an address.');
      const password = options.passwordStdin ? ((await readSecrets(['Password']))[0] ?? null) : null;
      // "Everything" also snapshots sealpost.db (+ outbound.sqlite): what a lost machine needs besides the mailboxes.
      const { rows, directory } = await viaServerOrHere({ data: options.data }, 'backup.now', { address: address ?? null, password });
      if (options.json) {
        printJson(directory ? [...rows, { address: null, directory: true, created: directory.created, id: directory.id, size: directory.size, verified: true }] : rows);
      } else {
        for (const r of rows) process.stdout.write(`${r.address}: ${r.created ? `new generation ${r.id}` : `unchanged since ${r.id}`} (${formatSize(r.size)}, ${r.verified ? 'verified with the key' : 'locked copy'})\n`);
        if (directory) process.stdout.write(`directory (sealpost.db): ${directory.created ? `new generation ${directory.id}` : `unchanged since ${directory.id}`} (${formatSize(directory.size)})\n`);
      }
    });

  withDataOption(backup.command('list').argument('<address>', 'alias address').description('list backup generations, oldest first'))
    .option('--json', 'print an array of {id, time, size, sha256, verified, location}')
    .option('--remote [name]', 'also list the generations on a remote target')
    .action(async (address: string, options: DataOptions & { json?: boolean; remote?: string | boolean }) => {
      await withContext({ data: options.data }, async (ctx) => {
        const alias = ctx.directory.requireAlias(address);
        const rows = listGenerations(ctx.paths.root, alias.mailboxId).map(listingOf);
        if (options.remote) {
          const remote = await remotesOf(ctx).listBackups(alias.mailboxId, typeof options.remote === 'string' ? { target: options.remote } : {});
          for (const r of remote) if (!rows.some((l) => l.id === r.id)) rows.push(r);
          rows.sort((a, b) => a.id.localeCompare(b.id));
        }
        printGenerations(rows, options.json);
      });
    });

  withDataOption(backup.command('verify').argument('<address>', 'alias address').argument('<generation>', 'generation id (see backup list)').description('re-check a generation: size and SHA-256, and with the password that it opens and passes quick_check'))
    .option('--password-stdin', 'read the alias password from standard input (else only size and SHA-256 are checked)')
    .option('--json', 'print JSON')
    .action(async (address: string, generation: string, options: DataOptions & { passwordStdin?: boolean; json?: boolean }) => {
      const password = options.passwordStdin ? ((await readSecrets(['Password']))[0] ?? null) : null;
      const report = await viaServerOrHere({ data: options.data }, 'backup.verify', { address, generation, password });
      if (options.json) printJson(report);
      else process.stdout.write(report.problem ? `generation ${report.id}: PROBLEM: ${report.problem}\n` : `generation ${report.id}: ok (${report.decrypts ? 'opens with the password, quick_check ok' : 'size and SHA-256 match'})\n`);
      if (report.problem) process.exitCode = 1;
    });
  return backup;
}

/**
 * Restores (replace, or --folder copies) a generation that is local or, failing that, on a remote — in the
 * running server when there is one (it ends the mailbox's sessions and swaps the file with its own handle).
 */
export async function restoreViaServerOrHere(data: string | undefined, address: string, generation: string, password: string, options: { folder?: string[]; target?: string; json?: boolean; fromRemote?: boolean }): Promise<void> {
  const progress = progressReporter(options.json, 'restored');
  const outcome = await viaServerOrHere(
    { data },
    'restore',
    { address, generation, password, folders: options.folder?.length ? options.folder : null, target: options.target ?? null, fromRemote: options.fromRemote === true },
    progress,
  );
  if (outcome.mode === 'folders') {
    if (options.json) printJson({ event: 'done', restored: outcome.restored, imported: outcome.imported, skipped: outcome.skipped, folders: outcome.folders });
    else process.stdout.write(`restored ${outcome.imported} message(s) into ${outcome.folders.join(', ') || 'no folder'} (${outcome.skipped} already there)\n`);
    return;
  }
  if (options.json) printJson({ event: 'done', restored: outcome.restored, preRestore: outcome.preRestore });
  else process.stdout.write(`restored generation ${outcome.restored}; the mailbox as it was is kept as generation ${outcome.preRestore}\n`);
}

export function restoreCommand(): Command {
  return withDataOption(
    new Command('restore')
      .argument('<address>', 'alias address')
      .argument('<generation>', 'generation id (see backup list / remote list-backups)')
      .description('replace the mailbox with a backup generation (the current one is kept), or copy folders back with --folder'),
  )
    .option('--folder <name...>', 'copy only these folders back into the live mailbox (messages already there are skipped)')
    .option('--target <name>', 'remote to fetch the generation from when it is not local')
    .option('--password-stdin', 'read the alias password from standard input (else a hidden prompt)')
    .option('--json', 'print JSON')
    .action(async (address: string, generation: string, options: DataOptions & { folder?: string[]; target?: string; json?: boolean }) => {
      const [password] = await readSecrets(['Password']);
      await restoreViaServerOrHere(options.data, address, generation, password as string, options);
    });
}

export function exportCommand(): Command {
  return withDataOption(new Command('export').argument('<address>', 'alias address').description('export a mailbox: sqlite (encrypted, opens with the password), mbox (one file per folder) or eml (zip)'))
    .addOption(new Option('--format <format>', 'sqlite | mbox | eml').choices(['sqlite', 'mbox', 'eml']).makeOptionMandatory())
    .requiredOption('--out <path>', 'output file (sqlite, eml) or new directory (mbox)')
    .option('--password-stdin', 'read the alias password from standard input (else a hidden prompt)')
    .option('--json', 'progress and result as JSON lines')
    .action(async (address: string, options: DataOptions & { format: 'sqlite' | 'mbox' | 'eml'; out: string; json?: boolean }) => {
      const [password] = await readSecrets(['Password']);
      const progress = progressReporter(options.json, 'exported');
      const result = await viaServerOrHere({ data: options.data }, 'export', { address, format: options.format, out: path.resolve(options.out), password: password as string }, progress);
      if (options.json) printJson({ event: 'done', format: result.format, out: result.out, messages: result.messages < 0 ? null : result.messages });
      else if (result.format === 'sqlite') process.stdout.write(`exported to ${result.out}: open it with cipher ChaCha20 and the alias password as the key\n`);
      else process.stdout.write(`exported ${result.messages} message(s) to ${result.out}\n`);
    });
}

export function importCommand(): Command {
  return withDataOption(
    new Command('import')
      .argument('<address>', 'alias address')
      .argument('<path>', 'an mbox file, a directory of .mbox files, a zip of .eml files, an .eml file, or a Sealpost sqlite export')
      .description('import mail into a mailbox, skipping messages already there (same Message-ID and content)'),
  )
    .option('--folder <name>', 'put everything into this folder (default: the folders the archive names)')
    .option('--password-stdin', 'read the alias password from standard input (else a hidden prompt); a sqlite export must have been made with it')
    .option('--json', 'progress and result as JSON lines (default when not on a terminal: a final summary only)')
    .action(async (address: string, archive: string, options: DataOptions & { folder?: string; json?: boolean }) => {
      const [password] = await readSecrets(['Password']);
      const progress = progressReporter(options.json, 'imported');
      const totals = await viaServerOrHere({ data: options.data }, 'import', { address, path: path.resolve(archive), password: password as string, folder: options.folder ?? null }, progress);
      if (process.stderr.isTTY && !options.json) process.stderr.write('\n');
      if (options.json) printJson({ event: 'done', ...totals });
      else process.stdout.write(`imported ${totals.imported} message(s) into ${totals.folders.join(', ') || 'no folder'} (${totals.skipped} already there)\n`);
    });
}
