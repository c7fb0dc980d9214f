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
  /** How long stop() waits for open sessions, ms. */
  readonly closeTimeoutMs: number;
  /** More Received headers than this = mail loop (554 5.4.6). */
  readonly maxHops: number;
  /** Run SPF/DKIM/DMARC/ARC (on by default; off only for trusted relays / benchmarks without DNS). */
  readonly authChecks: boolean;
  /** Webhook retry delays (ms) after each failure; empty = the defaults. */
  readonly webhookBackoffMs: readonly number[];
}

export const DEFAULT_MX_SETTINGS: MxSettings = {
  maxSize: 50 * 1024 * 1024,
  maxRecipients: 100,
  maxConnectionsPerIp: 20,
  maxConnections: 500,
  maxMessagesPerSenderPerHour: 0,
  socketTimeoutMs: 120_000,
  closeTimeoutMs: 30_000,
  maxHops: 30,
  authChecks: true,
  webhookBackoffMs: [],
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
  ['closeTimeoutMs', 'SEALPOST_SMTP_CLOSE_TIMEOUT_MS', 'smtpCloseTimeoutMs'],
  ['maxHops', 'SEALPOST_SMTP_MAX_HOPS', 'smtpMaxHops'],
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
