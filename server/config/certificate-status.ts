// What the certificate in use is and what the ACME manager last did, in one shape for the admin API, the
// UI's Certificate card and `sealpost doctor`. Pure: callers pass the saved status and the PEM in use.
import { acmeSettings, readAcmeStatus, type AcmeStatus } from './acme.js';
import { certificateInfo, type CertificateInfo, type TlsSource } from './tls.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface CertificateStatus {
  /** self-signed, user (SEALPOST_TLS_CERT) or acme. */
  readonly source: TlsSource;
  readonly certificate: CertificateInfo | null;
  /** Whole days until the certificate expires (negative once expired). */
  readonly daysLeft: number | null;
  readonly acme: {
    readonly enabled: boolean;
    /** Why ACME is on or off, in one sentence. */
    readonly reason: string;
    readonly directoryUrl: string;
    readonly challenges: readonly string[];
    /** What the manager last did; null before its first attempt. */
    readonly status: AcmeStatus | null;
  };
  /** Problems the owner should act on, one sentence each. */
  readonly warnings: string[];
}

export function certificateStatus(input: {
  readonly env: Env;
  readonly config: { readonly host: string; readonly hostname: string; readonly ports: { readonly http: number; readonly https: number }; readonly tls?: { readonly certPath: string | null } };
  readonly source: TlsSource;
  readonly certPem: string | null;
  readonly savedStatus: unknown;
  readonly now?: Date;
}): CertificateStatus {
  const now = input.now ?? new Date();
  const warnings: string[] = [];
  let certificate: CertificateInfo | null = null;
  try {
    certificate = input.certPem ? certificateInfo(input.certPem) : null;
  } catch {
    warnings.push('The certificate in use cannot be read.');
  }
  const daysLeft = certificate ? Math.floor((Date.parse(certificate.validTo) - now.getTime()) / 86_400_000) : null;
  if (daysLeft !== null && daysLeft < 0) warnings.push(`The certificate expired on ${certificate?.validTo}.`);
  else if (daysLeft !== null && daysLeft < 14) warnings.push(`The certificate expires in ${daysLeft} days.`);
  let settings: ReturnType<typeof acmeSettings> | null = null;
  try {
    settings = acmeSettings(input.env, input.config);
  } catch (error) {
    warnings.push(error instanceof Error ? error.message : String(error));
  }
  const status = readAcmeStatus(input.savedStatus);
  if (settings?.enabled) {
    if (input.config.ports.http === 0 && input.config.ports.https === 0) warnings.push('ACME is on but neither SEALPOST_HTTP_PORT (80) nor SEALPOST_HTTPS_PORT (443) is open, so the CA cannot check the names.');
    if (status?.lastError) warnings.push(`The last certificate request failed (${status.lastError}); the next try is at ${status.nextAttempt ?? 'the next check'}.`);
    for (const skipped of status?.skipped ?? []) warnings.push(`${skipped.name} is not on the certificate: the CA could not validate it (${skipped.reason}). Point its DNS here; it is tried again at the next check.`);
    if (input.source === 'self-signed') warnings.push('Mail clients are still shown the self-signed certificate: no certificate from the CA yet.');
  }
  return {
    source: input.source,
    certificate,
    daysLeft,
    acme: {
      enabled: settings?.enabled ?? false,
      reason: settings?.reason ?? 'off: the ACME settings are invalid',
      directoryUrl: settings?.directoryUrl ?? '',
      challenges: settings?.challenges ?? [],
      status,
    },
    warnings,
  };
}
