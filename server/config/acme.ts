// ACME certificate settings (SEALPOST_ACME_*), the names a certificate must cover, when it is due for
// renewal, and the status record the certificate manager keeps (read by doctor, the admin API and the UI).
// Pure: the manager that talks to the CA lives in server/certs/.
import { isLoopbackHost } from '../net.js';
import { onOffFromEnv, wholeNumbersFromEnv, type NumericSetting } from './env-values.js';
import { ConfigError } from './errors.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Let's Encrypt's production directory: the default CA. */
export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';

export type AcmeChallenge = 'http-01' | 'tls-alpn-01';

export interface AcmeSettings {
  /** Whether certificates are requested at all. */
  readonly enabled: boolean;
  /** Why enabled is what it is (shown by doctor and the UI when off). */
  readonly reason: string;
  readonly directoryUrl: string;
  /** Contact address given to the CA (expiry notices); null = none. */
  readonly email: string | null;
  /** PEM file of a private CA that signs the ACME directory's own HTTPS (a test or in-house CA); null = the system's. */
  readonly caFile: string | null;
  /** Challenge types in the order they are tried. */
  readonly challenges: readonly AcmeChallenge[];
  /** How often the certificate is checked for renewal. */
  readonly checkIntervalMs: number;
  /** First retry delay after a failure; doubled per failure up to retryMaxMs. */
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  /** How often a pending authorization or order is polled at the CA. */
  readonly pollMs: number;
}

const NUMBERS: readonly NumericSetting<'checkHours' | 'retryMinSeconds' | 'retryMaxSeconds' | 'pollMs'>[] = [
  { env: 'SEALPOST_ACME_CHECK_HOURS', key: 'checkHours', min: 1, max: 168 },
  { env: 'SEALPOST_ACME_RETRY_MIN_SECONDS', key: 'retryMinSeconds', min: 1, max: 86_400 },
  { env: 'SEALPOST_ACME_RETRY_MAX_SECONDS', key: 'retryMaxSeconds', min: 1, max: 7 * 86_400 },
  { env: 'SEALPOST_ACME_POLL_MS', key: 'pollMs', min: 100, max: 60_000 },
];

/**
 * Reads SEALPOST_ACME, _DIRECTORY, _EMAIL, _CA_FILE, _CHALLENGES and the timing variables. ACME is on when
 * SEALPOST_ACME says so; unset, it is on only when the server listens beyond loopback under a real host name
 * (a laptop or a test keeps its self-signed certificate).
 */
export function acmeSettings(env: Env, config: { readonly host: string; readonly hostname: string; readonly tls?: { readonly certPath: string | null } }): AcmeSettings {
  const explicit = env.SEALPOST_ACME?.trim() ? onOffFromEnv(env, 'SEALPOST_ACME', false) : null;
  const loopbackOnly = isLoopbackHost(config.host);
  const realName = isFqdn(config.hostname) && !isLoopbackHost(config.hostname);
  // The owner's own certificate always wins (TlsMaterial), so ordering one would only spend the CA's limits.
  const ownCertificate = Boolean(config.tls?.certPath);
  const enabled = !ownCertificate && (explicit ?? (!loopbackOnly && realName));
  const reason = ownCertificate
    ? 'off: your own certificate (SEALPOST_TLS_CERT) is in use'
    : explicit === true
      ? 'on (SEALPOST_ACME=on)'
      : explicit === false
        ? 'off (SEALPOST_ACME=off)'
        : enabled
          ? 'on (listening beyond loopback under a real host name)'
          : loopbackOnly
            ? 'off: the server listens on loopback only (set SEALPOST_ACME=on to request certificates anyway)'
            : 'off: the host name is not a fully qualified name (set SEALPOST_HOSTNAME)';
  const directoryUrl = env.SEALPOST_ACME_DIRECTORY?.trim() || LETS_ENCRYPT_DIRECTORY;
  if (!/^https:\/\/[^\s/]+/i.test(directoryUrl)) throw new ConfigError(`SEALPOST_ACME_DIRECTORY must be an https:// URL, not ${JSON.stringify(directoryUrl)}.`);
  const email = env.SEALPOST_ACME_EMAIL?.trim() || null;
  if (email !== null && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new ConfigError('SEALPOST_ACME_EMAIL must be an e-mail address (the CA writes to it about expiring certificates).');
  const challenges = parseChallenges(env.SEALPOST_ACME_CHALLENGES);
  const n = wholeNumbersFromEnv(env, NUMBERS, { checkHours: 12, retryMinSeconds: 300, retryMaxSeconds: 86_400, pollMs: 2000 });
  return {
    enabled,
    reason,
    directoryUrl,
    email,
    caFile: env.SEALPOST_ACME_CA_FILE?.trim() || null,
    challenges,
    checkIntervalMs: n.checkHours * 3_600_000,
    retryMinMs: n.retryMinSeconds * 1000,
    retryMaxMs: Math.max(n.retryMinSeconds, n.retryMaxSeconds) * 1000,
    pollMs: n.pollMs,
  };
}

function parseChallenges(text: string | undefined): AcmeChallenge[] {
  if (!text?.trim()) return ['http-01', 'tls-alpn-01'];
  const out: AcmeChallenge[] = [];
  for (const part of text.split(',').map((p) => p.trim().toLowerCase())) {
    if (part !== 'http-01' && part !== 'tls-alpn-01') throw new ConfigError(`SEALPOST_ACME_CHALLENGES must list http-01 and/or tls-alpn-01 (comma-separated), not ${JSON.stringify(text)}.`);
    if (!out.includes(part)) out.push(part);
  }
  return out;
}

/** A name with at least two labels, each a valid DNS label (what a public CA can issue for). */
export function isFqdn(name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  return n.length <= 253 && n.includes('.') && n.split('.').every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label)) && !/^\d+$/.test(n.split('.').pop() ?? '');
}

/** The names one certificate covers: the mail host name, then mta-sts.<domain> and autoconfig.<domain> per domain. */
export function certificateNames(hostname: string, domains: readonly string[]): string[] {
  const names = [hostname.toLowerCase().replace(/\.$/, '')];
  for (const domain of [...domains].map((d) => d.toLowerCase().replace(/\.$/, '')).sort()) {
    for (const name of [`mta-sts.${domain}`, `autoconfig.${domain}`]) if (!names.includes(name)) names.push(name);
  }
  return names.filter(isFqdn);
}

const DAY_MS = 86_400_000;

/**
 * Whether a certificate valid from..to should be renewed at `now`: when less than 30 days or a third of its
 * lifetime remain, whichever is sooner (a 90-day certificate renews at 30 days left, a 6-day one at 2).
 */
export function renewalDue(validFrom: Date, validTo: Date, now: Date): boolean {
  const lifetime = validTo.getTime() - validFrom.getTime();
  const threshold = Math.min(30 * DAY_MS, lifetime / 3);
  return validTo.getTime() - now.getTime() < threshold;
}

/** The delay before retry number `failures` (1 = first retry): doubled each time, capped. */
export function retryDelayMs(failures: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.max(0, Math.min(30, failures - 1)));
}

/** What the certificate manager last did, kept in the directory (setting ACME_STATUS_SETTING). */
export interface AcmeStatus {
  readonly directoryUrl: string;
  /** When a certificate was last issued or renewed (ISO time), or null. */
  readonly lastRenewal: string | null;
  /** When the CA was last asked (ISO time), or null. */
  readonly lastAttempt: string | null;
  /** The last failure's message, cleared by a success. */
  readonly lastError: string | null;
  /** Failures in a row. */
  readonly failures: number;
  /** When the next attempt or check is due (ISO time), or null. */
  readonly nextAttempt: string | null;
  /** The challenge that proved the names last time. */
  readonly lastChallenge: AcmeChallenge | null;
  /**
   * Optional names (mta-sts., autoconfig.) left off the last certificate because the CA could not validate
   * them (usually: their DNS does not point here yet), each with the reason; tried again at every check.
   */
  readonly skipped: readonly { readonly name: string; readonly reason: string }[];
}

export const ACME_STATUS_SETTING = 'acmeStatus';

/** The saved status, or null when none was saved or it is malformed. */
export function readAcmeStatus(value: unknown): AcmeStatus | null {
  if (!value || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  const text = (x: unknown): string | null => (typeof x === 'string' ? x : null);
  const challenge = v.lastChallenge === 'http-01' || v.lastChallenge === 'tls-alpn-01' ? v.lastChallenge : null;
  return {
    directoryUrl: text(v.directoryUrl) ?? '',
    lastRenewal: text(v.lastRenewal),
    lastAttempt: text(v.lastAttempt),
    lastError: text(v.lastError),
    failures: typeof v.failures === 'number' && Number.isInteger(v.failures) ? v.failures : 0,
    nextAttempt: text(v.nextAttempt),
    lastChallenge: challenge,
    skipped: Array.isArray(v.skipped)
      ? v.skipped.flatMap((x: unknown) => {
          const item = x as { name?: unknown; reason?: unknown } | null;
          return item && typeof item.name === 'string' && typeof item.reason === 'string' ? [{ name: item.name, reason: item.reason }] : [];
        })
      : [],
  };
}
