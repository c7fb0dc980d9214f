// Shared pieces of the CLI: the --data option, stdin/password input, sizes, and error output.
import readline from 'node:readline';
import { Command, Option } from 'commander';
import { UserError, isUserError, type ConfigFlags } from '../config/index.js';
import type { AppContext } from '../context.js';
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
  // Loaded here, not at the top: `--help`, `doctor` and commands handled by a running server never open a context.
  const { openContext, closeContext } = await import('../app.js');
  const ctx = await openContext({ env: process.env, flags }, { logger });
  try {
    return await fn(ctx);
  } finally {
    await closeContext(ctx);
  }
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
    if (answers.some((a) => a === '')) throw new UserError('No password was entered.');
    return answers;
  }
  const lines = await readAllStdin();
  const values = labels.map((_, i) => lines[i] ?? '');
  const missing = values.findIndex((v) => v === '');
  if (missing >= 0) {
    throw new UserError(labels.length === 1 ? `Expected the ${labels[0].toLowerCase()} on standard input.` : `Expected ${labels.length} lines on standard input (${labels.join(', then ')}); line ${missing + 1} is missing or empty.`);
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

export function formatSize(bytes: number | null): string {
  if (bytes === null) return 'unlimited';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Errors a user can act on (bad input, missing key…): printed as their message alone. */
export function isExpectedError(error: unknown): error is Error {
  if (isUserError(error)) return true;
  // Typed errors of other modules whose messages are written for users.
  return error instanceof Error && ['AppKeyError', 'KeyFileError', 'WrongKey', 'MailboxLocked', 'OverQuota'].includes(error.name);
}

/** Prints an error as one line on stderr (stack only for bugs, or with SEALPOST_DEBUG=1). */
export function reportError(error: unknown): void {
  if (isExpectedError(error) && !process.env.SEALPOST_DEBUG) {
    process.stderr.write(`error: ${error.message}\n`);
    return;
  }
  process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
