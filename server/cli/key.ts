// sealpost key show | key export --out FILE: the app key, for safekeeping. Without it, a backup of
// sealpost.db (domains, aliases, their wrapped keys) and of the queues cannot be opened on a new machine.
import fs from 'node:fs';
import { Command } from 'commander';
import { UserError } from '../config/index.js';
import { printJson, withContext, withDataOption, type DataOptions } from './common.js';

const WARNING =
  'This is the app key of this Sealpost data dir. Anyone holding it and a copy of the data dir (or its backups) can read the directory, queued outgoing mail and stored secrets (mailboxes stay locked by their passwords). Keep it offline, e.g. in a password manager; to rebuild on a new machine, set SEALPOST_APP_KEY to it and run: sealpost remote restore-all TARGET';

export function keyCommand(): Command {
  const key = new Command('key').description('the app key (encrypts sealpost.db, queues and secrets): print or export it for disaster recovery');

  withDataOption(key.command('show').description('print the app key (64 hex characters) once, with a warning on stderr'))
    .option('--json', 'print {"appKey": "…", "source": "…"}')
    .action(async (options: DataOptions & { json?: boolean }) => {
      await withContext({ data: options.data }, async (ctx) => {
        process.stderr.write(`warning: ${WARNING}\n`);
        const hex = ctx.appKey.toString('hex');
        if (options.json) printJson({ appKey: hex, source: ctx.appKeyInfo.source });
        else process.stdout.write(`${hex}\n`);
      });
    });

  withDataOption(key.command('export').description('write the app key to a new file (mode 0600), in the app.key format'))
    .requiredOption('--out <file>', 'file to create (must not exist)')
    .action(async (options: DataOptions & { out: string }) => {
      await withContext({ data: options.data }, async (ctx) => {
        let fd: number;
        try {
          fd = fs.openSync(options.out, 'wx', 0o600);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          throw new UserError(code === 'EEXIST' ? `${options.out} already exists; give a new file name.` : `Cannot create ${options.out} (${code ?? 'error'}).`, 'KEY_EXPORT');
        }
        try {
          fs.writeSync(fd, `${ctx.appKey.toString('hex')}\n`);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        process.stderr.write(`warning: ${WARNING}\n`);
        process.stdout.write(`wrote the app key to ${options.out}\n`);
      });
    });

  return key;
}
