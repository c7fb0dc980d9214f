// SMTP TLS Reporting (RFC 8460), the sending side: a domain that publishes `_smtp._tls.<domain>` TXT
// ("v=TLSRPTv1; rua=mailto:…") asks every sender for a daily summary of how TLS went with its MX hosts.
// This module is pure: it parses that record, aggregates session results into the RFC 8460 §4 JSON report,
// and builds the report mail of §5.3. Collecting the results and sending are the outbound service's part.
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { rfc5322Date } from './dsn.js';

/** Result types of RFC 8460 §4.3 that a sender can observe. */
export type TlsFailureType =
  | 'starttls-not-supported'
  | 'certificate-host-mismatch'
  | 'certificate-expired'
  | 'certificate-not-trusted'
  | 'validation-failure'
  | 'tlsa-invalid'
  | 'dnssec-invalid'
  | 'dane-required'
  | 'sts-policy-fetch-error'
  | 'sts-policy-invalid'
  | 'sts-webpki-invalid';

export type TlsPolicyType = 'sts' | 'tlsa' | 'no-policy-found';

/** One SMTP session's TLS outcome towards a recipient domain. */
export interface TlsSessionResult {
  readonly policyDomain: string;
  readonly policyType: TlsPolicyType;
  /** The policy as text lines (MTA-STS policy lines, or TLSA records in presentation form); empty for none. */
  readonly policyString: readonly string[];
  /** MTA-STS `mx:` patterns; empty otherwise. */
  readonly mxHostPatterns: readonly string[];
  readonly receivingMxHostname: string;
  readonly receivingIp: string | null;
  readonly sendingMtaIp: string | null;
  /** null = the TLS session succeeded. */
  readonly failure: TlsFailureType | null;
  /** Extra words for a failure (never message content). */
  readonly failureReason?: string;
  /** How many sessions had exactly this outcome (default 1). */
  readonly count?: number;
}

/** The reporting addresses of a TLSRPT record; null when the text is not a TLSRPTv1 record (RFC 8460 §3). */
export function parseTlsRptRecord(txt: string): { mailto: string[]; https: string[] } | null {
  const fields = txt.split(';').map((part) => part.trim()).filter(Boolean);
  if (fields[0]?.replace(/\s+/g, '') !== 'v=TLSRPTv1') return null;
  const rua = fields.find((field) => /^rua\s*=/i.test(field));
  if (!rua) return null;
  const mailto: string[] = [];
  const https: string[] = [];
  for (const uri of rua.slice(rua.indexOf('=') + 1).split(',').map((u) => u.trim()).filter(Boolean)) {
    if (/^mailto:/i.test(uri)) {
      let address: string;
      try {
        address = decodeURIComponent(uri.slice(7));
      } catch {
        continue;
      }
      // one plain address, no query part (RFC 6068 headers are not honoured for reports)
      if (/^[^\s@?,;<>]+@[^\s@?,;<>]+$/.test(address)) mailto.push(address);
    } else if (/^https:\/\//i.test(uri)) {
      try {
        https.push(new URL(uri).toString());
      } catch {
        // not a URL: skipped
      }
    }
  }
  return mailto.length || https.length ? { mailto, https } : null;
}

/** The TXT record set of `_smtp._tls.<domain>` → its reporting addresses (the first valid record wins). */
export function tlsRptFromTxt(records: readonly (readonly string[])[]): { mailto: string[]; https: string[] } | null {
  const candidates = records.map((chunks) => chunks.join('')).filter((text) => /^\s*v\s*=\s*TLSRPTv1\s*(;|$)/.test(text));
  // RFC 8460 §3: more than one record means no valid record
  if (candidates.length !== 1) return null;
  return parseTlsRptRecord(candidates[0] as string);
}

export interface TlsReportInput {
  readonly organizationName: string;
  readonly contactInfo: string;
  readonly start: Date;
  readonly end: Date;
  readonly results: readonly TlsSessionResult[];
  readonly reportId?: string;
}

export interface TlsReportJson {
  readonly 'organization-name': string;
  readonly 'date-range': { readonly 'start-datetime': string; readonly 'end-datetime': string };
  readonly 'contact-info': string;
  readonly 'report-id': string;
  readonly policies: readonly {
    readonly policy: { readonly 'policy-type': TlsPolicyType; readonly 'policy-string'?: readonly string[]; readonly 'policy-domain': string; readonly 'mx-host'?: readonly string[] };
    readonly summary: { readonly 'total-successful-session-count': number; readonly 'total-failure-session-count': number };
    readonly 'failure-details'?: readonly {
      readonly 'result-type': TlsFailureType;
      readonly 'sending-mta-ip'?: string;
      readonly 'receiving-mx-hostname': string;
      readonly 'receiving-ip'?: string;
      readonly 'failed-session-count': number;
      readonly 'failure-reason-code'?: string;
    }[];
  }[];
}

const isoSeconds = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The RFC 8460 §4 report of one policy domain's sessions: one policy entry per distinct policy applied. */
export function buildTlsReport(input: TlsReportInput): TlsReportJson {
  const byPolicy = new Map<string, TlsSessionResult[]>();
  for (const result of input.results) {
    const key = JSON.stringify([result.policyDomain, result.policyType, result.policyString, result.mxHostPatterns]);
    const list = byPolicy.get(key) ?? [];
    list.push(result);
    byPolicy.set(key, list);
  }
  const policies = [...byPolicy.values()].map((results) => {
    const first = results[0] as TlsSessionResult;
    const failures = new Map<string, { result: TlsSessionResult; count: number }>();
    for (const result of results) {
      if (result.failure === null) continue;
      const key = JSON.stringify([result.failure, result.sendingMtaIp, result.receivingMxHostname, result.receivingIp, result.failureReason ?? null]);
      const entry = failures.get(key);
      if (entry) entry.count += result.count ?? 1;
      else failures.set(key, { result, count: result.count ?? 1 });
    }
    const sessions = results.reduce((sum, r) => sum + (r.count ?? 1), 0);
    const failed = results.reduce((sum, r) => sum + (r.failure !== null ? (r.count ?? 1) : 0), 0);
    return {
      policy: {
        'policy-type': first.policyType,
        ...(first.policyString.length ? { 'policy-string': [...first.policyString] } : {}),
        'policy-domain': first.policyDomain,
        ...(first.mxHostPatterns.length ? { 'mx-host': [...first.mxHostPatterns] } : {}),
      },
      summary: { 'total-successful-session-count': sessions - failed, 'total-failure-session-count': failed },
      ...(failures.size
        ? {
            'failure-details': [...failures.values()].map(({ result, count }) => ({
              'result-type': result.failure as TlsFailureType,
              ...(result.sendingMtaIp ? { 'sending-mta-ip': result.sendingMtaIp } : {}),
              'receiving-mx-hostname': result.receivingMxHostname,
              ...(result.receivingIp ? { 'receiving-ip': result.receivingIp } : {}),
              'failed-session-count': count,
              ...(result.failureReason ? { 'failure-reason-code': result.failureReason } : {}),
            })),
          }
        : {}),
    };
  });
  return {
    'organization-name': input.organizationName,
    'date-range': { 'start-datetime': isoSeconds(input.start), 'end-datetime': isoSeconds(input.end) },
    'contact-info': input.contactInfo,
    'report-id': input.reportId ?? `${isoSeconds(input.start)}_${randomUUID()}`,
    policies,
  };
}

export interface TlsReportMailInput {
  readonly report: TlsReportJson;
  readonly policyDomain: string;
  /** The reporting domain (RFC 8460 §5.1 "sender"), also in From. */
  readonly submitter: string;
  readonly from: string;
  readonly to: readonly string[];
  readonly now?: Date;
}

const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ').trim();

/** The report's file name (RFC 8460 §5.1): sender!policy-domain!begin!end!id.json.gz, times in epoch seconds. */
export function tlsReportFileName(report: TlsReportJson, submitter: string, policyDomain: string): string {
  const begin = Math.floor(Date.parse(report['date-range']['start-datetime']) / 1000);
  const end = Math.floor(Date.parse(report['date-range']['end-datetime']) / 1000);
  const unique = report['report-id'].replace(/[^A-Za-z0-9-]/g, '').slice(-36);
  return `${submitter}!${policyDomain}!${begin}!${end}!${unique}.json.gz`;
}

/** The report as it travels: its JSON, gzipped (RFC 8460 §5.1). */
export function tlsReportGzip(report: TlsReportJson): Buffer {
  return gzipSync(Buffer.from(JSON.stringify(report)));
}

/** The report mail of RFC 8460 §5.3: multipart/report; report-type="tlsrpt", the JSON gzipped as application/tlsrpt+gzip. */
export function buildTlsReportMail(input: TlsReportMailInput): Buffer {
  const now = input.now ?? new Date();
  const boundary = `sealpost-tlsrpt-${randomUUID()}`;
  const id = oneLine(input.report['report-id']);
  const fileName = tlsReportFileName(input.report, input.submitter, input.policyDomain);
  const gz = tlsReportGzip(input.report).toString('base64').replace(/.{1,76}/g, '$&\r\n');
  const lines = [
    `From: ${oneLine(input.from)}`,
    `To: ${input.to.map(oneLine).join(', ')}`,
    `Subject: Report Domain: ${oneLine(input.policyDomain)} Submitter: ${oneLine(input.submitter)} Report-ID: <${id}>`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: <${randomUUID()}@${oneLine(input.submitter)}>`,
    `TLS-Report-Domain: ${oneLine(input.policyDomain)}`,
    `TLS-Report-Submitter: ${oneLine(input.submitter)}`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    `This is an aggregate TLS report from ${oneLine(input.submitter)} for ${oneLine(input.policyDomain)} (RFC 8460).`,
    '',
    `--${boundary}`,
    `Content-Type: application/tlsrpt+gzip; name="${fileName}"`,
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${fileName}"`,
    '',
    gz.trimEnd(),
    `--${boundary}--`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'));
}

/**
 * The RFC 8460 §4.3 result type of a failed TLS negotiation, from the error our SMTP client reported
 * (nodemailer wraps Node's TLS error text: "Error initiating TLS - <reason>").
 */
export function classifyTlsFailure(message: string): TlsFailureType {
  const text = message.toLowerCase();
  if (/error upgrading connection with starttls|starttls/.test(text) && !/initiating tls/.test(text)) return 'starttls-not-supported';
  if (/altnames|does not match certificate|hostname\/ip does not match/.test(text)) return 'certificate-host-mismatch';
  if (/certificate has expired|cert_has_expired|not yet valid/.test(text)) return 'certificate-expired';
  if (/self[- ]signed|unable to (get|verify)|issuer certificate|untrusted|unknown ca/.test(text)) return 'certificate-not-trusted';
  return 'validation-failure';
}
