// sealpost alias add|list|remove|passwd
import { Command } from 'commander';
import { formatSize, parseSize, printJson, readSecrets, withContext, withDataOption, type DataOptions } from './common.js';

interface AddOptions extends DataOptions {
  readonly passwordStdin?: boolean;
  readonly quota?: string;
  readonly json?: boolean;
}

interface PasswdOptions extends DataOptions {
  readonly passwordStdin?: boolean;
  readonly json?: boolean;
}

export function aliasCommand(): Command {
  const alias = new Command('alias').description('manage aliases (each has its own encrypted mailbox)');

  withDataOption(
    alias
      .command('add')
      .argument('<address>', 'the new address, e.g. alice@example.com (its domain must be added first)')
      .description('create an alias and its mailbox; prints a generated password once unless --password-stdin'),
  )
    .option('--password-stdin', 'read the password from standard input (one line) instead of generating one')
    .option('--quota <size>', 'mailbox quota, e.g. 500M or 2G (default: unlimited)')
    .option('--json', 'print {"id","address","password"} (password only when generated)')
    .action(async (address: string, options: AddOptions) => {
      const quotaBytes = options.quota !== undefined ? parseSize(options.quota, 'quota') : null;
      const password = options.passwordStdin ? (await readSecrets(['Password']))[0] : null;
      await withContext({ data: options.data }, async (ctx) => {
        const created = await ctx.accounts.createAlias(address, password, { quotaBytes });
        if (options.json) {
          printJson({ id: created.alias.id, address: created.alias.displayAddress, ...(created.password ? { password: created.password } : {}) });
          return;
        }
        process.stdout.write(`created alias ${created.alias.displayAddress}\n`);
        if (created.password) {
          process.stdout.write(`password: ${created.password}\n`);
          process.stderr.write('This password is shown only once and cannot be recovered: without it the mailbox cannot be opened.\n');
        }
      });
    });

  withDataOption(alias.command('list').argument('[domain]', 'only aliases of this domain').description('list aliases'))
    .option('--json', 'print JSON')
    .action(async (domain: string | undefined, options: DataOptions & { json?: boolean }) => {
      await withContext({ data: options.data }, async (ctx) => {
        const aliases = ctx.directory.listAliases(domain);
        const rows = aliases.map((a) => ({
          id: a.id,
          address: a.displayAddress,
          domain: a.domain,
          mailboxId: a.mailboxId,
          quotaBytes: a.quotaBytes,
          enabled: a.enabled,
          queued: ctx.accounts.queuedCount(a),
          created: a.created.toISOString(),
        }));
        if (options.json) {
          printJson(rows);
          return;
        }
        if (rows.length === 0) {
          process.stdout.write('no aliases yet; add one with: sealpost alias add you@example.com\n');
          return;
        }
        for (const r of rows) {
          const extras = [`quota ${formatSize(r.quotaBytes)}`, r.enabled ? null : 'disabled', r.queued > 0 ? `${r.queued} queued` : null].filter(Boolean);
          process.stdout.write(`${r.address}\t${extras.join(', ')}\n`);
        }
      });
    });

  withDataOption(alias.command('remove').argument('<address>', 'alias address').description('delete an alias, its mailbox file and its queued mail (irreversible)'))
    .action(async (address: string, options: DataOptions) => {
      await withContext({ data: options.data }, async (ctx) => {
        const removed = await ctx.accounts.removeAlias(address);
        process.stdout.write(`removed alias ${removed.displayAddress} and its mailbox\n`);
      });
    });

  withDataOption(
    alias
      .command('passwd')
      .argument('<address>', 'alias address')
      .description('change the password and re-key the mailbox')
      .addHelpText(
        'after',
        `
The current password is always needed (the mailbox key is derived from it):
  - without --password-stdin: reads the current password (one line, or a hidden prompt),
    generates a new one and prints it once;
  - with --password-stdin: reads two lines, the current password then the new one.
Example: printf '%s\\n%s\\n' "$OLD" "$NEW" | sealpost alias passwd alice@example.com --password-stdin`,
      ),
  )
    .option('--password-stdin', 'read the current and the new password from standard input (two lines)')
    .option('--json', 'print {"id","address","password"} (password only when generated)')
    .action(async (address: string, options: PasswdOptions) => {
      const [oldPassword, newPassword] = options.passwordStdin ? await readSecrets(['Current password', 'New password']) : [...(await readSecrets(['Current password'])), null];
      await withContext({ data: options.data }, async (ctx) => {
        const alias = ctx.directory.requireAlias(address);
        const result = await ctx.accounts.changePassword(address, oldPassword, newPassword);
        if (options.json) {
          printJson({ id: alias.id, address: alias.displayAddress, ...(result.password ? { password: result.password } : {}) });
          return;
        }
        process.stdout.write(`changed the password of ${alias.displayAddress}\n`);
        if (result.password) process.stdout.write(`password: ${result.password}\n`);
      });
    });

  return alias;
}
