// TLS material for every listener: a self-signed certificate made on first run (tls/cert.pem, tls/key.pem 0600),
// or the user's own PEM files, re-read when they change on disk (no restart), or a certificate from an ACME CA
// (tls/acme/, installed by server/certs/ when issued or renewed). Only TLS 1.2+ is offered, and TLS 1.2
// only with forward-secret AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305), the server's order first.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { createRequire } from 'node:module';
import type forgeModule from 'node-forge';
import type { Logger } from '../log.js';
import { ConfigError } from './errors.js';

/**
 * TLS 1.3 suites (OpenSSL's defaults, all AEAD and forward-secret) and the only TLS 1.2 suites offered: ECDHE key
 * exchange (forward secrecy) with AEAD ciphers, for ECDSA and RSA certificates. No static RSA, no CBC, no SHA-1 MACs.
 */
export const TLS_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** The protocol and cipher policy of every listener (also set on each secure context). */
export const TLS_POLICY = { minVersion: 'TLSv1.2', ciphers: TLS_CIPHERS, honorCipherOrder: true } as const;

export interface TlsServerOptions {
  readonly key: string;
  readonly cert: string;
  readonly minVersion: 'TLSv1.2';
  readonly ciphers: string;
  /** The server's cipher order wins over the client's. */
  readonly honorCipherOrder: true;
  /** Hands out the current context, so a reloaded certificate is used by new connections at once. */
  readonly SNICallback: (servername: string, callback: (error: Error | null, context?: tls.SecureContext) => void) => void;
}

export interface TlsOpenOptions {
  readonly tlsDir: string;
  /** Host name the self-signed certificate is made for (localhost and 127.0.0.1 are always included). */
  readonly hostname: string;
  readonly certPath?: string | null;
  readonly keyPath?: string | null;
  readonly logger?: Logger;
  /** Polling interval for the user's files in ms (default 2000). */
  readonly watchIntervalMs?: number;
}

/** Where an ACME-issued pair lives inside tls/ (written by server/certs/, both 0600). */
export const ACME_DIR = 'acme';
export const ACME_CERT_FILE = 'cert.pem';
export const ACME_KEY_FILE = 'key.pem';

/** What a certificate says about itself (status in the UI, doctor and the admin API). */
export interface CertificateInfo {
  readonly subject: string;
  readonly issuer: string;
  readonly names: string[];
  readonly serial: string;
  readonly validFrom: string;
  readonly validTo: string;
}

/** Issuer, names, serial and validity of the first certificate of a PEM chain. */
export function certificateInfo(certPem: string): CertificateInfo {
  const x509 = new crypto.X509Certificate(certPem);
  const names = (x509.subjectAltName ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n.startsWith('DNS:') || n.startsWith('IP Address:'))
    .map((n) => n.replace(/^(DNS|IP Address):/, ''));
  return {
    subject: x509.subject.replace(/\n/g, ', '),
    issuer: x509.issuer.replace(/\n/g, ', '),
    names,
    serial: x509.serialNumber,
    validFrom: new Date(x509.validFrom).toISOString(),
    validTo: new Date(x509.validTo).toISOString(),
  };
}

export interface Pair {
  readonly key: string;
  readonly cert: string;
}

export type TlsSource = 'self-signed' | 'user' | 'acme';

const SELF_SIGNED_DAYS = 5 * 365;
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

export class TlsMaterial {
  private pair: Pair;
  private context: tls.SecureContext;
  private readonly listeners = new Set<() => void>();
  private readonly watched: string[] = [];

  private constructor(
    pair: Pair,
    /** 'self-signed' (made by us), 'user' (cert/key paths from settings) or 'acme' (issued by an ACME CA; may change at run time). */
    private currentSource: TlsSource,
    readonly certPath: string,
    readonly keyPath: string,
    private readonly logger: Logger | undefined,
  ) {
    this.pair = pair;
    this.context = createContext(pair);
  }

  /**
   * Loads the user's pair; else a still-valid ACME pair from tls/acme/; else the self-signed one (creating it
   * when missing, expiring or for another host name).
   */
  static async open(options: TlsOpenOptions): Promise<TlsMaterial> {
    if (options.certPath && options.keyPath) {
      const pair = readPair(options.certPath, options.keyPath);
      const material = new TlsMaterial(pair, 'user', options.certPath, options.keyPath, options.logger);
      material.watch(options.watchIntervalMs ?? 2000);
      return material;
    }
    const acmeCert = path.join(options.tlsDir, ACME_DIR, ACME_CERT_FILE);
    const acmeKey = path.join(options.tlsDir, ACME_DIR, ACME_KEY_FILE);
    const acmePair = fs.existsSync(acmeCert) && fs.existsSync(acmeKey) ? readPairOrNull(acmeCert, acmeKey) : null;
    if (acmePair && stillValid(acmePair.cert, options.hostname)) return new TlsMaterial(acmePair, 'acme', acmeCert, acmeKey, options.logger);
    const certPath = path.join(options.tlsDir, 'cert.pem');
    const keyPath = path.join(options.tlsDir, 'key.pem');
    let pair = fs.existsSync(certPath) && fs.existsSync(keyPath) ? readPairOrNull(certPath, keyPath) : null;
    if (!pair || !coversHost(pair.cert, options.hostname)) {
      pair = createSelfSigned(options.hostname);
      fs.mkdirSync(options.tlsDir, { recursive: true, mode: 0o700 });
      writeFileAtomic(keyPath, pair.key, 0o600);
      writeFileAtomic(certPath, pair.cert, 0o600); // public, but the data dir stays owner-only (doctor checks)
      options.logger?.info({ event: 'tls.self_signed_created' }, 'created a self-signed TLS certificate');
    }
    return new TlsMaterial(pair, 'self-signed', certPath, keyPath, options.logger);
  }

  /** Where the certificate in use came from; 'acme' once server/certs/ installed an issued one. */
  get source(): TlsSource {
    return this.currentSource;
  }

  /** Issuer, names, serial and validity of the certificate in use. */
  info(): CertificateInfo {
    return certificateInfo(this.pair.cert);
  }

  /**
   * Swaps in an ACME-issued pair at run time (the caller wrote it to disk first): new connections on every
   * listener get it at once. A pair that does not load is refused with an error and the old one stays.
   * A user's own certificate (SEALPOST_TLS_CERT) always wins: then nothing is swapped and false is returned.
   */
  install(pair: Pair, source: 'acme'): boolean {
    if (this.currentSource === 'user') return false;
    const context = createContext(pair);
    this.pair = pair;
    this.context = context;
    this.currentSource = source;
    this.logger?.info({ event: 'tls.installed', source }, 'TLS certificate installed');
    this.notify();
    return true;
  }

  /** The current secure context (changes after a reload). */
  getSecureContext(): tls.SecureContext {
    return this.context;
  }

  /** Options for tls.createServer / smtp-server / imap-core; call again after onReload to get the new PEMs. */
  tlsOptions(): TlsServerOptions {
    return {
      key: this.pair.key,
      cert: this.pair.cert,
      ...TLS_POLICY,
      SNICallback: (_servername, callback) => callback(null, this.context),
    };
  }

  /** The certificate in PEM (shown by the admin UI so users can trust it). */
  certificatePem(): string {
    return this.pair.cert;
  }

  /** SHA-256 fingerprint of the certificate, colon-separated hex. */
  fingerprint256(): string {
    return new crypto.X509Certificate(this.pair.cert).fingerprint256;
  }

  /** Called after the user's files changed and were loaded; tls.Server users call server.setSecureContext(tlsOptions()). */
  onReload(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Re-reads the user's files now; a broken or mismatched pair is logged and the old one kept. */
  reload(): boolean {
    if (this.currentSource !== 'user') return false;
    try {
      const pair = readPair(this.certPath, this.keyPath);
      const context = createContext(pair);
      this.pair = pair;
      this.context = context;
    } catch (error) {
      this.logger?.warn({ event: 'tls.reload_failed', err: error instanceof Error ? error.message : String(error) }, 'kept the previous TLS certificate');
      return false;
    }
    this.logger?.info({ event: 'tls.reloaded' }, 'TLS certificate reloaded');
    this.notify();
    return true;
  }

  private notify(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (error) {
        this.logger?.error({ err: error }, 'TLS reload listener failed');
      }
    }
  }

  /** Stops watching files. */
  close(): void {
    for (const file of this.watched.splice(0)) fs.unwatchFile(file);
    this.listeners.clear();
  }

  private watch(intervalMs: number): void {
    // Polling (watchFile) survives the rename-into-place and symlink swaps that certbot & co. do; fs.watch does not.
    for (const file of [this.certPath, this.keyPath]) {
      fs.watchFile(file, { interval: intervalMs, persistent: false }, (current, previous) => {
        if (current.mtimeMs !== previous.mtimeMs || current.ino !== previous.ino || current.size !== previous.size) this.reload();
      });
      this.watched.push(file);
    }
  }
}

function createContext(pair: Pair): tls.SecureContext {
  // Throws "key values mismatch" when the key does not belong to the certificate.
  return tls.createSecureContext({ key: pair.key, cert: pair.cert, ...TLS_POLICY });
}

function readPair(certPath: string, keyPath: string): Pair {
  let cert: string;
  let key: string;
  try {
    cert = fs.readFileSync(certPath, 'utf8');
    key = fs.readFileSync(keyPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`Cannot read the TLS certificate or key (${code}); check SEALPOST_TLS_CERT and SEALPOST_TLS_KEY.`);
  }
  try {
    createContext({ key, cert });
  } catch (error) {
    throw new ConfigError(`The TLS certificate and key cannot be used together (${error instanceof Error ? error.message : String(error)}).`);
  }
  return { key, cert };
}

function readPairOrNull(certPath: string, keyPath: string): Pair | null {
  try {
    return readPair(certPath, keyPath);
  } catch {
    return null;
  }
}

/** An ACME certificate is used at start while it has not expired and still names the host. */
function stillValid(certPem: string, hostname: string): boolean {
  try {
    const x509 = new crypto.X509Certificate(certPem);
    return Date.parse(x509.validTo) > Date.now() && (net.isIP(hostname) ? false : x509.checkHost(hostname) !== undefined);
  } catch {
    return false;
  }
}

function coversHost(certPem: string, hostname: string): boolean {
  try {
    const x509 = new crypto.X509Certificate(certPem);
    if (Date.parse(x509.validTo) - Date.now() < RENEW_BEFORE_MS) return false;
    return net.isIP(hostname) ? x509.checkIP(hostname) !== undefined : x509.checkHost(hostname) !== undefined;
  } catch {
    return false;
  }
}

function writeFileAtomic(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', mode);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/** A self-signed RSA-2048 certificate for hostname, localhost, 127.0.0.1 and ::1. */
export function createSelfSigned(hostname: string, days = SELF_SIGNED_DAYS): Pair {
  // Native key generation (fast); node-forge only assembles and signs the X.509 certificate.
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // node-forge (~50 ms to load) only when a certificate must be made, not at every start.
  const forge = createRequire(import.meta.url)('node-forge') as typeof forgeModule;
  const forgeKey = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
  const forgePub = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());

  const cert = forge.pki.createCertificate();
  cert.publicKey = forgePub;
  // Positive serial: clear the top bit of the first byte.
  const serial = crypto.randomBytes(16);
  serial[0] &= 0x7f;
  cert.serialNumber = serial.toString('hex');
  const notBefore = new Date(Date.now() - 60_000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + days * 24 * 3600 * 1000);
  const subject = [{ name: 'commonName', value: hostname }, { name: 'organizationName', value: 'Sealpost (self-signed)' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  const altNames: { type: number; value?: string; ip?: string }[] = [];
  const add = (name: string): void => {
    if (net.isIP(name)) {
      if (!altNames.some((a) => a.ip === name)) altNames.push({ type: 7, ip: name });
    } else if (!altNames.some((a) => a.value === name.toLowerCase())) {
      altNames.push({ type: 2, value: name.toLowerCase() });
    }
  };
  for (const name of [hostname, 'localhost', '127.0.0.1', '::1']) add(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forgeKey, forge.md.sha256.create());
  return { key: keyPem, cert: forge.pki.certificateToPem(cert) };
}
