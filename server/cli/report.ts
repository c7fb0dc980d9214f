// How the CLI prints a failure: one line on stderr, "error: <what went wrong>. <what to do>." — the second
// sentence from the error's hint, or from a table by code when the message does not say it already.
// Never a stack trace, unless SEALPOST_DEBUG=1 asks for it. (commander's own usage errors add a second
// line pointing at --help; see main.ts.)
import fs from 'node:fs';
import path from 'node:path';
import { isUserError } from '../config/index.js';

/** Errors a user can act on (bad input, missing key…): printed as their message alone. */
export function isExpectedError(error: unknown): error is Error {
  if (isUserError(error)) return true;
  // Typed errors of other modules whose messages are written for users.
  return error instanceof Error && ['AppKeyError', 'KeyFileError', 'WrongKey', 'MailboxLocked', 'OverQuota', 'MxSettingsError'].includes(error.name);
}

/** What to do, for errors of other modules whose message names the problem but not the way out. */
const WHAT_TO_DO: Readonly<Record<string, string>> = {
  UNKNOWN_ALIAS: 'List the aliases with: sealpost alias list',
  UNKNOWN_DOMAIN: 'List the domains with: sealpost domain list',
  NO_GENERATION: 'List the generations with: sealpost backup list ADDRESS (add --remote to include a remote target)',
  LISTEN_FAILED: 'Stop what uses that address and port, or choose another (see: sealpost serve --help)',
  IMPORT_STOPPED: 'Fix the cause and run the same import again: the messages already imported are skipped.',
  BAD_MBOX: 'Nothing was imported; repair the file at that line (or export it again) and run the import again.',
  AUTH_FAILED: 'Check the address and type the alias password again (it was shown once when the alias was created).',
  NO_REMOTE: 'See the configured remotes with: sealpost remote list',
  WRONG_PASSWORD: 'Try again with the alias password (the one shown when the alias was created, or set with alias passwd).',
  OverQuota: 'Free some space in the mailbox (delete and expunge mail), then run the command again.',
  BAD_MESSAGE_ID: 'List the outgoing messages and their ids with: sealpost queue list',
  UNKNOWN_MESSAGE: 'List the outgoing messages and their ids with: sealpost queue list',
  MESSAGE_FINAL: 'See what happened to it with: sealpost queue show ID',
};

const SQLITE_PACKAGE = 'better-sqlite3-multiple-ciphers';

/** The native SQLite binding failed to load (built for another Node, not built, or missing): one sentence, or null. */
export function nativeBindingProblem(error: unknown): string | null {
  const text = error instanceof Error ? `${error.message}\n${String((error as NodeJS.ErrnoException).code ?? '')}` : '';
  if (!/better_sqlite3(\.node)?|better-sqlite3/i.test(text)) return null;
  if (!/ERR_DLOPEN_FAILED|NODE_MODULE_VERSION|bindings file|invalid ELF|cannot open shared object|wrong ELF class|Module did not self-register|was compiled against/i.test(text)) return null;
  const reason = /NODE_MODULE_VERSION/.test(text) ? 'built for another Node.js version' : (error as Error).message.split('\n')[0]?.replace(/^.*better_sqlite3\.node:\s*/, '').replace(/\.$/, '').slice(0, 120);
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
  return `The SQLite module is not built for this Node.js ${process.version} (${reason}); run \`npm rebuild ${SQLITE_PACKAGE}\` in ${root}.`;
}

const SYSTEM_ERRORS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'it is a directory',
  EEXIST: 'something is already there',
  ENOENT: 'it does not exist',
  EMFILE: 'too many open files',
};

/** A failed file-system call (errno error with a path): one sentence naming the path and the reason, or null. */
function systemProblem(error: unknown): { sentence: string; hint: string } | null {
  const e = error as NodeJS.ErrnoException;
  if (!(error instanceof Error) || typeof e.code !== 'string' || !(e.code in SYSTEM_ERRORS)) return null;
  const where = typeof e.path === 'string' ? ` ${e.path}` : '';
  const verb = typeof e.syscall === 'string' ? e.syscall : 'access';
  const hint = e.code === 'ENOSPC' || e.code === 'EDQUOT' ? 'Free some disk space and run the command again.' : 'Check the path and its permissions (or give another data directory with --data) and run the command again.';
  return { sentence: `Cannot ${verb}${where}: ${SYSTEM_ERRORS[e.code]} (${e.code}).`, hint };
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? '').trim();
}

/** "<problem>. <what to do>." on one line (a problem alone is printed as it is). */
function sentence(problem: string, whatToDo?: string): string {
  if (!whatToDo) return problem;
  const end = (text: string): string => (/[.!?]$/.test(text) ? text : `${text}.`);
  return `${end(problem)} ${end(whatToDo)}`;
}

/** The one line to print for an error, starting "error: ". */
export function errorLine(error: unknown): string {
  const native = nativeBindingProblem(error);
  if (native) return `error: ${native}`;
  if (isExpectedError(error)) {
    const message = firstLine(error.message);
    const code = isUserError(error) ? error.code : error.name;
    // A message that already names a command to run says what to do.
    const hint = (isUserError(error) ? error.hint : undefined) ?? (/\bsealpost [a-z]/.test(message) ? undefined : WHAT_TO_DO[code]);
    return `error: ${sentence(message, hint)}`;
  }
  const system = systemProblem(error);
  if (system) return `error: ${sentence(system.sentence, system.hint)}`;
  const message = error instanceof Error ? firstLine(error.message) || error.name : firstLine(String(error));
  return `error: ${sentence(message, 'This looks like a bug in Sealpost: run the command again with SEALPOST_DEBUG=1 to see the details, and report them')}`;
}

/** Prints an error on stderr as one line; with SEALPOST_DEBUG=1 the full stack follows. */
export function reportError(error: unknown): void {
  const lines = [errorLine(error)];
  if (process.env.SEALPOST_DEBUG === '1' && error instanceof Error) lines.push(error.stack ?? String(error));
  // Synchronous: the process may exit right after (uncaught errors).
  fs.writeSync(2, `${lines.join('\n')}\n`);
}
