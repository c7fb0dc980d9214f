// Tunables of the outbound queue, from SEALPOST_OUTBOUND_* variables over the defaults below.
import { ConfigError } from '../../config/errors.js';
import { DEFAULT_MTA_STS_URL } from './mta-sts.js';
import { PUBLIC_TARGETS_ONLY, targetPolicyFromEnv, type OutboundTargetPolicy } from './targets.js';

export interface OutboundOptions {
  /** Parallel SMTP transactions in total (SEALPOST_OUTBOUND_CONCURRENCY, 8). */
  readonly concurrency: number;
  /** Parallel transactions per recipient domain (SEALPOST_OUTBOUND_DOMAIN_CONCURRENCY, 2). */
  readonly perDomainConcurrency: number;
  /** Transactions started per recipient domain per minute (SEALPOST_OUTBOUND_DOMAIN_RATE, 120). */
  readonly perDomainPerMinute: number;
  /** First retry delay; doubles per attempt (SEALPOST_OUTBOUND_RETRY_BASE_MS, 5 min). */
  readonly retryBaseMs: number;
  /** Longest delay between two attempts (SEALPOST_OUTBOUND_RETRY_MAX_MS, 4 h). */
  readonly retryMaxMs: number;
  /** Give up and bounce after this long in the queue (SEALPOST_OUTBOUND_MAX_AGE_MS, 5 days). */
  readonly maxAgeMs: number;
  /** Send the sender a delay warning once after this long (SEALPOST_OUTBOUND_DELAY_WARNING_MS, 4 h). */
  readonly delayWarningMs: number;
  /** Port of remote MX hosts (SEALPOST_OUTBOUND_MX_PORT, 25; tests use a sink's port). */
  readonly mxPort: number;
  /** MTA-STS policy URL template with {domain} (SEALPOST_MTA_STS_URL). */
  readonly mtaStsUrl: string;
  readonly connectTimeoutMs: number;
  readonly socketTimeoutMs: number;
  /** How often the worker looks for due mail when nothing wakes it (SEALPOST_OUTBOUND_POLL_MS, 1000). */
  readonly pollMs: number;
  /**
   * Longest wait for a remote's reply to a final dot while the other connections hold theirs back
   * (SEALPOST_OUTBOUND_END_OF_DATA_HOLD_MS, 30 s); see end-of-data-gate.ts.
   */
  readonly endOfDataHoldMs: number;
  /** Which MX addresses direct delivery may dial (SEALPOST_OUTBOUND_ALLOW_PRIVATE / _LOOPBACK; public only by default). */
  readonly targets: OutboundTargetPolicy;
  /** Days a delivered, bounced or cancelled message stays in the history (SEALPOST_OUTBOUND_HISTORY_DAYS, 30). */
  readonly historyDays: number;
  /** Most messages per history page, and recipients and attempts per message shown (SEALPOST_OUTBOUND_HISTORY_PAGE_MAX, 100). */
  readonly historyPageMax: number;
  /** DANE for direct delivery (SEALPOST_DANE: auto = when the DNS resolver is on this machine; off). */
  readonly dane: 'auto' | 'off';
  /** Count TLS outcomes and send daily SMTP TLS reports to domains that ask (SEALPOST_TLS_REPORTS, on). */
  readonly tlsReports: boolean;
}

export const DEFAULT_OUTBOUND_OPTIONS: OutboundOptions = {
  concurrency: 8,
  perDomainConcurrency: 2,
  perDomainPerMinute: 120,
  retryBaseMs: 5 * 60_000,
  retryMaxMs: 4 * 3600_000,
  maxAgeMs: 5 * 86400_000,
  delayWarningMs: 4 * 3600_000,
  mxPort: 25,
  mtaStsUrl: DEFAULT_MTA_STS_URL,
  connectTimeoutMs: 30_000,
  socketTimeoutMs: 120_000,
  pollMs: 1000,
  endOfDataHoldMs: 30_000,
  targets: PUBLIC_TARGETS_ONLY,
  historyDays: 30,
  historyPageMax: 100,
  dane: 'auto',
  tlsReports: true,
};

const NUMERIC: { readonly [K in keyof OutboundOptions]?: string } = {
  concurrency: 'SEALPOST_OUTBOUND_CONCURRENCY',
  perDomainConcurrency: 'SEALPOST_OUTBOUND_DOMAIN_CONCURRENCY',
  perDomainPerMinute: 'SEALPOST_OUTBOUND_DOMAIN_RATE',
  retryBaseMs: 'SEALPOST_OUTBOUND_RETRY_BASE_MS',
  retryMaxMs: 'SEALPOST_OUTBOUND_RETRY_MAX_MS',
  maxAgeMs: 'SEALPOST_OUTBOUND_MAX_AGE_MS',
  delayWarningMs: 'SEALPOST_OUTBOUND_DELAY_WARNING_MS',
  mxPort: 'SEALPOST_OUTBOUND_MX_PORT',
  connectTimeoutMs: 'SEALPOST_OUTBOUND_CONNECT_TIMEOUT_MS',
  socketTimeoutMs: 'SEALPOST_OUTBOUND_SOCKET_TIMEOUT_MS',
  pollMs: 'SEALPOST_OUTBOUND_POLL_MS',
  endOfDataHoldMs: 'SEALPOST_OUTBOUND_END_OF_DATA_HOLD_MS',
  historyDays: 'SEALPOST_OUTBOUND_HISTORY_DAYS',
  historyPageMax: 'SEALPOST_OUTBOUND_HISTORY_PAGE_MAX',
};

export function outboundOptionsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): OutboundOptions {
  const out: Record<string, number | string | boolean | OutboundTargetPolicy> = { ...DEFAULT_OUTBOUND_OPTIONS, targets: targetPolicyFromEnv(env) };
  for (const [key, name] of Object.entries(NUMERIC)) {
    const text = name ? env[name] : undefined;
    if (text === undefined || text === '') continue;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be a whole number above 0, not ${JSON.stringify(text)}.`);
    out[key] = value;
  }
  if ((out.historyPageMax as number) > 1000) throw new ConfigError('SEALPOST_OUTBOUND_HISTORY_PAGE_MAX must be at most 1000.');
  const dane = env.SEALPOST_DANE?.trim().toLowerCase();
  if (dane) {
    if (dane !== 'auto' && dane !== 'off') throw new ConfigError(`SEALPOST_DANE must be auto or off, not ${JSON.stringify(env.SEALPOST_DANE)}.`);
    out.dane = dane;
  }
  const reports = env.SEALPOST_TLS_REPORTS?.trim().toLowerCase();
  if (reports) {
    if (!/^(on|off|true|false|1|0|yes|no)$/.test(reports)) throw new ConfigError(`SEALPOST_TLS_REPORTS must be on or off, not ${JSON.stringify(env.SEALPOST_TLS_REPORTS)}.`);
    out.tlsReports = /^(on|true|1|yes)$/.test(reports);
  }
  if (env.SEALPOST_MTA_STS_URL) {
    if (!env.SEALPOST_MTA_STS_URL.includes('{domain}')) throw new ConfigError('SEALPOST_MTA_STS_URL must contain the {domain} placeholder.');
    out.mtaStsUrl = env.SEALPOST_MTA_STS_URL;
  }
  return out as unknown as OutboundOptions;
}
