// Shared pieces of the CLI: the --data option, stdin/password input, sizes, and error output.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { Command, Option } from 'commander';
import { resolveDataDir, type ConfigFlags } from '../config/index.js';
import type { AppContext } from '../context.js';
import { UserError } from '../errors.js';
import { createLogger } from '../log.js';

export interface DataOptions {
  readonly data?: string;
}

/** Adds `--data DIR` (every command has it). */
export function withDataOption(command: Command): Command {
  return command.addOption(new Option('--data <dir>', 'data directory (default: $SEALPOST_DATA, else the OS user-data dir for "sealpost")'));
}

/** Opens the app context for a one-shot command (logs: errors only, to stderr), runs fn, closes it. */
export async function withContext<T>(flags: ConfigFlags, fn: (ctx: AppContext) => Promise<T>): Promise<T> {
  const level = process.env.SEALPOST_LOG_LEVEL ? undefined : 'error';
  const logger = createLogger({ level: level ?? (process.env.SEALPOST_LOG_LEVEL as 'info'), fd: 2, base: { service: 'cli' } });
  await assertSqliteLoads();
  // Loaded here, not at the top: `--help`, `doctor` and commands handled by a running server never open a context.
  const { openContext, closeContext } = await import('../app.js');
  const ctx = await openContext({ env: process.env, flags }, { logger });
  try {
    return await fn(ctx);
  } finally {
    await closeContext(ctx);
  }
}

/**
 * Loads the native SQLite binding once (an in-memory database) before the data dir is touched: a binding
 * built for another Node fails here, so nothing (not even an empty sealpost.db) is created first.
 */
async function assertSqliteLoads(): Promise<void> {
  const { default: Database } = await import('better-sqlite3-multiple-ciphers');
  new Database(':memory:').close();
}

let stdinLines: Promise<string[]> | null = null;

/** All of stdin as lines (read once; CR/LF trimmed). */
function readAllStdin(): Promise<string[]> {
  stdinLines ??= new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8').split(/\r?\n/)));
    process.stdin.on('error', reject);
  });
  return stdinLines;
}

/** Prompts without echo on a terminal. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const mutable = rl as unknown as { _writeToOutput: (text: string) => void };
    let prompted = false;
    mutable._writeToOutput = (text: string) => {
      if (!prompted) {
        process.stderr.write(text);
        prompted = true;
      }
    };
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}

/**
 * Reads secrets: from a terminal, one hidden prompt per label; from a pipe, one line per label
 * (`printf '%s\n%s\n' OLD NEW | sealpost alias passwd ...`). A missing or empty line is a UserError.
 */
export async function readSecrets(labels: readonly string[]): Promise<string[]> {
  if (process.stdin.isTTY) {
    const answers: string[] = [];
    for (const label of labels) answers.push(await promptHidden(`${label}: `));
    if (answers.some((a) => a === '')) throw new UserError('No password was entered.', 'NO_INPUT', { hint: 'Run the command again and type the password at the prompt.' });
    return answers;
  }
  const lines = await readAllStdin();
  const values = labels.map((_, i) => lines[i] ?? '');
  const missing = values.findIndex((v) => v === '');
  if (missing >= 0) {
    throw new UserError(labels.length === 1 ? `Expected the ${labels[0].toLowerCase()} on standard input.` : `Expected ${labels.length} lines on standard input (${labels.join(', then ')}); line ${missing + 1} is missing or empty.`, 'NO_INPUT', {
      hint: labels.length === 1 ? `Pipe it in, e.g.: printf '%s\\n' "$SECRET" | sealpost …, or run the command on a terminal to be prompted.` : 'Pipe one line per value, or run the command on a terminal to be prompted.',
    });
  }
  return values;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };

/** "500M", "2G", "1.5GB", "1048576" → bytes (binary units). "0"/"unlimited" → null. */
export function parseSize(text: string, what = 'size'): number | null {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === 'unlimited' || trimmed === 'none' || trimmed === '0') return null;
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(trimmed);
  const unit = match ? SIZE_UNITS[match[2]] : undefined;
  if (!match || unit === undefined) throw new UserError(`The ${what} ${JSON.stringify(text)} is not a size like 500M, 2G or 1048576.`);
  const bytes = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new UserError(`The ${what} ${JSON.stringify(text)} is out of range.`);
  return bytes;
}

/** "on"/"off" (also yes/no, true/false, 1/0) → boolean; anything else is one sentence. */
export function parseOnOff(text: string, what: string): boolean {
  const word = text.trim().toLowerCase();
  if (['on', 'yes', 'true', '1'].includes(word)) return true;
  if (['off', 'no', 'false', '0'].includes(word)) return false;
  throw new UserError(`${what} must be on or off, not ${JSON.stringify(text.slice(0, 40))}.`);
}

export { formatSize } from '../config/units.js';

export { isExpectedError, reportError } from './report.js';

/**
 * Refuses a data directory this command cannot use, before anything is opened or created: one sentence.
 * It must be a directory we may write (or not exist yet, under a parent we may write).
 */
export function checkDataDir(flags: ConfigFlags): void {
  const dir = resolveDataDir(process.env, flags);
  const given = flags.data !== undefined ? '--data' : process.env.SEALPOST_DATA ? 'SEALPOST_DATA' : 'The default data directory';
  let existing = dir;
  for (;;) {
    let stat: fs.Stats | null = null;
    try {
      stat = fs.statSync(existing);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
    }
    if (stat) {
      if (!stat.isDirectory()) {
        const what = existing === dir ? `${given} ${dir} is a file, not a directory` : `${given} ${dir} cannot be created: ${existing} is a file, not a directory`;
        throw new UserError(`${what}.`, 'BAD_DATA_DIR', { hint: 'Give a directory (it is created when missing) with --data or SEALPOST_DATA.' });
      }
      try {
        fs.accessSync(existing, fs.constants.W_OK | fs.constants.X_OK);
      } catch {
        const what = existing === dir ? `The data directory ${dir} is not writable by this user` : `The data directory ${dir} cannot be created: ${existing} is not writable by this user`;
        throw new UserError(`${what} (uid ${process.getuid?.() ?? '?'}).`, 'BAD_DATA_DIR', {
          hint: 'Run the command as the user that owns it, fix its owner or permissions, or give another directory with --data.',
        });
      }
      return;
    }
    const parent = path.dirname(existing);
    if (parent === existing) return;
    existing = parent;
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
