// POP3 limits from SEALPOST_POP3_* environment variables (read here only). Unset or empty variables keep the
// defaults; a bad value stops start-up with one sentence naming the variable.
import { ConfigError } from '../config/index.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface Pop3Limits {
  /** Open connections on POP3 + POP3S together (lowered further to POP3's share of the fd limit). */
  readonly maxConnections: number;
  /** Open connections from one client IP on POP3 + POP3S together. */
  readonly maxConnectionsPerIp: number;
  /** A connection that has not logged in is closed after this long without a command. */
  readonly loginTimeoutMs: number;
  /** A logged-in connection is closed after this long without a command (RFC 1939 §3: at least 10 minutes). */
  readonly timeoutMs: number;
  /** A TLS handshake (POP3S, or after STLS) must complete within this. */
  readonly tlsHandshakeTimeoutMs: number;
  /** Loopback clients may log in without TLS (off: everyone must STLS first, e.g. behind a local proxy). */
  readonly plaintextLoginOnLoopback: boolean;
}

export const DEFAULT_POP3_LIMITS: Pop3Limits = {
  maxConnections: 500,
  maxConnectionsPerIp: 20,
  loginTimeoutMs: 60_000,
  timeoutMs: 10 * 60_000,
  tlsHandshakeTimeoutMs: 30_000,
  plaintextLoginOnLoopback: true,
};

type NumericKey = Exclude<keyof Pop3Limits, 'plaintextLoginOnLoopback'>;

/** Variable → limit, with the smallest value that still makes sense. */
export const POP3_ENV: readonly { readonly env: string; readonly key: NumericKey; readonly min: number }[] = [
  { env: 'SEALPOST_POP3_MAX_CONNECTIONS', key: 'maxConnections', min: 1 },
  { env: 'SEALPOST_POP3_MAX_CONNECTIONS_PER_IP', key: 'maxConnectionsPerIp', min: 1 },
  { env: 'SEALPOST_POP3_LOGIN_TIMEOUT_MS', key: 'loginTimeoutMs', min: 1000 },
  { env: 'SEALPOST_POP3_TIMEOUT_MS', key: 'timeoutMs', min: 1000 },
  { env: 'SEALPOST_POP3_TLS_HANDSHAKE_TIMEOUT_MS', key: 'tlsHandshakeTimeoutMs', min: 1000 },
];

export const POP3_PLAINTEXT_ON_LOOPBACK_ENV = 'SEALPOST_POP3_PLAINTEXT_LOGIN_ON_LOOPBACK';

/** The POP3 limits: defaults overridden by the environment; throws ConfigError naming a bad variable. */
export function pop3LimitsFromEnv(env: Env): Pop3Limits {
  const out: Record<NumericKey, number> = { ...DEFAULT_POP3_LIMITS };
  for (const { env: name, key, min } of POP3_ENV) {
    const text = env[name]?.trim();
    if (!text) continue;
    if (!/^\d{1,15}$/.test(text) || Number(text) < min) {
      throw new ConfigError(`${name} must be a whole number of at least ${min}, not ${JSON.stringify(env[name])}.`);
    }
    out[key] = Number(text);
  }
  return { ...out, plaintextLoginOnLoopback: onOff(env, POP3_PLAINTEXT_ON_LOOPBACK_ENV, DEFAULT_POP3_LIMITS.plaintextLoginOnLoopback) };
}

/** An on/off variable (on|off|true|false|1|0|yes|no); unset keeps the default. */
export function onOff(env: Env, name: string, fallback: boolean): boolean {
  const text = env[name]?.trim().toLowerCase();
  if (!text) return fallback;
  if (['on', 'true', '1', 'yes'].includes(text)) return true;
  if (['off', 'false', '0', 'no'].includes(text)) return false;
  throw new ConfigError(`${name} must be on or off, not ${JSON.stringify(env[name])}.`);
}
