// The DNS records a domain needs (MX, SPF, DKIM, DMARC with its report address, MTA-STS, TLS reporting,
// autoconfig/autodiscover) and a live check of what
// DNS says now, through the same resolver the mail modules use (SEALPOST_DNS_SERVERS).
import type { Env, SealpostConfig } from '../config/index.js';
import { mtaStsPolicy, mtaStsSettings, mtaStsTxt, tlsRptTxt } from '../config/mta-sts-policy.js';
import type { DkimPublicRecord } from '../smtp/dkim/index.js';
import { isNoRecordError, type DnsResolver } from '../smtp/dns.js';
import { reportAddressOf } from '../reports/index.js';

export type RecordType = 'MX' | 'TXT' | 'CNAME' | 'SRV';

export interface DnsRecord {
  /** What it is for, shown beside the record. */
  readonly purpose: 'MX' | 'SPF' | 'DKIM' | 'DMARC' | 'MTA-STS' | 'TLSRPT' | 'autoconfig' | 'autodiscover' | 'SRV';
  readonly type: RecordType;
  /** Fully qualified name without the trailing dot. */
  readonly name: string;
  readonly value: string;
  readonly required: boolean;
}

export interface RecordCheck extends DnsRecord {
  /** ok: published as shown; missing: nothing there; different: something else is there; error: lookup failed; unchecked: SRV (not looked up). */
  readonly status: 'ok' | 'missing' | 'different' | 'error' | 'unchecked';
  readonly found: string[];
}

/**
 * `reportAddress` receives the domain's aggregate reports: DMARC rua (RFC 7489 §6.3) and TLS-RPT rua
 * (RFC 8460 §3); the MX parses them into the Reports page instead of a mailbox.
 */
export function recordsFor(domain: string, config: Pick<SealpostConfig, 'hostname' | 'ports'> & { readonly env?: Env }, dkim: readonly DkimPublicRecord[], reportAddress = reportAddressOf(domain, null)): DnsRecord[] {
  const host = config.hostname;
  // The same policy the HTTPS listener serves (server/certs/web.ts): its id changes when the text does.
  const sts = mtaStsSettings(config.env ?? {});
  const policy = mtaStsPolicy(host, sts);
  const records: DnsRecord[] = [
    { purpose: 'MX', type: 'MX', name: domain, value: `10 ${host}`, required: true },
    { purpose: 'SPF', type: 'TXT', name: domain, value: 'v=spf1 mx -all', required: true },
    ...dkim.map((r): DnsRecord => ({ purpose: 'DKIM', type: 'TXT', name: r.name, value: r.value, required: true })),
    { purpose: 'DMARC', type: 'TXT', name: `_dmarc.${domain}`, value: `v=DMARC1; p=quarantine; adkim=r; aspf=r; rua=mailto:${reportAddress}`, required: true },
    { purpose: 'MTA-STS', type: 'TXT', name: `_mta-sts.${domain}`, value: mtaStsTxt(policy), required: false },
    { purpose: 'MTA-STS', type: 'CNAME', name: `mta-sts.${domain}`, value: host, required: false },
    { purpose: 'TLSRPT', type: 'TXT', name: `_smtp._tls.${domain}`, value: tlsRptTxt(reportAddress), required: false },
    { purpose: 'autoconfig', type: 'CNAME', name: `autoconfig.${domain}`, value: host, required: false },
    { purpose: 'autodiscover', type: 'CNAME', name: `autodiscover.${domain}`, value: host, required: false },
  ];
  const srv: [string, number][] = [
    ['_imaps._tcp', config.ports.imaps],
    ['_imap._tcp', config.ports.imap],
    ['_submissions._tcp', config.ports.submissions],
    ['_submission._tcp', config.ports.submission],
    ['_pop3s._tcp', config.ports.pop3s],
    ['_sieve._tcp', config.ports.managesieve], // RFC 5804 §1.8
  ];
  for (const [label, port] of srv) if (port > 0) records.push({ purpose: 'SRV', type: 'SRV', name: `${label}.${domain}`, value: `0 1 ${port} ${host}`, required: false });
  return records;
}

/** One line per record in zone-file form, for pasting into a DNS panel or zone file. */
export function zoneLine(record: DnsRecord): string {
  const value = record.type === 'TXT' ? quoteTxt(record.value) : record.type === 'MX' || record.type === 'CNAME' || record.type === 'SRV' ? `${record.value}.` : record.value;
  return `${record.name}. 3600 IN ${record.type} ${value}`;
}

function quoteTxt(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255)}"`);
  return parts.join(' ');
}

/** The address in a record's `rua=mailto:` (lower case). */
const ruaOf = (value: string): string => /rua=mailto:([^;,\s]+)/i.exec(value)?.[1]?.toLowerCase() ?? '';
const normalizeHost = (name: string): string => name.toLowerCase().replace(/\.$/, '');
const normalizeTxt = (value: string): string => value.replace(/\s*;\s*/g, ';').replace(/\s+/g, ' ').trim().replace(/;$/, '').toLowerCase();

async function lookup(record: DnsRecord, resolver: DnsResolver): Promise<string[]> {
  switch (record.type) {
    case 'MX':
      return (await resolver.resolveMx(record.name)).map((mx) => `${mx.priority} ${normalizeHost(mx.exchange)}`);
    case 'TXT':
      return (await resolver.resolveTxt(record.name)).map((parts) => parts.join(''));
    case 'CNAME':
      return ((await resolver.mailauth(record.name, 'CNAME')) as string[]).map(normalizeHost);
    default:
      return [];
  }
}

function matches(record: DnsRecord, found: readonly string[]): boolean {
  switch (record.purpose) {
    case 'MX':
      return found.some((f) => normalizeHost(f.split(' ')[1] ?? '') === normalizeHost(record.value.split(' ')[1] ?? ''));
    case 'SPF':
      // Any SPF record that authorizes our MX (or names the host) counts; the exact form is the owner's choice.
      return found.some((f) => /^v=spf1\b/i.test(f) && (/\bmx\b/i.test(f) || f.toLowerCase().includes(normalizeHost(record.value))));
    case 'DMARC':
    case 'TLSRPT':
      // Any policy of the owner's choosing, as long as its reports come to our report address.
      return found.some((f) => normalizeTxt(f).includes(`mailto:${ruaOf(record.value)}`));
    case 'DKIM':
      return found.some((f) => normalizeTxt(f) === normalizeTxt(record.value));
    case 'MTA-STS':
      return record.type === 'TXT' ? found.some((f) => normalizeTxt(f) === normalizeTxt(record.value)) : found.some((f) => normalizeHost(f) === normalizeHost(record.value));
    default:
      return found.some((f) => normalizeHost(f) === normalizeHost(record.value));
  }
}

export async function checkRecords(records: readonly DnsRecord[], resolver: DnsResolver): Promise<RecordCheck[]> {
  return Promise.all(
    records.map(async (record): Promise<RecordCheck> => {
      if (record.type === 'SRV') return { ...record, status: 'unchecked', found: [] };
      try {
        let found = await lookup(record, resolver);
        if (record.purpose === 'SPF') found = found.filter((f) => /^v=spf1\b/i.test(f));
        if (record.purpose === 'DMARC') found = found.filter((f) => /^v=DMARC1\b/i.test(f));
        if (record.purpose === 'MTA-STS' && record.type === 'TXT') found = found.filter((f) => /^v=STSv1\b/i.test(f));
        if (record.purpose === 'TLSRPT') found = found.filter((f) => /^v=TLSRPTv1\b/i.test(f));
        if (found.length === 0) return { ...record, status: 'missing', found };
        return { ...record, status: matches(record, found) ? 'ok' : 'different', found };
      } catch (error) {
        return { ...record, status: isNoRecordError(error) ? 'missing' : 'error', found: [] };
      }
    }),
  );
}
