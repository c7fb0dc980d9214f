// IMAP limits from SEALPOST_IMAP_* environment variables (read here only; documented in docs/imap.md).
// Unset or empty variables keep the defaults of runtime.ts; a bad value stops start-up with one sentence.
import { onOffFromEnv, wholeNumbersSetInEnv, type NumericSetting } from '../config/env-values.js';
import type { ImapLimits } from './runtime.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Variable → limit, with the smallest value that still makes sense. */
export const IMAP_ENV: readonly NumericSetting<keyof ImapLimits>[] = [
  { env: 'SEALPOST_IMAP_MAX_CONNECTIONS_PER_IP', key: 'maxConnectionsPerIp', min: 1 },
  { env: 'SEALPOST_IMAP_MAX_CONNECTIONS_PER_ALIAS', key: 'maxConnectionsPerAlias', min: 1 },
  { env: 'SEALPOST_IMAP_MAX_CONNECTIONS', key: 'maxConnections', min: 1 },
  { env: 'SEALPOST_IMAP_TLS_HANDSHAKE_TIMEOUT_MS', key: 'tlsHandshakeTimeoutMs', min: 1000 },
  { env: 'SEALPOST_IMAP_TIMEOUT_MS', key: 'socketTimeoutMs', min: 1000 },
  { env: 'SEALPOST_IMAP_IDLE_TIMEOUT_MS', key: 'idleTimeoutMs', min: 1000 },
  { env: 'SEALPOST_IMAP_LOGIN_TIMEOUT_MS', key: 'preAuthTimeoutMs', min: 1000 },
  { env: 'SEALPOST_IMAP_MAX_LINE_BYTES', key: 'maxLineBytes', min: 1024 },
  { env: 'SEALPOST_IMAP_APPEND_LIMIT', key: 'maxMessageBytes', min: 1024 },
  { env: 'SEALPOST_IMAP_MAX_COMMAND_BYTES', key: 'maxCommandBytes', min: 1024 },
  { env: 'SEALPOST_IMAP_MAX_LITERALS_PER_COMMAND', key: 'maxLiteralsPerCommand', min: 1, max: 1000 },
  { env: 'SEALPOST_IMAP_MAX_SEARCH_DEPTH', key: 'maxSearchDepth', min: 4, max: 256 },
  { env: 'SEALPOST_IMAP_MAX_SEARCH_TEXT_KEYS', key: 'maxSearchTextKeys', min: 1, max: 1024 },
];

/** The limits the environment overrides; throws ConfigError naming the variable. */
export function imapLimitsFromEnv(env: Env): Partial<ImapLimits> {
  const out = wholeNumbersSetInEnv(env, IMAP_ENV);
  // Before login the line limit stays the smaller of its default and the configured one.
  if (out.maxLineBytes !== undefined) out.maxLineBytesPreAuth = Math.min(8 * 1024, out.maxLineBytes);
  return out;
}

export const IMAP_PLAINTEXT_ON_LOOPBACK_ENV = 'SEALPOST_IMAP_PLAINTEXT_LOGIN_ON_LOOPBACK';

/** Loopback clients may LOGIN without TLS (default on; off: everyone must STARTTLS first, e.g. behind a local proxy). */
export function imapPlaintextLoginOnLoopback(env: Env): boolean {
  return onOffFromEnv(env, IMAP_PLAINTEXT_ON_LOOPBACK_ENV, true);
}

