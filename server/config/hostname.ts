// The mail host name policy: what a name must look like before other mail servers can find us by it (a
// fully qualified LDH or IDN name, not localhost, not an IP literal), and where the public address behind a
// NAT comes from. Pure functions; the DNS half of the check is server/ops/hostname-check.ts.
import net from 'node:net';
import { domainToASCII } from 'node:url';
import { ConfigError } from './errors.js';
import type { Env } from './index.js';

/** ok: nothing to do; info: worth knowing; warn: mail will suffer (spam folders, no inbound); error: cannot work. */
export type FindingSeverity = 'ok' | 'info' | 'warn' | 'error';

/** One result of the host name check: what it is about, how bad, and one sentence saying what to fix. */
export interface HostnameFinding {
  /** Stable name of the check (FQDN, ADDRESS, MX, PTR…), for tests and the UI. */
  readonly code: string;
  readonly severity: FindingSeverity;
  readonly message: string;
}

export interface HostnamePolicy {
  /** The name as DNS knows it: lower case, A-labels (xn--), no trailing dot; null when it is not a name at all. */
  readonly ascii: string | null;
  /** True when other mail servers could find us by this name (DNS checks are worth running). */
  readonly fqdn: boolean;
  readonly findings: readonly HostnameFinding[];
}

/** Top-level names that never resolve on the public internet (RFC 2606, RFC 6761, RFC 6762, RFC 8375). */
const SPECIAL_TLDS = new Set(['localhost', 'local', 'test', 'example', 'invalid', 'internal', 'lan', 'home', 'corp', 'localdomain', 'home.arpa']);

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Checks a mail host name without asking DNS: syntax (RFC 1035 §2.3.1, RFC 5890 for IDN), FQDN, special names. */
export function hostnamePolicy(input: string): HostnamePolicy {
  const raw = input.trim();
  const shown = JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
  const fail = (code: string, severity: FindingSeverity, message: string, ascii: string | null = null): HostnamePolicy => ({ ascii, fqdn: false, findings: [{ code, severity, message }] });
  if (raw === '') return fail('SYNTAX', 'error', 'The mail host name is empty; enter the name other servers reach this machine by, such as mail.example.org.');
  const bare = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  if (net.isIP(bare) || net.isIP(bare.replace(/%.*$/, ''))) {
    return fail('IP_LITERAL', 'error', `${shown} is an IP address, not a host name; mail servers greet and are found by name, so enter a name such as mail.example.org whose A record points to this address.`);
  }
  const withoutDot = raw.endsWith('.') && !raw.endsWith('..') ? raw.slice(0, -1) : raw;
  if (raw.length > 254 || /[\s/\\@:%?#]/.test(withoutDot)) {
    return fail('SYNTAX', 'error', `${shown} is not a host name; use letters, digits, hyphens and dots only, such as mail.example.org.`);
  }
  // WHATWG's domainToASCII applies UTS #46 (IDN) and returns '' for names it refuses.
  const ascii = domainToASCII(withoutDot).toLowerCase();
  if (ascii === '' || ascii.length > 253) {
    return fail('SYNTAX', 'error', `${shown} is not a valid host name; each part between dots must be 1 to 63 letters, digits or hyphens, such as mail.example.org.`);
  }
  const labels = ascii.split('.');
  const badLabel = labels.find((l) => !LABEL.test(l) || (/^..--/.test(l) && !l.startsWith('xn--')));
  if (badLabel === '') {
    return fail('SYNTAX', 'error', `${shown} is not a valid host name: it has an empty part (two dots in a row, or a dot at the start); remove the extra dot.`);
  }
  if (badLabel !== undefined) {
    return fail('SYNTAX', 'error', `${shown} is not a valid host name: ${JSON.stringify(badLabel)} is not allowed as a part (letters, digits and inner hyphens only, 1 to 63 characters).`);
  }
  const tld = labels[labels.length - 1]!;
  if (/^\d+$/.test(tld)) {
    return fail('SYNTAX', 'error', `${shown} ends in an all-numeric part, which no top-level domain has; enter a name such as mail.example.org.`, ascii);
  }
  if (ascii === 'localhost' || tld === 'localhost') {
    return fail('NOT_FQDN', 'warn', `${shown} names only this machine; set the mail host name to a name in your domain, such as mail.example.org, before receiving mail from the internet.`, ascii);
  }
  if (labels.length < 2) {
    return fail('NOT_FQDN', 'warn', `${shown} is a bare machine name, not a fully qualified one; other servers cannot find it, so set a name in your domain such as ${ascii}.example.org.`, ascii);
  }
  const lastTwo = labels.slice(-2).join('.');
  if (SPECIAL_TLDS.has(tld) || SPECIAL_TLDS.has(lastTwo)) {
    return fail('SPECIAL_NAME', 'warn', `${shown} is under .${SPECIAL_TLDS.has(lastTwo) ? lastTwo : tld}, which is never published on the internet; use a name in a domain you own, such as mail.example.org.`, ascii);
  }
  const idn = ascii !== withoutDot.toLowerCase() ? ` (in DNS: ${ascii})` : '';
  return { ascii, fqdn: true, findings: [{ code: 'FQDN', severity: 'ok', message: `${shown} is a fully qualified host name${idn}.` }] };
}

/** True when a finding needs the owner's attention. */
export const needsAttention = (finding: HostnameFinding): boolean => finding.severity === 'warn' || finding.severity === 'error';

/** The public IP setting (SEALPOST_PUBLIC_IP over the saved setting publicIp): this machine's address on the internet when it sits behind a NAT. */
export const PUBLIC_IP_SETTING = 'publicIp';

/** The public addresses this machine is reached at and sends from, as configured; [] = take them from the network interfaces. */
export function publicIpsFrom(env: Env, settings: Readonly<Record<string, unknown>>): string[] {
  const fromEnv = env.SEALPOST_PUBLIC_IP;
  const [value, source] = fromEnv !== undefined && fromEnv.trim() !== '' ? [fromEnv, 'SEALPOST_PUBLIC_IP'] : [settings[PUBLIC_IP_SETTING], `saved setting ${PUBLIC_IP_SETTING}`];
  if (value === undefined || value === null || value === '') return [];
  return parsePublicIps(value, source);
}

/** Parses "203.0.113.7, 2001:db8::7" into IP literals; throws ConfigError with one sentence otherwise. */
export function parsePublicIps(value: unknown, source: string): string[] {
  const text = typeof value === 'string' ? value : '';
  const parts = text.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0 || parts.length > 4 || parts.some((p) => !net.isIP(p))) {
    throw new ConfigError(`${source} must list this machine's public IP addresses (at most 4, like "203.0.113.7, 2001:db8::7"), not ${JSON.stringify(text.slice(0, 100))}.`);
  }
  return parts.map((p) => p.toLowerCase());
}
