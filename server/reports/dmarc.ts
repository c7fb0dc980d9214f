// DMARC aggregate reports (RFC 7489 §7.2 and the Appendix C schema) from XML text: the fields the owner
// needs (who reported, for which domain and period, which source IPs sent how many messages as the domain
// and whether DKIM, SPF and DMARC passed). Pure: text in, a checked report or ReportRefused out.
import net from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import type { ReportLimits } from './limits.js';
import { plausibleDomain, refuseDoctype, singleLine, xmlDepth } from './shape.js';
import { ReportRefused, type AuthResult, type DmarcReport, type DmarcRow } from './types.js';

type Node = Record<string, unknown>;

const LISTS = new Set(['feedback.record', 'feedback.record.auth_results.dkim', 'feedback.record.auth_results.spf', 'feedback.record.row.policy_evaluated.reason']);

const parser = new XMLParser({
  ignoreAttributes: true,
  // Values stay text: report ids with leading zeros, IPs and counts are read by our own checks below.
  parseTagValue: false,
  trimValues: true,
  // Only the five predefined XML entities can occur: a DTD is refused before parsing.
  processEntities: true,
  htmlEntities: false,
  removeNSPrefix: true,
  isArray: (_name, jpath) => LISTS.has(jpath),
});

const AUTH_RESULTS: ReadonlySet<string> = new Set(['pass', 'fail', 'none', 'neutral', 'softfail', 'temperror', 'permerror', 'policy']);

const node = (value: unknown): Node => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Node) : {});
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]);
/** A bounded single-line text (reports are machine-written; anything longer is cut, control characters dropped). */
const text = (value: unknown, max = 255): string => singleLine(typeof value === 'string' || typeof value === 'number' ? String(value) : '', max);

function epoch(value: unknown, what: string): Date {
  const t = text(value);
  if (!/^\d{1,12}$/.test(t)) throw new ReportRefused('dmarc-bad-date', `the report's ${what} is not a Unix time`);
  return new Date(Number(t) * 1000);
}

function verdict(value: unknown): 'pass' | 'fail' | 'unknown' {
  const v = text(value).toLowerCase();
  return v === 'pass' ? 'pass' : v === 'fail' ? 'fail' : 'unknown';
}

function authResult(value: unknown): AuthResult {
  const v = text(value).toLowerCase();
  return AUTH_RESULTS.has(v) ? (v as AuthResult) : 'unknown';
}

function row(record: unknown, index: number): DmarcRow {
  const r = node(record);
  const rowNode = node(r.row);
  const evaluated = node(rowNode.policy_evaluated);
  const sourceIp = text(rowNode.source_ip);
  if (net.isIP(sourceIp) === 0) throw new ReportRefused('dmarc-bad-row', `record ${index + 1} has no valid source_ip`);
  const countText = text(rowNode.count);
  if (!/^\d{1,12}$/.test(countText)) throw new ReportRefused('dmarc-bad-row', `record ${index + 1} has no valid count`);
  const disposition = text(evaluated.disposition).toLowerCase();
  const auth = node(r.auth_results);
  return {
    sourceIp,
    count: Number(countText),
    disposition: disposition === 'none' || disposition === 'quarantine' || disposition === 'reject' ? disposition : 'unknown',
    dkim: verdict(evaluated.dkim),
    spf: verdict(evaluated.spf),
    headerFrom: text(node(r.identifiers).header_from).toLowerCase(),
    dkimResults: list(auth.dkim).slice(0, 16).map((d) => ({ domain: text(node(d).domain).toLowerCase(), result: authResult(node(d).result) })),
    spfResults: list(auth.spf).slice(0, 16).map((s) => ({ domain: text(node(s).domain).toLowerCase(), result: authResult(node(s).result) })),
  };
}

/** Parses the XML of one DMARC aggregate report; throws ReportRefused with the reason. */
export function parseDmarcXml(xml: string, limits: ReportLimits): DmarcReport {
  refuseDoctype(xml);
  if (xmlDepth(xml, limits.maxDepth) > limits.maxDepth) throw new ReportRefused('too-deep', `the XML nests deeper than ${limits.maxDepth} levels`);
  let document: Node;
  try {
    document = node(parser.parse(xml, true));
  } catch {
    // The parser's own message may quote the document: the reason stays generic.
    throw new ReportRefused('xml-malformed', 'the XML is not well-formed');
  }
  const feedback = node(document.feedback);
  const metadata = node(feedback.report_metadata);
  const published = node(feedback.policy_published);
  const org = text(metadata.org_name);
  const reportId = text(metadata.report_id);
  const domain = text(published.domain).toLowerCase();
  if (domain && !plausibleDomain(domain)) throw new ReportRefused('dmarc-bad-domain', 'policy_published/domain is not a domain name');
  if (!org || !reportId || !domain) throw new ReportRefused('dmarc-incomplete', 'the XML is not a DMARC aggregate report (feedback/report_metadata org_name, report_id or policy_published/domain missing)');
  const range = node(metadata.date_range);
  const records = list(feedback.record);
  if (records.length > limits.maxRecords) throw new ReportRefused('too-many-records', `the report has ${records.length} records, more than the limit of ${limits.maxRecords}`);
  const pct = text(published.pct);
  return {
    kind: 'dmarc',
    org,
    contact: text(metadata.email),
    reportId,
    domain,
    begin: epoch(range.begin, 'date_range begin'),
    end: epoch(range.end, 'date_range end'),
    policy: { p: text(published.p, 16), sp: text(published.sp, 16), pct: /^\d{1,3}$/.test(pct) ? Number(pct) : null, adkim: text(published.adkim, 1), aspf: text(published.aspf, 1) },
    rows: records.map(row),
  };
}
