// `sealpost doctor` lines for the certificate mail clients are shown and the ACME manager: issuer, names,
// expiry, last renewal and last error (what serve would load: your own, else tls/acme/, else self-signed).
import fs from 'node:fs';
import path from 'node:path';
import { readAcmeStatus } from '../config/acme.js';
import { certificateStatus } from '../config/certificate-status.js';
import type { SealpostConfig } from '../config/index.js';
import { ACME_CERT_FILE, ACME_DIR, type TlsSource } from '../config/tls.js';

type Add = (status: 'ok' | 'warn' | 'fail', check: string, message: string) => void;

export function checkCertificate(tlsDir: string, config: SealpostConfig, savedStatus: unknown, add: Add): void {
  const acmeFile = path.join(tlsDir, ACME_DIR, ACME_CERT_FILE);
  const source: TlsSource = config.tls.certPath ? 'user' : fs.existsSync(acmeFile) ? 'acme' : 'self-signed';
  const file = source === 'user' ? config.tls.certPath! : source === 'acme' ? acmeFile : path.join(tlsDir, 'cert.pem');
  let pem: string | null = null;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch {
    pem = null;
  }
  const view = certificateStatus({ env: config.env, config, source, certPem: pem, savedStatus });
  if (view.certificate) {
    const c = view.certificate;
    add(view.daysLeft !== null && view.daysLeft < 14 ? 'warn' : 'ok', 'certificate', `${source} certificate from ${c.issuer} for ${c.names.join(', ')}, expires ${c.validTo.slice(0, 10)} (${view.daysLeft} days).`);
  }
  const status = readAcmeStatus(savedStatus);
  if (!view.acme.enabled) {
    add('ok', 'acme', `ACME certificates are ${view.acme.reason}.`);
    return;
  }
  const last = status?.lastRenewal ? `last renewal ${status.lastRenewal}` : 'no certificate issued yet';
  if (status?.lastError) add('warn', 'acme', `${view.acme.directoryUrl}: ${last}; last error: ${status.lastError}. Check that the names point here and ports 80/443 reach Sealpost; it retries at ${status.nextAttempt ?? 'the next check'}.`);
  else add('ok', 'acme', `${view.acme.directoryUrl}: ${last}${status?.nextAttempt ? `; next check ${status.nextAttempt}` : ''}.`);
  for (const warning of view.warnings.filter((w) => !w.startsWith('The last certificate request failed'))) add('warn', 'acme', warning);
}
