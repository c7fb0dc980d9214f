// POP3 limits from SEALPOST_POP3_* environment variables (read here only). Unset or empty variables keep the
// defaults; a bad value stops start-up with one sentence naming the variable.
import { onOffFromEnv, wholeNumbersFromEnv, type NumericSetting } from '../config/env-values.js';

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
export const POP3_ENV: readonly NumericSetting<NumericKey>[] = [
  { env: 'SEALPOST_POP3_MAX_CONNECTIONS', key: 'maxConnections', min: 1 },
  { env: 'SEALPOST_POP3_MAX_CONNECTIONS_PER_IP', key: 'maxConnectionsPerIp', min: 1 },
  { env: 'SEALPOST_POP3_LOGIN_TIMEOUT_MS', key: 'loginTimeoutMs', min: 1000 },
  { env: 'SEALPOST_POP3_TIMEOUT_MS', key: 'timeoutMs', min: 1000 },
  { env: 'SEALPOST_POP3_TLS_HANDSHAKE_TIMEOUT_MS', key: 'tlsHandshakeTimeoutMs', min: 1000 },
];

export const POP3_PLAINTEXT_ON_LOOPBACK_ENV = 'SEALPOST_POP3_PLAINTEXT_LOGIN_ON_LOOPBACK';

/** The POP3 limits: defaults overridden by the environment; throws ConfigError naming a bad variable. */
export function pop3LimitsFromEnv(env: Env): Pop3Limits {
  const out = wholeNumbersFromEnv(env, POP3_ENV, DEFAULT_POP3_LIMITS);
  return { ...out, plaintextLoginOnLoopback: onOffFromEnv(env, POP3_PLAINTEXT_ON_LOOPBACK_ENV, DEFAULT_POP3_LIMITS.plaintextLoginOnLoopback) };
}
