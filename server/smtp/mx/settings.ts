// MX settings: defaults < saved settings (directory) < SEALPOST_SMTP_* environment. Each one is
// documented with its default in docs/receiving.md and docs/security.md.
import { ConfigError } from '../../config/errors.js';
import { MAIL_LIMITS, type MailLimit } from '../../config/mail-options.js';
import { onOffFromEnv, wholeNumberInRange, wholeNumberRange, wholeNumbersFromEnv, type NumericSetting } from '../../config/env-values.js';
import { DEFAULT_RSPAMD_TIMEOUT_MS, parseRspamdUrl, type RspamdSettings } from './rspamd.js';

export interface MxSettings {
  /** Largest message accepted, bytes (SIZE). */
  readonly maxSize: number;
  /** Recipients per message. */
  readonly maxRecipients: number;
  /** Simultaneous connections from one IP. */
  readonly maxConnectionsPerIp: number;
  /** Simultaneous connections in total. */
  readonly maxConnections: number;
  /** Messages accepted per envelope sender per hour (0 = unlimited). */
  readonly maxMessagesPerSenderPerHour: number;
  /** Idle socket timeout, ms. */
  readonly socketTimeoutMs: number;
  /** The TLS handshake after STARTTLS must finish within this, ms (0 = only the idle timeout). */
  readonly handshakeTimeoutMs: number;
  /** How long stop() waits for open sessions, ms. */
  readonly closeTimeoutMs: number;
  /** More Received headers than this = mail loop (554 5.4.6). */
  readonly maxHops: number;
  /** Run SPF/DKIM/DMARC/ARC (on by default; off only for trusted relays / benchmarks without DNS). */
  readonly authChecks: boolean;
  /** Webhook retry delays (ms) after each failure; empty = the defaults. */
  readonly webhookBackoffMs: readonly number[];
  /** Failed RCPTs one connection may make; the one that reaches it is answered 421 4.7.0 and the connection closed. */
  readonly maxBadRcpt: number;
  /** Failed RCPTs one client IP may make within badRcptWindowMs; past it every failed RCPT closes the connection. */
  readonly maxBadRcptPerIp: number;
  /** The per-IP failed-RCPT window, ms. */
  readonly badRcptWindowMs: number;
  /** Tarpit step, ms: the n-th failed RCPT of a connection is answered after (n-1) × this (at most 10 s). */
  readonly tarpitMs: number;
  /** Bounces to SRS addresses older than this many days are refused (SRS0 and SRS1). */
  readonly srsMaxAgeDays: number;
  /** DNS blocklist zones the connecting IP is looked up in (empty: none, the default); the junk filter reads the result. */
  readonly dnsblZones: readonly string[];
  /** The owner's rspamd asked at MX time (null: off, the default); the junk filter files by its answer. */
  readonly rspamd: RspamdSettings | null;
}

/** The default of a limit the owner may change (config/mail-options.ts holds it). */
function ownerLimitDefault(key: MailLimit['key']): number {
  return (MAIL_LIMITS.find((l) => l.key === key) as MailLimit).default;
}

export const DEFAULT_MX_SETTINGS: MxSettings = {
  maxSize: ownerLimitDefault('smtpMaxSize'),
  maxRecipients: ownerLimitDefault('smtpMaxRecipients'),
  maxConnectionsPerIp: 20,
  maxConnections: 500,
  maxMessagesPerSenderPerHour: ownerLimitDefault('smtpSenderRate'),
  socketTimeoutMs: 120_000,
  handshakeTimeoutMs: 15_000,
  closeTimeoutMs: 30_000,
  maxHops: 30,
  authChecks: true,
  webhookBackoffMs: [],
  maxBadRcpt: 10,
  maxBadRcptPerIp: 30,
  badRcptWindowMs: 3_600_000,
  tarpitMs: 500,
  srsMaxAgeDays: 21,
  dnsblZones: [],
  rspamd: null,
};

type Env = Readonly<Record<string, string | undefined>>;

export class MxSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MxSettingsError';
  }
}

type NumericKey = Exclude<keyof MxSettings, 'authChecks' | 'webhookBackoffMs' | 'dnsblZones' | 'rspamd'>;

const ZONE = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** SEALPOST_SMTP_DNSBL (or the saved smtpDnsbl): zones separated by commas or spaces, at most 8. */
function dnsblZones(text: string): string[] {
  const zones = text.split(/[\s,]+/).map((z) => z.trim().toLowerCase().replace(/\.$/, '')).filter(Boolean);
  for (const zone of zones) if (!ZONE.test(zone)) throw new MxSettingsError(`SEALPOST_SMTP_DNSBL must be DNS zone names separated by commas, not ${JSON.stringify(zone)}.`);
  if (zones.length > 8) throw new MxSettingsError('SEALPOST_SMTP_DNSBL names more than 8 zones; each one is a DNS query per message.');
  return zones;
}

/** A limit the owner changes on the Settings page or with `sealpost settings set` (config/mail-options.ts): its variable, key and floor. */
function ownerLimit(key: MailLimit['key']): { env: string; saved: string; min: number } {
  const limit = MAIL_LIMITS.find((l) => l.key === key) as MailLimit;
  return { env: limit.env, saved: limit.key, min: limit.min };
}

/** Each numeric setting: its variable, its saved-setting name, and the range that still makes sense. */
const NUMERIC: readonly (NumericSetting<NumericKey> & { readonly saved: string })[] = [
  { key: 'maxSize', ...ownerLimit('smtpMaxSize') },
  // RFC 5321 section 4.5.3.1.8 asks servers to accept at least 100 recipients; 1 is the floor that still works.
  { key: 'maxRecipients', ...ownerLimit('smtpMaxRecipients') },
  { key: 'maxConnectionsPerIp', env: 'SEALPOST_SMTP_MAX_CONNECTIONS_PER_IP', saved: 'smtpMaxConnectionsPerIp', min: 0 },
  { key: 'maxConnections', env: 'SEALPOST_SMTP_MAX_CONNECTIONS', saved: 'smtpMaxConnections', min: 0 },
  { key: 'maxMessagesPerSenderPerHour', ...ownerLimit('smtpSenderRate') },
  { key: 'socketTimeoutMs', env: 'SEALPOST_SMTP_TIMEOUT_MS', saved: 'smtpTimeoutMs', min: 0 },
  { key: 'handshakeTimeoutMs', env: 'SEALPOST_SMTP_HANDSHAKE_TIMEOUT_MS', saved: 'smtpHandshakeTimeoutMs', min: 0 },
  { key: 'closeTimeoutMs', env: 'SEALPOST_SMTP_CLOSE_TIMEOUT_MS', saved: 'smtpCloseTimeoutMs', min: 0 },
  { key: 'maxHops', env: 'SEALPOST_SMTP_MAX_HOPS', saved: 'smtpMaxHops', min: 0 },
  { key: 'maxBadRcpt', env: 'SEALPOST_SMTP_MAX_BAD_RCPT', saved: 'smtpMaxBadRcpt', min: 1 },
  { key: 'maxBadRcptPerIp', env: 'SEALPOST_SMTP_MAX_BAD_RCPT_PER_IP', saved: 'smtpMaxBadRcptPerIp', min: 1 },
  { key: 'badRcptWindowMs', env: 'SEALPOST_SMTP_BAD_RCPT_WINDOW_MS', saved: 'smtpBadRcptWindowMs', min: 0 },
  { key: 'tarpitMs', env: 'SEALPOST_SMTP_TARPIT_MS', saved: 'smtpTarpitMs', min: 0 },
  // The SRS day stamp wraps after 1024 days: an older bounce could not be told from a fresh one.
  { key: 'srsMaxAgeDays', env: 'SEALPOST_SRS_MAX_AGE_DAYS', saved: 'srsMaxAgeDays', min: 1, max: 1000 },
];

/** A saved setting's value (the admin stores numbers, older versions strings) checked against its range. */
function savedWholeNumber(value: unknown, { saved, min, max }: (typeof NUMERIC)[number]): number {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  const number = wholeNumberInRange(text, min, max);
  if (number === null) throw new MxSettingsError(`saved setting ${saved} must be ${wholeNumberRange(min, max)}, not ${JSON.stringify(value)}.`);
  return number;
}

/** Reads the MX settings; throws MxSettingsError with one clear sentence naming the variable or saved setting. */
export function loadMxSettings(env: Env = process.env, saved: Readonly<Record<string, unknown>> = {}): MxSettings {
  const base: Record<NumericKey, number> = { ...DEFAULT_MX_SETTINGS };
  for (const setting of NUMERIC) {
    const value = saved[setting.saved];
    // A variable that is set wins; the saved value is then not read at all.
    if (!env[setting.env]?.trim() && value !== undefined && value !== null) base[setting.key] = savedWholeNumber(value, setting);
  }
  try {
    const numbers = wholeNumbersFromEnv(env, NUMERIC, base);
    const backoff = env.SEALPOST_WEBHOOK_BACKOFF_MS?.trim();
    return {
      ...numbers,
      authChecks: onOffFromEnv(env, 'SEALPOST_SMTP_AUTH_CHECKS', DEFAULT_MX_SETTINGS.authChecks),
      webhookBackoffMs: backoff ? backoff.split(',').map((part) => backoffStep(part)) : DEFAULT_MX_SETTINGS.webhookBackoffMs,
      dnsblZones: dnsblZones(env.SEALPOST_SMTP_DNSBL?.trim() || (typeof saved.smtpDnsbl === 'string' ? saved.smtpDnsbl : '')),
      rspamd: rspamdSettings(env, saved),
    };
  } catch (error) {
    // The same sentence, under the error type the MX listener's callers expect.
    if (error instanceof ConfigError) throw new MxSettingsError(error.message);
    throw error;
  }
}

/** SEALPOST_RSPAMD_URL (or the saved rspamdUrl), with SEALPOST_RSPAMD_PASSWORD and SEALPOST_RSPAMD_TIMEOUT_MS; null when unset. */
function rspamdSettings(env: Env, saved: Readonly<Record<string, unknown>>): RspamdSettings | null {
  const fromEnv = env.SEALPOST_RSPAMD_URL?.trim();
  const text = fromEnv || (typeof saved.rspamdUrl === 'string' ? saved.rspamdUrl.trim() : '');
  if (!text) return null;
  const { timeoutMs } = wholeNumbersFromEnv(env, [{ env: 'SEALPOST_RSPAMD_TIMEOUT_MS', key: 'timeoutMs', min: 100, max: 120_000 }], { timeoutMs: DEFAULT_RSPAMD_TIMEOUT_MS });
  return {
    url: parseRspamdUrl(text, fromEnv ? 'SEALPOST_RSPAMD_URL' : 'saved setting rspamdUrl'),
    password: env.SEALPOST_RSPAMD_PASSWORD || null,
    timeoutMs,
  };
}

/** One webhook retry delay of the comma-separated list, ms. */
function backoffStep(part: string): number {
  const step = wholeNumberInRange(part.trim(), 0);
  if (step === null) throw new MxSettingsError(`SEALPOST_WEBHOOK_BACKOFF_MS must be whole numbers of milliseconds separated by commas, not ${JSON.stringify(part)}.`);
  return step;
}
