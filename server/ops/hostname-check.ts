// The mail host name check against DNS: the name's A/AAAA records include an address of this machine (or
// the configured public IP behind a NAT), each domain's MX points at the name, and the outbound IP has
// forward-confirmed reverse DNS (RFC 8499 §6 "FCrDNS"; receivers check it per RFC 5321 §4.1.4 / M3AAWG).
// Every finding says what to fix in one sentence. The resolver is passed in (tests use a loopback dns2).
import os from 'node:os';
import net from 'node:net';
import { hostnamePolicy, needsAttention, type HostnameFinding } from '../config/hostname.js';
import { addressClass, normalizeIp } from '../net.js';

export type { HostnameFinding, FindingSeverity } from '../config/hostname.js';

/** What the check needs from a resolver; server/smtp/dns.ts's DnsResolver is one. */
export interface HostnameDns {
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveMx(name: string): Promise<{ exchange: string; priority: number }[]>;
  /** (name, 'PTR') → the PTR names, rejecting with ENOTFOUND/ENODATA when there are none. */
  readonly mailauth: (name: string, rrtype: string) => Promise<unknown[]>;
}

export interface HostnameCheckInput {
  readonly hostname: string;
  /** The mail domains whose MX should point at the host name. */
  readonly domains: readonly string[];
  /** Configured public IPs (behind a NAT); [] = use the machine's interface addresses. */
  readonly publicIps: readonly string[];
  /** This machine's interface addresses (default: os.networkInterfaces()). */
  readonly machineAddresses?: readonly string[];
  /** At most this many domains are asked about (default 20); the rest are named in one finding. */
  readonly maxDomains?: number;
}

export interface HostnameReport {
  readonly hostname: string;
  /** The name in DNS form (A-labels), or null when it is not a host name. */
  readonly ascii: string | null;
  readonly fqdn: boolean;
  /** Worst severity among the findings. */
  readonly severity: HostnameFinding['severity'];
  readonly findings: readonly HostnameFinding[];
}

/** PTR names followed per address when confirming reverse DNS. */
const MAX_PTR_NAMES = 5;
export const DEFAULT_MAX_DOMAINS = 20;

const ORDER = ['ok', 'info', 'warn', 'error'] as const;

/** The worst severity of a list (ok when empty). */
export function worstSeverity(findings: readonly HostnameFinding[]): HostnameFinding['severity'] {
  return findings.reduce<HostnameFinding['severity']>((worst, f) => (ORDER.indexOf(f.severity) > ORDER.indexOf(worst) ? f.severity : worst), 'ok');
}

/** This machine's non-loopback interface addresses. */
export function machineAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const info of list ?? []) if (!info.internal) out.push(normalizeIp(info.address));
  }
  return out;
}

/** The in-addr.arpa / ip6.arpa name of an IP (RFC 1035 §3.5, RFC 3596 §2.5). */
export function reverseName(ip: string): string {
  const address = normalizeIp(ip);
  if (net.isIPv4(address)) return `${address.split('.').reverse().join('.')}.in-addr.arpa`;
  const words = expandIpv6(address);
  return `${[...words.join('')].reverse().join('.')}.ip6.arpa`;
}

function expandIpv6(address: string): string[] {
  const [head = '', tail] = address.split('::');
  const a = head ? head.split(':') : [];
  const b = tail ? tail.split(':') : [];
  const fill = new Array<string>(8 - a.length - b.length).fill('0');
  return [...a, ...(tail !== undefined ? fill : []), ...b].map((w) => w.padStart(4, '0'));
}

const normName = (name: string): string => name.toLowerCase().replace(/\.$/, '');

const isNoRecord = (error: unknown): boolean => {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOTFOUND' || code === 'ENODATA';
};

interface Lookup<T> {
  readonly values: T[];
  /** Set when the lookup failed for another reason than "no such record" (timeout, SERVFAIL…). */
  readonly failed: string | null;
}

async function lookup<T>(query: () => Promise<T[]>): Promise<Lookup<T>> {
  try {
    return { values: await query(), failed: null };
  } catch (error) {
    if (isNoRecord(error)) return { values: [], failed: null };
    return { values: [], failed: (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error)) };
  }
}

async function addressesOf(dns: HostnameDns, name: string): Promise<Lookup<string>> {
  const [v4, v6] = await Promise.all([lookup(() => dns.resolve4(name)), lookup(() => dns.resolve6(name))]);
  const values = [...v4.values, ...v6.values].map(normalizeIp);
  return { values, failed: values.length === 0 ? (v4.failed ?? v6.failed) : null };
}

/** Runs the policy, then (for a fully qualified name) the DNS checks. Never throws for DNS trouble: it becomes a finding. */
export async function checkHostname(input: HostnameCheckInput, dns: HostnameDns): Promise<HostnameReport> {
  const policy = hostnamePolicy(input.hostname);
  const findings: HostnameFinding[] = [...policy.findings];
  const report = (): HostnameReport => ({ hostname: input.hostname.trim(), ascii: policy.ascii, fqdn: policy.fqdn, severity: worstSeverity(findings), findings });
  if (!policy.fqdn || policy.ascii === null) return report();
  const host = policy.ascii;
  const add = (code: string, severity: HostnameFinding['severity'], message: string): void => void findings.push({ code, severity, message });

  const machine = (input.machineAddresses ?? machineAddresses()).map(normalizeIp);
  const configured = input.publicIps.map(normalizeIp);
  const publicMachine = machine.filter((ip) => addressClass(ip) === 'public');
  // Where other servers should reach us: the configured public IP, else public interface addresses.
  const expected = configured.length ? configured : publicMachine.length ? publicMachine : machine;
  const natHint = configured.length === 0 && publicMachine.length === 0;

  // ── A/AAAA ──
  const own = await addressesOf(dns, host);
  if (own.failed) add('ADDRESS', 'warn', `The address lookup of ${host} failed (${own.failed}); check that its DNS servers answer, then check again.`);
  else if (own.values.length === 0) {
    add('ADDRESS', 'error', `${host} has no A or AAAA record; add an A record for ${host} pointing to ${expected.find((ip) => net.isIPv4(ip)) ?? "this machine's public IP"}.`);
  } else {
    const matching = own.values.filter((ip) => expected.includes(ip) || machine.includes(ip));
    const listed = own.values.slice(0, 4).join(', ');
    if (matching.length > 0) add('ADDRESS', 'ok', `${host} points to ${listed}, an address of this machine.`);
    else if (natHint) {
      add('ADDRESS', 'warn', `${host} points to ${listed}, but this machine only has private addresses; if it is behind a NAT, set its public IP (Settings or SEALPOST_PUBLIC_IP) so the check can confirm the record.`);
    } else add('ADDRESS', 'error', `${host} points to ${listed}, not to this machine (${expected.slice(0, 4).join(', ') || 'no address found'}); change its A/AAAA records to this machine's public IP.`);
    const inner = own.values.filter((ip) => addressClass(ip) !== 'public');
    if (inner.length > 0) add('ADDRESS_PRIVATE', 'warn', `${host} has the non-public address ${inner[0]} in DNS, which other mail servers cannot reach; publish only public addresses.`);
  }

  // ── MX of each domain ──
  const maxDomains = input.maxDomains ?? DEFAULT_MAX_DOMAINS;
  const domains = [...new Set(input.domains.map(normName))].sort();
  for (const domain of domains.slice(0, maxDomains)) {
    const mx = await lookup(() => dns.resolveMx(domain));
    if (mx.failed) add('MX', 'warn', `The MX lookup of ${domain} failed (${mx.failed}); check that its DNS servers answer, then check again.`);
    else if (mx.values.length === 0) add('MX', 'error', `${domain} has no MX record; add "${domain}. MX 10 ${host}." so mail for it reaches this server.`);
    else {
      const exchanges = mx.values.sort((a, b) => a.priority - b.priority).map((m) => normName(m.exchange));
      if (exchanges.includes(host)) add('MX', 'ok', `${domain}'s MX points at ${host}.`);
      else add('MX', 'error', `${domain}'s MX points at ${exchanges.slice(0, 3).join(', ')}, not at ${host}; change it to "${domain}. MX 10 ${host}." or set the mail host name to the MX name.`);
    }
  }
  if (domains.length > maxDomains) add('MX', 'info', `${domains.length - maxDomains} more domains were not checked (at most ${maxDomains} per check, SEALPOST_HOSTNAME_CHECK_MAX_DOMAINS).`);

  // ── forward-confirmed reverse DNS of the outbound IP(s) ──
  const outbound = configured.length ? configured : publicMachine;
  if (outbound.length === 0) {
    add('PTR', 'info', "This machine's public IP is not known (it only has private addresses), so reverse DNS was not checked; set the public IP (Settings or SEALPOST_PUBLIC_IP) to check it.");
  }
  for (const ip of outbound.slice(0, 4)) {
    const ptr = await lookup(async () => (await dns.mailauth(reverseName(ip), 'PTR')).map((n) => normName(String(n))));
    if (ptr.failed) {
      add('PTR', 'warn', `The reverse DNS lookup of ${ip} failed (${ptr.failed}); check again later.`);
      continue;
    }
    if (ptr.values.length === 0) {
      add('PTR', 'warn', `${ip} has no reverse DNS (PTR) record, so many receivers will reject or junk our mail; ask your ISP or hosting provider to set it to ${host}.`);
      continue;
    }
    let confirmed: string | null = null;
    for (const name of ptr.values.slice(0, MAX_PTR_NAMES)) {
      if ((await addressesOf(dns, name)).values.includes(normalizeIp(ip))) {
        confirmed = name;
        if (name === host) break;
      }
    }
    if (confirmed === null) add('PTR', 'warn', `${ip}'s reverse DNS name ${ptr.values[0]} does not resolve back to ${ip}; add an A/AAAA record for ${ptr.values[0]} pointing to ${ip}, or have the PTR set to ${host}.`);
    else if (confirmed !== host) add('PTR', 'info', `${ip}'s reverse DNS is ${confirmed} (forward-confirmed); ideally ask your provider to set it to ${host}.`);
    else add('PTR', 'ok', `${ip}'s reverse DNS is ${host} and resolves back to it.`);
  }
  return report();
}

/** The findings worth a warning line, banner or doctor entry. */
export function attentionFindings(report: HostnameReport): HostnameFinding[] {
  return report.findings.filter(needsAttention);
}

/** Where the last DNS check of the running host name is kept (directory settings), for the dashboard. */
const LAST_CHECK_SETTING = 'hostnameLastCheck';

interface SettingsStore {
  getSetting(key: string): unknown;
  setSetting(key: string, value: unknown): void;
}

/** Keeps what needs attention in a check of `hostname` (at start, or from the admin UI), replacing the last one. */
export function rememberHostnameCheck(store: SettingsStore, report: HostnameReport, now = Date.now()): void {
  store.setSetting(LAST_CHECK_SETTING, { hostname: report.hostname, at: now, findings: attentionFindings(report).map((f) => ({ code: f.code, severity: f.severity, message: f.message })) });
}

/** The findings needing attention of the last DNS check of `hostname`, or [] when it was not checked (or passed). */
export function rememberedHostnameFindings(store: SettingsStore, hostname: string): HostnameFinding[] {
  const last = store.getSetting(LAST_CHECK_SETTING) as { hostname?: unknown; findings?: unknown } | null | undefined;
  if (!last || last.hostname !== hostname || !Array.isArray(last.findings)) return [];
  return (last.findings as HostnameFinding[]).filter((f) => typeof f?.code === 'string' && typeof f.message === 'string');
}
