// IMAP limits from SEALPOST_IMAP_* environment variables (read here only; documented in readme-imap.md).
// Unset or empty variables keep the defaults of runtime.ts; a bad value stops start-up with one sentence.
import { ConfigError } from '../config/index.js';
import type { ImapLimits } from './runtime.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Variable → limit, with the smallest value that still makes sense. */
export const IMAP_ENV: readonly { readonly env: string; readonly key: keyof ImapLimits; readonly min: number }[] = [
  { env: 'SEALPOST_IMAP_MAX_CONNECTIONS_PER_IP', key: 'maxConnectionsPerIp', min: 1 },
  { env: 'SEALPOST_IMAP_MAX_CONNECTIONS_PER_ALIAS', key: 'maxConnectionsPerAlias', min: 1 },
  { env: 'SEALPOST_IMAP_MAX_CONNECTIONS', key: 'maxConnections', min: 1 },
  { env: 'SEALPOST_IMAP_TLS_HANDSHAKE_TIMEOUT_MS', key: 'tlsHandshakeTimeoutMs', min: 1000 },
  { env: 'SEALPOST_IMAP_TIMEOUT_MS', key: 'socketTimeoutMs', min: 1000 },
  { env: 'SEALPOST_IMAP_IDLE_TIMEOUT_MS', key: 'idleTimeoutMs', min: 1000 },
  { env: 'SEALPOST_IMAP_LOGIN_TIMEOUT_MS', key: 'preAuthTimeoutMs', min: 1000 },
  { env: 'SEALPOST_IMAP_MAX_LINE_BYTES', key: 'maxLineBytes', min: 1024 },
  { env: 'SEALPOST_IMAP_APPEND_LIMIT', key: 'maxMessageBytes', min: 1024 },
];

/** The limits the environment overrides; throws ConfigError naming the variable. */
export function imapLimitsFromEnv(env: Env): Partial<ImapLimits> {
  const out: Partial<Record<keyof ImapLimits, number>> = {};
  for (const { env: name, key, min } of IMAP_ENV) {
    const text = env[name]?.trim();
    if (!text) continue;
    if (!/^\d{1,15}$/.test(text) || Number(text) < min) {
      throw new ConfigError(`${name} must be a whole number of at least ${min}, not ${JSON.stringify(env[name])}.`);
    }
    out[key] = Number(text);
  }
  // Before login the line limit stays the smaller of its default and the configured one.
  if (out.maxLineBytes !== undefined) out.maxLineBytesPreAuth = Math.min(8 * 1024, out.maxLineBytes);
  return out;
}

export const IMAP_PLAINTEXT_ON_LOOPBACK_ENV = 'SEALPOST_IMAP_PLAINTEXT_LOGIN_ON_LOOPBACK';

/** Loopback clients may LOGIN without TLS (default on; off: everyone must STARTTLS first, e.g. behind a local proxy). */
export function imapPlaintextLoginOnLoopback(env: Env): boolean {
  const text = env[IMAP_PLAINTEXT_ON_LOOPBACK_ENV]?.trim().toLowerCase();
  if (!text) return true;
  if (['on', 'true', '1', 'yes'].includes(text)) return true;
  if (['off', 'false', '0', 'no'].includes(text)) return false;
  throw new ConfigError(`${IMAP_PLAINTEXT_ON_LOOPBACK_ENV} must be on or off, not ${JSON.stringify(env[IMAP_PLAINTEXT_ON_LOOPBACK_ENV])}.`);
}
