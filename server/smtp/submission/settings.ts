// Submission limits from SEALPOST_SUBMISSION_* environment variables (read here only). Unset or empty
// variables keep the defaults; a bad value stops start-up with one sentence naming the variable.
import { onOffFromEnv, wholeNumbersFromEnv, type NumericSetting } from '../../config/env-values.js';

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

export const SUBMISSION_ENV: readonly NumericSetting<NumericKey>[] = [
  { env: 'SEALPOST_SUBMISSION_MAX_CONNECTIONS', key: 'maxConnections', min: 1 },
  { env: 'SEALPOST_SUBMISSION_MAX_CONNECTIONS_PER_IP', key: 'maxConnectionsPerIp', min: 1 },
  { env: 'SEALPOST_SUBMISSION_LOGIN_TIMEOUT_MS', key: 'loginTimeoutMs', min: 1000 },
  { env: 'SEALPOST_SUBMISSION_TIMEOUT_MS', key: 'timeoutMs', min: 1000 },
  { env: 'SEALPOST_SUBMISSION_TLS_HANDSHAKE_TIMEOUT_MS', key: 'tlsHandshakeTimeoutMs', min: 1000 },
];

export const SUBMISSION_PLAINTEXT_ON_LOOPBACK_ENV = 'SEALPOST_SUBMISSION_PLAINTEXT_AUTH_ON_LOOPBACK';

/** The submission limits: defaults overridden by the environment; throws ConfigError naming a bad variable. */
export function submissionLimitsFromEnv(env: Env): SubmissionLimits {
  const out = wholeNumbersFromEnv(env, SUBMISSION_ENV, DEFAULT_SUBMISSION_LIMITS);
  const plaintextAuthOnLoopback = onOffFromEnv(env, SUBMISSION_PLAINTEXT_ON_LOOPBACK_ENV, DEFAULT_SUBMISSION_LIMITS.plaintextAuthOnLoopback);
  return { ...out, plaintextAuthOnLoopback };
}
