// Submission limits from SEALPOST_SUBMISSION_* environment variables (read here only). Unset or empty
// variables keep the defaults; a bad value stops start-up with one sentence naming the variable.
import { ConfigError } from '../../config/index.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface SubmissionLimits {
  /** Open connections on submission + submissions together (lowered further to the fd share). */
  readonly maxConnections: number;
  /** Open connections from one client IP on submission + submissions together. */
  readonly maxConnectionsPerIp: number;
  /** A connection that has not authenticated is closed (421) after this long without a command. */
  readonly loginTimeoutMs: number;
  /** An authenticated connection is closed (421) after this long without a command (RFC 5321 §4.5.3.2.7: 5 min). */
  readonly timeoutMs: number;
  /** A TLS handshake (submissions, or after STARTTLS) must complete within this. */
  readonly tlsHandshakeTimeoutMs: number;
  /** Loopback clients may AUTH without TLS (off: everyone must STARTTLS first, e.g. behind a local proxy). */
  readonly plaintextAuthOnLoopback: boolean;
}

export const DEFAULT_SUBMISSION_LIMITS: SubmissionLimits = {
  maxConnections: 500,
  maxConnectionsPerIp: 20,
  loginTimeoutMs: 60_000,
  timeoutMs: 5 * 60_000,
  tlsHandshakeTimeoutMs: 30_000,
  plaintextAuthOnLoopback: true,
};

type NumericKey = Exclude<keyof SubmissionLimits, 'plaintextAuthOnLoopback'>;

export const SUBMISSION_ENV: readonly { readonly env: string; readonly key: NumericKey; readonly min: number }[] = [
  { env: 'SEALPOST_SUBMISSION_MAX_CONNECTIONS', key: 'maxConnections', min: 1 },
  { env: 'SEALPOST_SUBMISSION_MAX_CONNECTIONS_PER_IP', key: 'maxConnectionsPerIp', min: 1 },
  { env: 'SEALPOST_SUBMISSION_LOGIN_TIMEOUT_MS', key: 'loginTimeoutMs', min: 1000 },
  { env: 'SEALPOST_SUBMISSION_TIMEOUT_MS', key: 'timeoutMs', min: 1000 },
  { env: 'SEALPOST_SUBMISSION_TLS_HANDSHAKE_TIMEOUT_MS', key: 'tlsHandshakeTimeoutMs', min: 1000 },
];

export const SUBMISSION_PLAINTEXT_ON_LOOPBACK_ENV = 'SEALPOST_SUBMISSION_PLAINTEXT_AUTH_ON_LOOPBACK';

/** The submission limits: defaults overridden by the environment; throws ConfigError naming a bad variable. */
export function submissionLimitsFromEnv(env: Env): SubmissionLimits {
  const out: Record<NumericKey, number> = { ...DEFAULT_SUBMISSION_LIMITS };
  for (const { env: name, key, min } of SUBMISSION_ENV) {
    const text = env[name]?.trim();
    if (!text) continue;
    if (!/^\d{1,15}$/.test(text) || Number(text) < min) {
      throw new ConfigError(`${name} must be a whole number of at least ${min}, not ${JSON.stringify(env[name])}.`);
    }
    out[key] = Number(text);
  }
  const flag = env[SUBMISSION_PLAINTEXT_ON_LOOPBACK_ENV]?.trim().toLowerCase();
  let plaintextAuthOnLoopback = DEFAULT_SUBMISSION_LIMITS.plaintextAuthOnLoopback;
  if (flag) {
    if (['on', 'true', '1', 'yes'].includes(flag)) plaintextAuthOnLoopback = true;
    else if (['off', 'false', '0', 'no'].includes(flag)) plaintextAuthOnLoopback = false;
    else throw new ConfigError(`${SUBMISSION_PLAINTEXT_ON_LOOPBACK_ENV} must be on or off, not ${JSON.stringify(env[SUBMISSION_PLAINTEXT_ON_LOOPBACK_ENV])}.`);
  }
  return { ...out, plaintextAuthOnLoopback };
}
