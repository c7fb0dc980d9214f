// pino logger factory: JSON lines to stdout (twelve-factor). Secrets and addresses are censored by key,
// so a careless `logger.info({ address })` cannot leak; still, log ids (alias id, mailbox uuid), never addresses.
import { pino, destination, stdTimeFunctions, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };
export type LogLevel = LevelWithSilent;

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

// Keys whose values are never written, at the top level or one object deep (pino paths have no recursion).
const SENSITIVE_KEYS = [
  'password', 'pass', 'newPassword', 'oldPassword', 'secret', 'token', 'key', 'appKey', 'mailboxKey',
  'address', 'email', 'user', 'username', 'from', 'to', 'cc', 'bcc', 'rcpt', 'recipient', 'recipients',
  'sender', 'subject', 'authorization', 'cookie',
];

export const REDACT_PATHS: readonly string[] = [...SENSITIVE_KEYS, ...SENSITIVE_KEYS.map((k) => `*.${k}`)];

export interface LoggerOptions {
  readonly level?: LogLevel;
  /** File descriptor to write to: 1 (stdout, default) or 2 (stderr, used by CLI commands so --json output stays clean). */
  readonly fd?: 1 | 2;
  /** Extra bindings on every line (e.g. { service: 'cli' }). */
  readonly base?: Record<string, string | number>;
}

/** Creates the process logger. Synchronous destination: lines are not lost when the process exits. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid, ...options.base },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      timestamp: stdTimeFunctions.isoTime,
    },
    destination({ fd: options.fd ?? 1, sync: true }),
  );
}

/** A logger that writes nothing (unit tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
