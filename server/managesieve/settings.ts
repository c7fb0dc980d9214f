// ManageSieve limits from SEALPOST_MANAGESIEVE_* environment variables (read here only). Unset or empty variables
// keep the defaults; a bad value stops start-up with one sentence naming the variable.
import { onOffFromEnv, wholeNumbersFromEnv, type NumericSetting } from '../config/env-values.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface ManageSieveLimits {
  /** Open connections in all (lowered further to ManageSieve's share of the fd limit). */
  readonly maxConnections: number;
  /** Open connections from one client IP. */
  readonly maxConnectionsPerIp: number;
  /** A connection that has not logged in is closed after this long without a command. */
  readonly loginTimeoutMs: number;
  /** A logged-in connection is closed after this long without a command. */
  readonly timeoutMs: number;
  /** A TLS handshake after STARTTLS must complete within this. */
  readonly tlsHandshakeTimeoutMs: number;
  /** Bytes of one command line, literals not counted. */
  readonly maxLineBytes: number;
  /** Bytes of one script (and of any literal a client announces). */
  readonly maxScriptBytes: number;
  /** Scripts one alias may keep. */
  readonly maxScripts: number;
  /** Bytes of all of one alias's scripts together. */
  readonly maxTotalBytes: number;
  /** Commands a connection may send before it logs in (STARTTLS, CAPABILITY, AUTHENTICATE, NOOP…). */
  readonly maxCommandsBeforeAuth: number;
  /** Failed AUTHENTICATEs before the connection is closed. */
  readonly maxAuthFailures: number;
  /** Loopback clients may log in without TLS (off: everyone must STARTTLS first). */
  readonly plaintextLoginOnLoopback: boolean;
}

export const DEFAULT_MANAGESIEVE_LIMITS: ManageSieveLimits = {
  maxConnections: 100,
  maxConnectionsPerIp: 10,
  loginTimeoutMs: 60_000,
  timeoutMs: 10 * 60_000,
  tlsHandshakeTimeoutMs: 30_000,
  maxLineBytes: 8192,
  maxScriptBytes: 64 * 1024, // the Sieve checker's own cap (SIEVE_LIMITS.maxScriptBytes)
  maxScripts: 32,
  maxTotalBytes: 1024 * 1024,
  maxCommandsBeforeAuth: 20,
  maxAuthFailures: 3,
  plaintextLoginOnLoopback: true,
};

type NumericKey = Exclude<keyof ManageSieveLimits, 'plaintextLoginOnLoopback'>;

/** Variable → limit, with the smallest value that still makes sense. */
export const MANAGESIEVE_ENV: readonly NumericSetting<NumericKey>[] = [
  { env: 'SEALPOST_MANAGESIEVE_MAX_CONNECTIONS', key: 'maxConnections', min: 1 },
  { env: 'SEALPOST_MANAGESIEVE_MAX_CONNECTIONS_PER_IP', key: 'maxConnectionsPerIp', min: 1 },
  { env: 'SEALPOST_MANAGESIEVE_LOGIN_TIMEOUT_MS', key: 'loginTimeoutMs', min: 1000 },
  { env: 'SEALPOST_MANAGESIEVE_TIMEOUT_MS', key: 'timeoutMs', min: 1000 },
  { env: 'SEALPOST_MANAGESIEVE_TLS_HANDSHAKE_TIMEOUT_MS', key: 'tlsHandshakeTimeoutMs', min: 1000 },
  { env: 'SEALPOST_MANAGESIEVE_MAX_LINE_BYTES', key: 'maxLineBytes', min: 512 },
  { env: 'SEALPOST_MANAGESIEVE_MAX_SCRIPT_BYTES', key: 'maxScriptBytes', min: 1024 },
  { env: 'SEALPOST_MANAGESIEVE_MAX_SCRIPTS', key: 'maxScripts', min: 1 },
  { env: 'SEALPOST_MANAGESIEVE_MAX_TOTAL_BYTES', key: 'maxTotalBytes', min: 1024 },
  { env: 'SEALPOST_MANAGESIEVE_MAX_COMMANDS_BEFORE_AUTH', key: 'maxCommandsBeforeAuth', min: 3 },
  { env: 'SEALPOST_MANAGESIEVE_MAX_AUTH_FAILURES', key: 'maxAuthFailures', min: 1 },
];

export const MANAGESIEVE_PLAINTEXT_ON_LOOPBACK_ENV = 'SEALPOST_MANAGESIEVE_PLAINTEXT_LOGIN_ON_LOOPBACK';

/** The ManageSieve limits: defaults overridden by the environment; throws ConfigError naming a bad variable. */
export function manageSieveLimitsFromEnv(env: Env): ManageSieveLimits {
  const out = wholeNumbersFromEnv(env, MANAGESIEVE_ENV, DEFAULT_MANAGESIEVE_LIMITS);
  return { ...out, plaintextLoginOnLoopback: onOffFromEnv(env, MANAGESIEVE_PLAINTEXT_ON_LOOPBACK_ENV, DEFAULT_MANAGESIEVE_LIMITS.plaintextLoginOnLoopback) };
}
