// The certificate manager: gets a certificate from an ACME CA (acme-client) for the mail host name and the
// mta-sts./autoconfig. names of every domain, installs it in TlsMaterial (every TLS listener uses it for
// new connections at once), and renews it well before expiry on a timetable. Failures are retried with
// backoff and recorded (last error) in the directory; nothing here ever throws into the server.
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import acme from 'acme-client';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { certificateNames, readAcmeStatus, renewalDue, retryDelayMs, type AcmeChallenge, type AcmeSettings, type AcmeStatus } from '../config/acme.js';
import { ACME_CERT_FILE, ACME_DIR, ACME_KEY_FILE, certificateInfo, type TlsMaterial } from '../config/tls.js';
import { unwrapSecret, wrapSecret } from '../crypto/index.js';
import { readPrivateFile, replacePrivateFile } from '../keychain/files.js';
import type { Logger } from '../log.js';
import type { ChallengeBook } from './challenges.js';
import { createAlpnChallengeCertificate, createCsr } from './x509.js';

/** The account key file: the PEM sealed with a key derived from the app key (it is the CA account's secret). */
export const ACCOUNT_KEY_FILE = 'account-key.sealed';
const ACCOUNT_KEY_INFO = new TextEncoder().encode('sealpost/acme-account-key/v1');
/** How often the domain list is compared with the certificate's names (a cheap directory read). */
const NAMES_WATCH_MS = 5 * 60_000;

export interface CertificateManagerDeps {
  readonly settings: AcmeSettings;
  readonly tlsDir: string;
  readonly appKey: Uint8Array;
  readonly hostname: string;
  /** Our domains now (names are re-read at every check, so a new domain is added at the next renewal). */
  readonly domains: () => string[];
  /** Listener ports: which challenges can be answered (HTTP-01 needs http, TLS-ALPN-01 needs https). */
  readonly ports: { readonly http: number; readonly https: number };
  readonly tls: Pick<TlsMaterial, 'source' | 'certificatePem' | 'install'>;
  readonly challenges: ChallengeBook;
  readonly status: { get(): unknown; set(value: AcmeStatus): void };
  readonly logger: Logger;
}

export type RenewOutcome = 'issued' | 'current' | 'failed';

/** The CA could not validate one name of an order. */
class NameNotValidated extends Error {
  constructor(
    readonly identifier: string,
    message: string,
  ) {
    super(message);
  }
}

export class CertificateManager {
  private timer: NodeJS.Timeout | null = null;
  private namesWatch: NodeJS.Timeout | null = null;
  private running: Promise<RenewOutcome> | null = null;
  private stopped = false;

  constructor(private readonly deps: CertificateManagerDeps) {}

  /** Checks now, then on the timetable; does nothing when ACME is off. */
  start(): void {
    if (!this.deps.settings.enabled) return;
    this.stopped = false;
    this.schedule(0);
    // A new domain's mta-sts./autoconfig. names are requested within minutes, not at the next check.
    this.namesWatch = setInterval(() => {
      if (!this.running && this.namesChanged()) void this.renew();
    }, NAMES_WATCH_MS);
    this.namesWatch.unref();
  }

  /** Stops the timetable and waits (bounded) for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.namesWatch) clearInterval(this.namesWatch);
    this.namesWatch = null;
    if (this.running) await Promise.race([this.running, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  }

  /** The saved status (null before the first attempt). */
  status(): AcmeStatus | null {
    return readAcmeStatus(this.deps.status.get());
  }

  /**
   * Gets a certificate when none from the CA is in use, when it no longer covers every name, when it is due
   * for renewal, or always with `force`; `challenges` overrides the configured order for this run.
   */
  renew(options: { readonly force?: boolean; readonly challenges?: readonly AcmeChallenge[] } = {}): Promise<RenewOutcome> {
    this.running ??= this.run(options).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.renew();
    }, delayMs);
    this.timer.unref();
  }

  private async run(options: { readonly force?: boolean; readonly challenges?: readonly AcmeChallenge[] }): Promise<RenewOutcome> {
    const { settings, logger } = this.deps;
    const previous = this.status();
    const names = certificateNames(this.deps.hostname, this.deps.domains());
    // Names left off last time are tried again at every check; if they still fail, no new certificate is made.
    if (!options.force && !this.needsCertificate(names)) {
      this.save({ ...(previous ?? blankStatus(settings)), nextAttempt: new Date(Date.now() + settings.checkIntervalMs).toISOString() });
      this.schedule(settings.checkIntervalMs);
      return 'current';
    }
    const attempt = new Date().toISOString();
    try {
      // One optional name (mta-sts./autoconfig.) whose DNS does not point here must not cost the whole
      // certificate: it is left off and the order placed again for the others. The host name is required.
      const skipped: { name: string; reason: string }[] = [];
      let remaining = [...names];
      let issued: { key: string; cert: string; challenge: AcmeChallenge } | null = null;
      while (!issued) {
        try {
          issued = await this.issue(remaining, options.challenges ?? settings.challenges);
        } catch (error) {
          const optional = error instanceof NameNotValidated && error.identifier !== names[0] && remaining.includes(error.identifier);
          if (!optional || this.stopped) throw error;
          skipped.push({ name: error.identifier, reason: error.message });
          remaining = remaining.filter((n) => n !== error.identifier);
          logger.warn({ event: 'acme.name_skipped', name: error.identifier, err: error.message }, 'left a name off the certificate: the CA could not validate it');
          if (!options.force && this.coversAndCurrent(remaining)) {
            // The certificate in use already has every name that validates: no duplicate (CAs rate-limit those).
            this.save({ ...(previous ?? blankStatus(settings)), lastAttempt: attempt, lastError: null, failures: 0, nextAttempt: new Date(Date.now() + settings.checkIntervalMs).toISOString(), skipped });
            this.schedule(settings.checkIntervalMs);
            return 'current';
          }
        }
      }
      const { key, cert, challenge } = issued;
      if (this.stopped) return 'failed';
      const dir = path.join(this.deps.tlsDir, ACME_DIR);
      // Key first: a crash between the two leaves the old certificate with a key that does not match, which
      // TlsMaterial.open refuses (then the self-signed pair is used and the next check issues again).
      replacePrivateFile(path.join(dir, ACME_KEY_FILE), Buffer.from(key));
      replacePrivateFile(path.join(dir, ACME_CERT_FILE), Buffer.from(cert));
      const installed = this.deps.tls.install({ key, cert }, 'acme');
      const info = certificateInfo(cert);
      logger.info({ event: 'acme.issued', serial: info.serial, validTo: info.validTo, installed, challenge }, 'certificate issued by the ACME CA');
      this.save({ directoryUrl: settings.directoryUrl, lastRenewal: attempt, lastAttempt: attempt, lastError: installed ? null : 'issued, but SEALPOST_TLS_CERT names your own certificate, which stays in use', failures: 0, nextAttempt: new Date(Date.now() + settings.checkIntervalMs).toISOString(), lastChallenge: challenge, skipped });
      this.schedule(settings.checkIntervalMs);
      return 'issued';
    } catch (error) {
      if (this.stopped) return 'failed';
      const failures = (previous?.failures ?? 0) + 1;
      const delay = retryDelayMs(failures, settings.retryMinMs, settings.retryMaxMs);
      const message = describe(error);
      logger.warn({ event: 'acme.failed', failures, retryInMs: delay, err: message }, 'could not get a certificate from the ACME CA; will retry');
      this.save({ ...(previous ?? blankStatus(settings)), directoryUrl: settings.directoryUrl, lastAttempt: attempt, lastError: message, failures, nextAttempt: new Date(Date.now() + delay).toISOString() });
      this.schedule(delay);
      return 'failed';
    }
  }

  private needsCertificate(names: readonly string[]): boolean {
    return !this.coversAndCurrent(names);
  }

  /** Whether the certificate in use came from the CA, names every one of `names` and is not yet due. */
  private coversAndCurrent(names: readonly string[]): boolean {
    if (this.deps.tls.source !== 'acme') return false;
    try {
      const info = certificateInfo(this.deps.tls.certificatePem());
      if (!names.every((n) => info.names.includes(n))) return false;
      return !renewalDue(new Date(info.validFrom), new Date(info.validTo), new Date());
    } catch {
      return false;
    }
  }

  /** Whether a domain was added since the certificate was made (its names are neither on it nor left off). */
  private namesChanged(): boolean {
    if (this.deps.tls.source !== 'acme') return false;
    try {
      const onCertificate = certificateInfo(this.deps.tls.certificatePem()).names;
      const skipped = (this.status()?.skipped ?? []).map((s) => s.name);
      return certificateNames(this.deps.hostname, this.deps.domains()).some((n) => !onCertificate.includes(n) && !skipped.includes(n));
    } catch {
      return false;
    }
  }

  private async issue(names: readonly string[], preference: readonly AcmeChallenge[]): Promise<{ key: string; cert: string; challenge: AcmeChallenge }> {
    const { settings, ports, challenges } = this.deps;
    if (names.length === 0) throw new Error('The host name is not a fully qualified name, so no CA can issue for it; set SEALPOST_HOSTNAME.');
    const usable = preference.filter((c) => (c === 'http-01' ? ports.http > 0 : ports.https > 0));
    if (usable.length === 0) throw new Error('No listener can answer the CA: open SEALPOST_HTTP_PORT (80) for http-01 or SEALPOST_HTTPS_PORT (443) for tls-alpn-01.');
    const ca = settings.caFile ? readCaFile(settings.caFile) : undefined;
    await reachDirectory(settings.directoryUrl, ca);
    if (ca) {
      // acme-client talks through its own axios instance: trust the private CA there (one manager per process).
      acme.axios.defaults.httpsAgent = new https.Agent({ ca });
    }
    const client = new acme.Client({ directoryUrl: settings.directoryUrl, accountKey: this.accountKey(), backoffMin: settings.pollMs, backoffMax: settings.pollMs * 4, backoffAttempts: 10 });
    const { keyPem, csrPem } = await createCsr(names);
    await client.createAccount({ termsOfServiceAgreed: true, ...(settings.email ? { contact: [`mailto:${settings.email}`] } : {}) });
    const order = await client.createOrder({ identifiers: names.map((value) => ({ type: 'dns', value })) });
    const authorizations = await client.getAuthorizations(order);
    let used: AcmeChallenge = usable[0]!;
    // One name at a time: a home server answers few challenges, and a failure names the name it concerns.
    for (const authz of authorizations) {
      if (authz.status === 'valid') continue;
      const name = authz.identifier.value;
      const offered = usable.map((type) => authz.challenges.find((c) => (c.type as string) === type)).find((c) => c !== undefined);
      if (!offered) throw new Error(`The CA offers no challenge Sealpost answers (${usable.join(', ')}) for ${name}.`);
      const type = offered.type as string as AcmeChallenge;
      const keyAuthorization = await client.getChallengeKeyAuthorization(offered);
      if (type === 'http-01') challenges.putHttp((offered as { token: string }).token, keyAuthorization);
      else challenges.putAlpn(name, await createAlpnChallengeCertificate(name, keyAuthorization));
      try {
        await client.completeChallenge(offered);
        try {
          await client.waitForValidStatus(offered);
        } catch (error) {
          // The CA looked and the challenge did not validate: about this name, not about the CA.
          throw new NameNotValidated(name, `${type} for ${name} failed: ${describe(error)}`);
        }
      } finally {
        if (type === 'http-01') challenges.removeHttp((offered as { token: string }).token);
        else challenges.removeAlpn(name);
      }
      used = type;
    }
    const finalized = await client.finalizeOrder(order, csrPem);
    const cert = await client.getCertificate(finalized);
    return { key: keyPem, cert, challenge: used };
  }

  /** The CA account key: made once, stored sealed under the app key in tls/acme/ (0600). */
  private accountKey(): string {
    const file = path.join(this.deps.tlsDir, ACME_DIR, ACCOUNT_KEY_FILE);
    const wrapKey = hkdf(sha256, this.deps.appKey, undefined, ACCOUNT_KEY_INFO, 32);
    const sealed = readPrivateFile(file);
    if (sealed) return unwrapSecret(wrapKey, sealed, ACCOUNT_KEY_INFO).toString('utf8');
    const pem = cryptoAccountKey();
    replacePrivateFile(file, wrapSecret(wrapKey, Buffer.from(pem), ACCOUNT_KEY_INFO));
    return pem;
  }

  private save(status: AcmeStatus): void {
    try {
      this.deps.status.set(status);
    } catch (error) {
      this.deps.logger.warn({ event: 'acme.status_not_saved', err: describe(error) }, 'could not save the certificate status');
    }
  }
}

function cryptoAccountKey(): string {
  // P-256 (ES256): small, and accepted by every ACME CA.
  return crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function blankStatus(settings: AcmeSettings): AcmeStatus {
  return { directoryUrl: settings.directoryUrl, lastRenewal: null, lastAttempt: null, lastError: null, failures: 0, nextAttempt: null, lastChallenge: null, skipped: [] };
}

/** One line for the status: the CA's problem detail when it sent one, else the error message (no stack). */
function describe(error: unknown): string {
  const fields = error as { message?: string; response?: { data?: { detail?: string } } };
  const text = fields?.response?.data?.detail ?? fields?.message ?? String(error);
  return text.replace(/\s+/g, ' ').slice(0, 500);
}

function readCaFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read SEALPOST_ACME_CA_FILE ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}); point it at the PEM of the CA that signs the ACME directory, or unset it.`);
  }
}

/** Fails fast with one sentence when the ACME directory cannot be reached (acme-client would retry for minutes). */
function reachDirectory(url: string, ca: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, { ca, timeout: 15_000, agent: false }, (response) => {
      response.resume();
      if (response.statusCode === 200) resolve();
      else reject(new Error(`The ACME directory ${url} answered HTTP ${response.statusCode}.`));
    });
    request.once('timeout', () => request.destroy(new Error('timed out')));
    request.once('error', (error: NodeJS.ErrnoException) => reject(new Error(`The ACME directory ${url} cannot be reached (${error.code ?? error.message}).`)));
  });
}
