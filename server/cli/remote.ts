// sealpost remote add|list|test|remove|push|list-backups|restore
import { Command, Option } from 'commander';
import { UserError } from '../config/index.js';
import { remotesOf, describeTarget, type NewTarget } from '../remote/index.js';
import type { OpProgress } from '../control/index.js';
import { viaServerOrHere } from './via-server.js';
import { parseRetention } from '../backup/index.js';
import { printJson, readSecrets, withContext, withDataOption, type DataOptions, formatSize } from './common.js';
import { restoreViaServerOrHere } from './backup.js';
import { restoreAllCommand } from './restore-all.js';

/** commander's options of `remote add`: the target's fields (server/remote/targets.ts), as typed on the command line. */
interface AddOptions extends DataOptions, Omit<NewTarget, 'name' | 'kind' | 'retention'> {
  readonly type: NewTarget['kind'];
  readonly retention?: string;
  readonly json?: boolean;
}

/** rclone's bytes as the push operation reports them (done/total in bytes). */
function pushProgress(json: boolean | undefined): ((p: OpProgress) => void) | undefined {
  if (json) return (p) => printJson({ event: 'progress', bytes: p.done, totalBytes: p.total });
  if (!process.stderr.isTTY) return undefined;
  return (p) => process.stderr.write(`\ruploading ${formatSize(p.done)}${p.total ? ` / ${formatSize(p.total)}` : ''}   `);
}

export function remoteCommand(): Command {
  const remote = new Command('remote').description('off-site copies of backup generations on Cloudflare R2 or any S3 (through rclone)');

  withDataOption(
    remote
      .command('add')
      .argument('<name>', 'a short name for the target, e.g. r2')
      .description('add a target; the secret access key is read from standard input (or a hidden prompt) and kept in the keychain')
      .addHelpText('after', `
Examples:
  printf '%s\\n' "$R2_SECRET" | sealpost remote add r2 --type r2 --account-id 0123…cdef --bucket mail-backup --access-key-id AKIA…
  printf '%s\\n' "$S3_SECRET" | sealpost remote add b2 --type s3 --endpoint https://s3.eu-central-003.backblazeb2.com --region eu-central-003 --bucket mail --access-key-id K…`),
  )
    .addOption(new Option('--type <type>', 'r2 or s3').choices(['r2', 's3']).makeOptionMandatory())
    .requiredOption('--bucket <bucket>', 'bucket name (must exist)')
    .requiredOption('--access-key-id <id>', 'access key id')
    .option('--account-id <id>', 'R2: the Cloudflare account id')
    .option('--endpoint <url>', 'S3: endpoint URL (R2: override, e.g. the EU jurisdiction endpoint)')
    .option('--region <region>', 'S3: region (default us-east-1)')
    .option('--no-path-style', 'S3: virtual-host style bucket URLs')
    .option('--v2-auth', 'S3: AWS signature v2 (old S3-compatible servers only)')
    .option('--prefix <prefix>', 'object key prefix inside the bucket (default sealpost/)')
    .option('--retention <policy>', 'remote retention like 7d,4w,12m (default 7d,4w,12m)')
    .option('--json', 'print JSON')
    .action(async (name: string, options: AddOptions) => {
      const retention = options.retention ? parseRetentionOrFail(options.retention) : undefined;
      const [secret] = await readSecrets(['Secret access key']);
      await withContext({ data: options.data }, async (ctx) => {
        const target = await remotesOf(ctx).add(
          {
            name,
            kind: options.type,
            bucket: options.bucket,
            accessKeyId: options.accessKeyId,
            ...(options.accountId ? { accountId: options.accountId } : {}),
            ...(options.endpoint ? { endpoint: options.endpoint } : {}),
            ...(options.region ? { region: options.region } : {}),
            ...(options.type === 's3' ? { pathStyle: options.pathStyle !== false } : {}),
            ...(options.v2Auth ? { v2Auth: true } : {}),
            ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
            ...(retention ? { retention } : {}),
          },
          secret as string,
        );
        if (options.json) printJson(describeTarget(target));
        else process.stdout.write(`added remote ${target.name}; check it with: sealpost remote test ${target.name}\n`);
      });
    });

  withDataOption(remote.command('list').description('list remote targets (no secrets)'))
    .option('--json', 'print JSON')
    .action(async (options: DataOptions & { json?: boolean }) => {
      await withContext({ data: options.data }, async (ctx) => {
        const rows = remotesOf(ctx).describe();
        if (options.json) printJson(rows);
        else if (rows.length === 0) process.stdout.write('no remotes; add one with: sealpost remote add NAME --type r2 ...\n');
        else {
          const last = (what: string, a: unknown): string => {
            const activity = a as { at: string; ok: boolean; summary: string } | null;
            return activity ? `last ${what} ${activity.at} ${activity.ok ? 'ok' : `failed: ${activity.summary}`}` : `never ${what === 'test' ? 'tested' : 'pushed'}`;
          };
          for (const r of rows) process.stdout.write(`${String(r.name)}\t${String(r.type)}\t${String(r.bucket)}/${String(r.prefix)}\t${String(r.endpoint)}\t${last('test', r.lastTest)}\t${last('push', r.lastPush)}\n`);
        }
      });
    });

  withDataOption(remote.command('test').argument('[name]', 'target (default: the only one)').description('write, read back and delete a probe object: checks endpoint, credentials and bucket'))
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, options: DataOptions & { json?: boolean }) => {
      await withContext({ data: options.data }, async (ctx) => {
        const result = await remotesOf(ctx).test(name);
        if (options.json) printJson({ ok: true, ...result });
        else process.stdout.write(`remote ${result.target}: ok (a probe object was written, read back and deleted; ${result.objects} object(s) under its prefix)\n`);
      });
    });

  withDataOption(remote.command('remove').argument('<name>', 'target').description('forget a target and delete its secret (objects in the bucket stay)'))
    .action(async (name: string, options: DataOptions) => {
      await withContext({ data: options.data }, async (ctx) => {
        await remotesOf(ctx).remove(name);
        process.stdout.write(`removed remote ${name}\n`);
      });
    });

  withDataOption(remote.command('push').argument('[address]', 'one alias (default: every alias)').description('upload new local generations and apply the remote retention'))
    .option('--target <name>', 'target (default: the only one)')
    .option('--json', 'progress and result as JSON lines')
    .action(async (address: string | undefined, options: DataOptions & { target?: string; json?: boolean }) => {
      // The push operation itself (server/ops) runs in the server when one runs, else here; pushing everything
      // also carries the directory generations (backup now makes them), for restore-all.
      const { rows } = await viaServerOrHere({ data: options.data }, 'remote.push', { address: address ?? null, target: options.target ?? null }, pushProgress(options.json));
      if (process.stderr.isTTY && !options.json) process.stderr.write('\n');
      for (const row of rows) {
        if (options.json) printJson({ event: 'done', ...row, ...(row.address === null ? { directory: true } : {}) });
        else process.stdout.write(`${row.address ?? 'directory (sealpost.db)'}: uploaded ${row.uploaded.length}, pruned ${row.pruned.length}, ${row.remote.length} on ${row.target}\n`);
      }
    });

  withDataOption(remote.command('list-backups').argument('<address>', 'alias address').description('list the generations on a remote target, oldest first'))
    .option('--target <name>', 'target (default: the only one)')
    .option('--json', 'print an array of {id, time, size, sha256, verified, location}')
    .action(async (address: string, options: DataOptions & { target?: string; json?: boolean }) => {
      await withContext({ data: options.data }, async (ctx) => {
        const alias = ctx.directory.requireAlias(address);
        const rows = await remotesOf(ctx).listBackups(alias.mailboxId, options.target ? { target: options.target } : {});
        if (options.json) printJson(rows.map(({ id, time, size, sha256, verified, location, kind }) => ({ id, time, size, sha256, verified, location, kind })));
        else if (rows.length === 0) process.stdout.write('no generations on the remote yet; upload with: sealpost remote push ADDRESS\n');
        else for (const g of rows) process.stdout.write(`${g.id}\t${formatSize(g.size)}\t${g.verified ? 'verified' : 'copied locked'}\t${g.location}\n`);
      });
    });

  withDataOption(remote.command('restore').argument('<address>', 'alias address').argument('<generation>', 'generation id (see remote list-backups)').description('download a generation from the remote and restore it'))
    .option('--target <name>', 'target (default: the only one)')
    .option('--folder <name...>', 'copy only these folders back')
    .option('--password-stdin', 'read the alias password from standard input (else a hidden prompt)')
    .option('--json', 'print JSON')
    .action(async (address: string, generation: string, options: DataOptions & { target?: string; folder?: string[]; json?: boolean }) => {
      const [password] = await readSecrets(['Password']);
      await restoreViaServerOrHere(options.data, address, generation, password as string, { ...options, fromRemote: true });
    });

  remote.addCommand(restoreAllCommand());
  return remote;
}

function parseRetentionOrFail(text: string): ReturnType<typeof parseRetention> {
  try {
    return parseRetention(text);
  } catch (error) {
    throw new UserError(error instanceof Error ? error.message : String(error));
  }
}

