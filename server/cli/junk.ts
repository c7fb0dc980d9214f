// sealpost junk on|off|status|train: the junk classifier of one alias. Its counts live inside the encrypted mailbox, so
// the mailbox must be unlocked (a login, the admin UI, or the password given with --password-stdin).
import { Command } from 'commander';
import { UserError } from '../config/index.js';
import { viaServerOrHere } from './via-server.js';
import { printJson, readSecrets, withDataOption, type DataOptions } from './common.js';

interface JunkOptions extends DataOptions {
  readonly passwordStdin?: boolean;
  readonly json?: boolean;
}

interface TrainOptions extends JunkOptions {
  readonly spam?: boolean;
  readonly ham?: boolean;
  readonly folder?: string;
}

async function passwordIf(options: JunkOptions): Promise<string | null> {
  return options.passwordStdin ? ((await readSecrets(['Password']))[0] ?? null) : null;
}

export function junkCommand(): Command {
  const junk = new Command('junk').description('the junk filter of an alias: on or off, its counts, and training it with a folder of mail');

  for (const state of ['on', 'off'] as const) {
    withDataOption(
      junk
        .command(state)
        .argument('<address>', 'alias address')
        .description(state === 'on' ? 'sort likely junk of this alias into its Junk folder (the default)' : 'stop sorting mail of this alias into Junk (nothing is scored; what it learned is kept)'),
    )
      .option('--json', 'print {"address","on"}')
      .action(async (address: string, options: DataOptions & { json?: boolean }) => {
        const result = await viaServerOrHere({ data: options.data }, 'junk.switch', { address, on: state === 'on' });
        if (options.json) printJson(result);
        else process.stdout.write(`${result.address}: junk filter ${result.on ? 'on (likely junk goes to Junk)' : 'off (no scoring, nothing moved to Junk)'}\n`);
      });
  }

  withDataOption(junk.command('status').argument('<address>', 'alias address').description('messages trained as spam and ham, and tokens stored'))
    .option('--password-stdin', 'unlock with the alias password from standard input (else the mailbox must be unlocked)')
    .option('--json', 'print {"address","spamMessages","hamMessages","tokens"}')
    .action(async (address: string, options: JunkOptions) => {
      const result = await viaServerOrHere({ data: options.data }, 'junk.status', { address, password: await passwordIf(options) });
      if (options.json) printJson(result);
      else process.stdout.write(`${result.address}: ${result.spamMessages} trained as spam, ${result.hamMessages} as ham, ${result.tokens} tokens\n`);
    });

  withDataOption(
    junk
      .command('train')
      .argument('<address>', 'alias address')
      .description('train the filter with every message of a folder as spam or as ham (a message is never counted twice)'),
  )
    .option('--spam', 'the messages are spam')
    .option('--ham', 'the messages are not spam')
    .option('--folder <name>', 'the folder to learn from, as mail clients show it (e.g. Junk, INBOX)')
    .option('--password-stdin', 'unlock with the alias password from standard input (else the mailbox must be unlocked)')
    .option('--json', 'print {"address","trained","spamMessages","hamMessages","tokens"}')
    .action(async (address: string, options: TrainOptions) => {
      if (options.spam === options.ham) throw new UserError('Say what the messages are with exactly one of --spam or --ham.', 'USAGE', { hint: 'For example: sealpost junk train ADDRESS --spam --folder Junk' });
      if (!options.folder) throw new UserError('Name the folder to learn from with --folder.', 'USAGE', { hint: 'For example: sealpost junk train ADDRESS --ham --folder INBOX' });
      const result = await viaServerOrHere({ data: options.data }, 'junk.train', { address, folder: options.folder, asSpam: options.spam === true, password: await passwordIf(options) });
      if (options.json) printJson(result);
      else process.stdout.write(`${result.address}: ${result.trained} messages trained as ${options.spam ? 'spam' : 'ham'}; now ${result.spamMessages} spam, ${result.hamMessages} ham, ${result.tokens} tokens\n`);
    });
  return junk;
}
