// sealpost alias add|list|remove|passwd|lock|remember|quota|enable|disable|sent-copy|app-password|rules
// Changes run in the server when one is running on the data dir (server/control), else here.
import fs from 'node:fs';
import { Command } from 'commander';
import { UserError } from '../config/index.js';
import { viaServerOrHere } from './via-server.js';
import { formatSize, parseOnOff, parseSize, printJson, readSecrets, withContext, withDataOption, type DataOptions } from './common.js';

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
      const password = options.passwordStdin ? ((await readSecrets(['Password']))[0] ?? null) : null;
      const created = await viaServerOrHere({ data: options.data }, 'alias.add', { address, password, quotaBytes });
      if (options.json) {
        printJson({ id: created.id, address: created.address, ...(created.password ? { password: created.password } : {}) });
        return;
      }
      process.stdout.write(`created alias ${created.address}\n`);
      if (created.password) {
        process.stdout.write(`password: ${created.password}\n`);
        process.stderr.write('This password is shown only once and cannot be recovered: without it the mailbox cannot be opened.\n');
      }
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
      const removed = await viaServerOrHere({ data: options.data }, 'alias.remove', { address });
      process.stdout.write(`removed alias ${removed.address} and its mailbox\n`);
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
      const result = await viaServerOrHere({ data: options.data }, 'alias.passwd', { address, oldPassword: oldPassword as string, newPassword: newPassword ?? null });
      if (options.json) {
        printJson({ id: result.id, address: result.address, ...(result.password ? { password: result.password } : {}) });
        return;
      }
      process.stdout.write(`changed the password of ${result.address}\n`);
      if (result.password) process.stdout.write(`password: ${result.password}\n`);
    });

  withDataOption(
    alias
      .command('lock')
      .argument('[address]', 'alias address')
      .description('lock a mailbox in the running server now: drop its keys, end its IMAP/POP3 sessions (mail keeps arriving, sealed)'),
  )
    .option('--all', 'lock every unlocked mailbox')
    .option('--json', 'print {"locked": N}')
    .action(async (address: string | undefined, options: DataOptions & { all?: boolean; json?: boolean }) => {
      if (!address && !options.all) throw new UserError('Name an alias, or use --all.');
      if (address && options.all) throw new UserError('Give an alias or --all, not both.');
      const result = await viaServerOrHere({ data: options.data }, 'alias.lock', { address: address ?? null });
      if (options.json) printJson(result);
      else process.stdout.write(result.locked > 0 ? `locked ${result.locked} mailbox(es)\n` : 'nothing to lock: no mailbox was unlocked\n');
    });

  withDataOption(
    alias
      .command('remember')
      .argument('<address>', 'alias address')
      .argument('<on|off>', 'on: keep the mailbox key on this device (OS keychain) and unlock it at every start; off: forget it')
      .description('"remember on this device": the mailbox unlocks when the server starts, without a login')
      .addHelpText(
        'after',
        `
"on" needs the alias password (a hidden prompt, or one line with --password-stdin). The key is kept in the
OS keychain (service "sealpost", account named by the alias id), or, without one, in <data>/secrets.sealed
encrypted with the app key. Anyone who can start Sealpost as you can then read this mailbox.`,
      ),
  )
    .option('--password-stdin', 'read the alias password from standard input (on)')
    .option('--json', 'print {"address","remember","where"}')
    .action(async (address: string, state: string, options: DataOptions & { passwordStdin?: boolean; json?: boolean }) => {
      const on = /^(on|yes|true|1)$/i.test(state);
      if (!on && !/^(off|no|false|0)$/i.test(state)) throw new UserError(`Use "on" or "off", not "${state}".`);
      const password = on ? ((await readSecrets(['Password']))[0] ?? null) : null;
      const result = await viaServerOrHere({ data: options.data }, 'alias.remember', { address, on, password });
      if (options.json) printJson(result);
      else if (result.remember) process.stdout.write(`${result.address}: remembered on this device (${result.where === 'keychain' ? 'OS keychain' : 'app-key-encrypted secrets file'}); it unlocks when the server starts\n`);
      else process.stdout.write(`${result.address}: no longer remembered on this device\n`);
    });

  withDataOption(
    alias
      .command('quota')
      .argument('<address>', 'alias address')
      .argument('<size>', 'e.g. 500M or 2G, or "none" for unlimited')
      .description('set the mailbox quota (kept in the mailbox file too, so it needs the alias password)'),
  )
    .option('--password-stdin', 'read the alias password from standard input (else a hidden prompt)')
    .option('--json', 'print {"address","quotaBytes"}')
    .action(async (address: string, size: string, options: DataOptions & { passwordStdin?: boolean; json?: boolean }) => {
      const quotaBytes = /^(none|unlimited)$/i.test(size) ? null : parseSize(size, 'quota');
      const [password] = await readSecrets(['Password']);
      const result = await viaServerOrHere({ data: options.data }, 'alias.quota', { address, quotaBytes, password: password as string });
      if (options.json) printJson(result);
      else process.stdout.write(`${result.address}: quota ${result.quotaBytes === null ? 'unlimited' : formatSize(result.quotaBytes)}\n`);
    });

  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    withDataOption(
      alias
        .command(verb)
        .argument('<address>', 'alias address')
        .description(enabled ? 'accept mail and logins for a disabled alias again' : 'refuse mail and logins for an alias (its mailbox and backups are kept)'),
    )
      .option('--json', 'print {"address","enabled"}')
      .action(async (address: string, options: DataOptions & { json?: boolean }) => {
        const result = await viaServerOrHere({ data: options.data }, 'alias.enabled', { address, enabled });
        if (options.json) printJson(result);
        else process.stdout.write(`${result.address}: ${result.enabled ? 'enabled' : 'disabled'}\n`);
      });
  }

  alias.addCommand(appPasswordCommand());
  // Save a copy to Sent: submission also files what this alias sends in its own Sent folder.
  withDataOption(
    alias
      .command('sent-copy')
      .argument('<address>', 'alias address')
      .argument('<on|off>', 'on: keep a copy in Sent; off: do not (the default)')
      .description('save a copy of the mail this alias sends to its Sent folder (for mail apps that do not save their own)'),
  )
    .option('--json', 'print {"address","saveSentCopy"}')
    .action(async (address: string, onOff: string, options: DataOptions & { json?: boolean }) => {
      const result = await viaServerOrHere({ data: options.data }, 'alias.sentCopy', { address, on: parseOnOff(onOff, 'The sent-copy switch') });
      if (options.json) printJson(result);
      else process.stdout.write(`${result.address}: ${result.saveSentCopy ? 'a copy of sent mail goes to Sent' : 'no copy of sent mail is saved'}\n`);
    });

  withDataOption(
    alias
      .command('rules')
      .argument('<address>', 'alias address')
      .argument('<action>', 'list | show <name> | put <name> <file> | activate <name> | off | delete <name>')
      .argument('[name]', 'script name (the admin page keeps its rules in "sealpost")')
      .argument('[file]', 'for put: the Sieve script file')
      .description('the alias\'s mail rules (Sieve scripts, kept in the mailbox file, so it needs the alias password)'),
  )
    .option('--activate', 'with put: make the script the active one')
    .option('--password-stdin', 'read the alias password from standard input (else a hidden prompt)')
    .option('--json', 'print {"scripts":[{"name","active","size"}],"content"}')
    .action(async (address: string, action: string, name: string | undefined, file: string | undefined, options: DataOptions & { activate?: boolean; json?: boolean }) => {
      const actions = ['list', 'show', 'put', 'activate', 'off', 'delete'];
      if (!actions.includes(action)) throw new UserError(`Unknown rules action "${action}".`, 'BAD_ARGUMENT', { hint: `Use one of: ${actions.join(', ')}.` });
      if (!['list', 'off'].includes(action) && !name) throw new UserError(`"rules ${action}" needs a script name.`, 'BAD_ARGUMENT', { hint: `For example: sealpost alias rules ${address} ${action} sealpost` });
      if (action === 'put' && !file) throw new UserError('"rules put" needs a script file.', 'BAD_ARGUMENT', { hint: `For example: sealpost alias rules ${address} put vacation ./vacation.sieve --activate` });
      let content: string | null = null;
      if (action === 'put') {
        try {
          content = fs.readFileSync(file as string, 'utf8');
        } catch {
          throw new UserError(`Cannot read the script file ${file}.`, 'BAD_ARGUMENT', { hint: 'Check the path and that you may read the file.' });
        }
      }
      const [password] = await readSecrets(['Password']);
      const wire = action === 'put' && options.activate ? 'put-active' : (action as 'list');
      const result = await viaServerOrHere({ data: options.data }, 'alias.rules', { address, action: wire, name: name ?? null, content, password: password as string });
      if (options.json) printJson(result);
      else if (result.content !== null) process.stdout.write(result.content.endsWith('\n') ? result.content : `${result.content}\n`);
      else if (result.scripts.length === 0) process.stdout.write('No scripts: all mail goes to the inbox.\n');
      else for (const script of result.scripts) process.stdout.write(`${script.name}${script.active ? ' (active)' : ''}  ${formatSize(script.size)}\n`);
    });

  return alias;
}

/** `sealpost alias app-password add|list|revoke`: per-device passwords for IMAP, POP3 and sending. */
function appPasswordCommand(): Command {
  const command = new Command('app-password')
    .description('per-device passwords for mail apps (IMAP, POP3, sending): each unlocks the mailbox and can be revoked alone')
    .addHelpText(
      'after',
      `
An app password works only in mail apps (IMAP, POP3, SMTP submission), never in the admin page, for a
password change or for making other app passwords. Changing the alias password keeps them working.
Example: sealpost alias app-password add alice@example.com "Alice's phone"`,
    );

  withDataOption(
    command
      .command('add')
      .argument('<address>', 'alias address')
      .argument('<name>', 'a name for the device, e.g. "Phone" (letters, digits, spaces, . _ - \' ( ))')
      .description('make an app password and print it once (needs the alias password)'),
  )
    .option('--password-stdin', 'read the alias password from standard input (else a hidden prompt)')
    .option('--json', 'print {"address","appPassword":{…},"password"}')
    .action(async (address: string, name: string, options: DataOptions & { passwordStdin?: boolean; json?: boolean }) => {
      const [password] = await readSecrets(['Alias password']);
      const result = await viaServerOrHere({ data: options.data }, 'alias.app-password.add', { address, name, password: password as string });
      if (options.json) {
        printJson(result);
        return;
      }
      process.stdout.write(`app password "${result.appPassword.name}" for ${result.address}: ${result.password}\n`);
      process.stderr.write('It is shown only once: type it into the mail app now (dashes and spaces are optional).\n');
    });

  withDataOption(command.command('list').argument('<address>', 'alias address').description('list the app passwords of an alias (never the passwords)'))
    .option('--json', 'print {"address","appPasswords":[…]}')
    .action(async (address: string, options: DataOptions & { json?: boolean }) => {
      const result = await viaServerOrHere({ data: options.data }, 'alias.app-password.list', { address });
      if (options.json) {
        printJson(result);
        return;
      }
      if (result.appPasswords.length === 0) {
        process.stdout.write(`${result.address} has no app passwords; make one with: sealpost alias app-password add ${result.address} Phone\n`);
        return;
      }
      for (const row of result.appPasswords) {
        const used = row.lastUsed ? `last used ${row.lastUsed}${row.lastIp ? ` from ${row.lastIp}` : ''}` : 'never used';
        process.stdout.write(`${row.id}\t${row.name}\tcreated ${row.created}\t${used}\n`);
      }
    });

  withDataOption(
    command
      .command('revoke')
      .argument('<address>', 'alias address')
      .argument('<app-password>', 'its name or id (see list)')
      .description('revoke an app password: refused from now on, its open IMAP/POP3 sessions end at once'),
  )
    .option('--json', 'print {"address","id","name","sessions"}')
    .action(async (address: string, appPassword: string, options: DataOptions & { json?: boolean }) => {
      const result = await viaServerOrHere({ data: options.data }, 'alias.app-password.revoke', { address, appPassword });
      if (options.json) printJson(result);
      else process.stdout.write(`revoked app password "${result.name}" of ${result.address}${result.sessions > 0 ? `; ended ${result.sessions} open session(s)` : ''}\n`);
    });

  return command;
}
