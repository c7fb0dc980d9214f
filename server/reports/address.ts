// The address of a domain that receives its aggregate reports: published as rua=mailto: in _dmarc and
// _smtp._tls (RFC 7489 §6.3, RFC 8460 §3), accepted by the MX without an alias.

/** Unlikely to collide with an alias a person already uses; a domain setting can change it. */
export const DEFAULT_REPORT_LOCAL_PART = 'aggregate-reports';

/** A local part the report address may use: dot-atom letters, digits and - _ . only, no +tag. */
export function validReportLocalPart(local: string): boolean {
  return /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/.test(local) && !local.includes('..');
}

/** `local@domain` for a domain (ASCII form) and its configured local part (null: the default). */
export function reportAddressOf(domain: string, localPart: string | null): string {
  return `${localPart ?? DEFAULT_REPORT_LOCAL_PART}@${domain}`;
}
