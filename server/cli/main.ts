// The `sealpost` command line (bin/sealpost). Every failure: one line on stderr (what went wrong, what to do),
// exit 1, no stack trace unless SEALPOST_DEBUG=1 (server/cli/report.ts).
import { Command } from 'commander';
import { aliasCommand } from './alias.js';
import { addAliasMxCommands } from './alias-mx.js';
import { queueStatusCommand } from './queue-status.js';
import { addOutgoingCommands } from './outgoing.js';
import { checkDataDir, reportError, withDataOption } from './common.js';
import { createLogger } from '../log.js';
import { doctorCommand } from './doctor.js';
import { installServiceCommand } from './install-service.js';
import { domainCommand } from './domain.js';
import { serveCommand } from './serve.js';
import { restartCommand, settingsCommand } from './settings.js';
import { backupCommand, exportCommand, importCommand, restoreCommand } from './backup.js';
import { remoteCommand } from './remote.js';
import { keyCommand } from './key.js';
import { junkCommand } from './junk.js';
import { addDomainDkimCommand, outboundCommand, relayCommand } from './sending.js';

/** True once `serve` starts: an uncaught error is then also logged (see fatal below). */
let serving = false;

export function buildProgram(): Command {
  const program = withDataOption(new Command('sealpost'))
    .description('Sealpost: a self-hosted mail appliance; every mailbox in its own encrypted SQLite file')
    .version('0.1.0')
    .addCommand(serveCommand())
    .addCommand(addDomainDkimCommand(domainCommand()))
    .addCommand(addAliasMxCommands(aliasCommand()))
    .addCommand(addOutgoingCommands(queueStatusCommand()))
    .addCommand(outboundCommand())
    .addCommand(relayCommand())
    .addCommand(doctorCommand())
    .addCommand(backupCommand())
    .addCommand(restoreCommand())
    .addCommand(exportCommand())
    .addCommand(importCommand())
    .addCommand(remoteCommand())
    .addCommand(keyCommand())
    .addCommand(settingsCommand())
    .addCommand(restartCommand())
    .addCommand(junkCommand())
    .addCommand(installServiceCommand());
  // A --data given before the sub-command applies to it (`sealpost --data DIR alias list`); a data dir that
  // is a file or not writable is refused before the command opens anything.
  program.hook('preAction', (_root, action) => {
    const rootData = program.opts<{ data?: string }>().data;
    if (rootData !== undefined && action.getOptionValue('data') === undefined) action.setOptionValue('data', rootData);
    serving = action.name() === 'serve';
    const data = action.getOptionValue('data') as string | undefined;
    // install-service only writes a unit file; the service's data dir is another user's.
    if (action.name() !== 'install-service') checkDataDir(data !== undefined ? { data } : {});
  });
  // Every command (not only the root) ends a usage error with where to find the usage.
  const withUsageHint = (command: Command, name: string): void => {
    command.showHelpAfterError(`See the usage with: ${name} --help`);
    for (const sub of command.commands) withUsageHint(sub, `${name} ${sub.name()}`);
  };
  withUsageHint(program, 'sealpost');
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv]);
    return 0;
  } catch (error) {
    reportError(error);
    return 1;
  }
}

// Everything serve and the CLI create (data files, backups, exports, sockets) is for this user only;
// each place also sets its mode explicitly, since a library caller may run under another umask.
process.umask(0o077);

// Last resort: an error no command caught (a stray rejection, an exception in a callback) is one line too.
// A crashing `serve` also logs it with its stack as a fatal JSON line on stdout (its log stream), where an
// operator looks after the fact.
const fatal = (error: unknown): void => {
  if (serving) createLogger({ level: 'fatal' }).fatal({ event: 'app.crash', err: error }, 'uncaught error: the server stops');
  reportError(error);
  process.exit(1);
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);

// A command may set process.exitCode itself (doctor: 1 when a check fails).
const result = await main();
const code = result !== 0 ? result : typeof process.exitCode === 'number' ? process.exitCode : 0;
// serve resolves after a clean stop; one-shot commands after their work. Exit explicitly so stray handles
// (a keychain D-Bus connection, an unref'd timer) cannot keep the process alive.
process.exitCode = code;
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
