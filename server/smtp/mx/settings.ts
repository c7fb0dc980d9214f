// MX settings: defaults < saved settings (directory) < SEALPOST_SMTP_* environment. Each one is
// documented with its default in /work/helpers/readme-mx.md.

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
}

export const DEFAULT_MX_SETTINGS: MxSettings = {
  maxSize: 50 * 1024 * 1024,
  maxRecipients: 100,
  maxConnectionsPerIp: 20,
  maxConnections: 500,
  maxMessagesPerSenderPerHour: 0,
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
};

type Env = Readonly<Record<string, string | undefined>>;

export class MxSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MxSettingsError';
  }
}

const NUMERIC: readonly [keyof MxSettings, string, string][] = [
  ['maxSize', 'SEALPOST_SMTP_MAX_SIZE', 'smtpMaxSize'],
  ['maxRecipients', 'SEALPOST_SMTP_MAX_RECIPIENTS', 'smtpMaxRecipients'],
  ['maxConnectionsPerIp', 'SEALPOST_SMTP_MAX_CONNECTIONS_PER_IP', 'smtpMaxConnectionsPerIp'],
  ['maxConnections', 'SEALPOST_SMTP_MAX_CONNECTIONS', 'smtpMaxConnections'],
  ['maxMessagesPerSenderPerHour', 'SEALPOST_SMTP_SENDER_RATE', 'smtpSenderRate'],
  ['socketTimeoutMs', 'SEALPOST_SMTP_TIMEOUT_MS', 'smtpTimeoutMs'],
  ['handshakeTimeoutMs', 'SEALPOST_SMTP_HANDSHAKE_TIMEOUT_MS', 'smtpHandshakeTimeoutMs'],
  ['closeTimeoutMs', 'SEALPOST_SMTP_CLOSE_TIMEOUT_MS', 'smtpCloseTimeoutMs'],
  ['maxHops', 'SEALPOST_SMTP_MAX_HOPS', 'smtpMaxHops'],
  ['maxBadRcpt', 'SEALPOST_SMTP_MAX_BAD_RCPT', 'smtpMaxBadRcpt'],
  ['maxBadRcptPerIp', 'SEALPOST_SMTP_MAX_BAD_RCPT_PER_IP', 'smtpMaxBadRcptPerIp'],
  ['badRcptWindowMs', 'SEALPOST_SMTP_BAD_RCPT_WINDOW_MS', 'smtpBadRcptWindowMs'],
  ['tarpitMs', 'SEALPOST_SMTP_TARPIT_MS', 'smtpTarpitMs'],
  ['srsMaxAgeDays', 'SEALPOST_SRS_MAX_AGE_DAYS', 'srsMaxAgeDays'],
];

function wholeNumber(value: unknown, source: string): number {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^\d{1,15}$/.test(text)) throw new MxSettingsError(`${source} must be a whole number, not ${JSON.stringify(value)}.`);
  return Number(text);
}

/** Reads the MX settings; throws MxSettingsError with one clear sentence. */
export function loadMxSettings(env: Env = process.env, saved: Readonly<Record<string, unknown>> = {}): MxSettings {
  const out: Record<string, unknown> = { ...DEFAULT_MX_SETTINGS };
  for (const [key, envName, settingName] of NUMERIC) {
    if (env[envName] !== undefined && env[envName] !== '') out[key] = wholeNumber(env[envName], envName);
    else if (saved[settingName] !== undefined && saved[settingName] !== null) out[key] = wholeNumber(saved[settingName], `saved setting ${settingName}`);
  }
  if ((out.maxSize as number) < 1024) throw new MxSettingsError('SEALPOST_SMTP_MAX_SIZE must be at least 1024 bytes.');
  if ((out.maxRecipients as number) < 1) throw new MxSettingsError('SEALPOST_SMTP_MAX_RECIPIENTS must be at least 1 (RFC 5321 asks for 100).');
  if ((out.maxBadRcpt as number) < 1) throw new MxSettingsError('SEALPOST_SMTP_MAX_BAD_RCPT must be at least 1.');
  if ((out.maxBadRcptPerIp as number) < 1) throw new MxSettingsError('SEALPOST_SMTP_MAX_BAD_RCPT_PER_IP must be at least 1.');
  const srsAge = out.srsMaxAgeDays as number;
  if (srsAge < 1 || srsAge > 1000) throw new MxSettingsError('SEALPOST_SRS_MAX_AGE_DAYS must be 1 to 1000 (the SRS day stamp wraps after 1024 days).');
  const auth = env.SEALPOST_SMTP_AUTH_CHECKS;
  if (auth !== undefined && auth !== '') {
    if (!/^(on|off|true|false|1|0)$/i.test(auth)) throw new MxSettingsError('SEALPOST_SMTP_AUTH_CHECKS must be on or off.');
    out.authChecks = /^(on|true|1)$/i.test(auth);
  }
  const backoff = env.SEALPOST_WEBHOOK_BACKOFF_MS;
  if (backoff !== undefined && backoff.trim() !== '') {
    out.webhookBackoffMs = backoff.split(',').map((part) => wholeNumber(part, 'SEALPOST_WEBHOOK_BACKOFF_MS'));
  }
  return out as unknown as MxSettings;
}
