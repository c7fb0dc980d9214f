// SMTP TLS reports (RFC 8460 §4) from JSON text: the reporting organization, the period, and per policy
// the successful and failed session counts with the failure types. Pure: text in, a checked report or
// ReportRefused out.
import type { ReportLimits } from './limits.js';
import { jsonDepth, plausibleDomain, singleLine } from './shape.js';
import { ReportRefused, type TlsFailure, type TlsPolicyResult, type TlsReport } from './types.js';

type Node = Record<string, unknown>;

const node = (value: unknown): Node => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Node) : {});
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const text = (value: unknown, max = 255): string => singleLine(typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '', max);
const count = (value: unknown): number => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0);

function date(value: unknown, what: string): Date {
  const t = Date.parse(text(value));
  if (Number.isNaN(t)) throw new ReportRefused('tlsrpt-bad-date', `the report's date-range ${what} is not an RFC 3339 date-time`);
  return new Date(t);
}

function failure(detail: unknown): TlsFailure {
  const d = node(detail);
  return {
    resultType: text(d['result-type'], 64).toLowerCase() || 'unknown',
    count: count(d['failed-session-count']),
    sendingMtaIp: text(d['sending-mta-ip'], 64),
    receivingMx: text(d['receiving-mx-hostname']).toLowerCase(),
  };
}

/** Parses the JSON of one TLS report; throws ReportRefused with the reason. */
export function parseTlsRptJson(json: string, limits: ReportLimits): TlsReport {
  if (jsonDepth(json, limits.maxDepth) > limits.maxDepth) throw new ReportRefused('too-deep', `the JSON nests deeper than ${limits.maxDepth} levels`);
  let document: Node;
  try {
    document = node(JSON.parse(json) as unknown);
  } catch {
    throw new ReportRefused('json-malformed', 'the TLS report is not valid JSON');
  }
  const org = text(document['organization-name']);
  const reportId = text(document['report-id']);
  const policies = list(document.policies);
  if (!org || !reportId || policies.length === 0) throw new ReportRefused('tlsrpt-incomplete', 'the JSON is not a TLS report (organization-name, report-id or policies missing)');
  const details = policies.reduce((n: number, p) => n + 1 + list(node(p)['failure-details']).length, 0);
  if (details > limits.maxRecords) throw new ReportRefused('too-many-records', `the report has ${details} policies and failure details, more than the limit of ${limits.maxRecords}`);
  const results = policies.map((entry): TlsPolicyResult => {
    const p = node(entry);
    const policy = node(p.policy);
    const summary = node(p.summary);
    return {
      type: text(policy['policy-type'], 32).toLowerCase() || 'unknown',
      domain: text(policy['policy-domain']).toLowerCase(),
      successful: count(summary['total-successful-session-count']),
      failed: count(summary['total-failure-session-count']),
      failures: list(p['failure-details']).map(failure),
    };
  });
  const domain = results.find((r) => r.domain)?.domain;
  if (!domain) throw new ReportRefused('tlsrpt-incomplete', 'the TLS report names no policy-domain');
  if (!results.every((r) => r.domain === '' || plausibleDomain(r.domain))) throw new ReportRefused('tlsrpt-bad-domain', 'a policy-domain is not a domain name');
  const range = node(document['date-range']);
  return {
    kind: 'tls',
    org,
    contact: text(document['contact-info']),
    reportId,
    domain,
    begin: date(range['start-datetime'], 'start-datetime'),
    end: date(range['end-datetime'], 'end-datetime'),
    policies: results,
  };
}
