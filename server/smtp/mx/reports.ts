// Aggregate reports addressed to one of our domains' report address (RFC 7489 §7.2, RFC 8460 §5): the MX
// hands the message here instead of to a mailbox. The report is parsed within the limits and stored in
// the directory; the message itself is not kept. A report for a domain that is neither the recipient's
// domain nor one of its subdomains is refused (RFC 7489 §7.1: we publish no external-destination records).
import type { Directory } from '../../directory/index.js';
import { parseReportMessage, ReportRefused, type ReportLimits } from '../../reports/index.js';

export interface ReportIngested {
  readonly outcome: 'stored' | 'duplicate';
  readonly kind: 'dmarc' | 'tls';
  /** DMARC record rows or TLS policies in the report (a count only: logs carry no reporter data). */
  readonly rows: number;
}

/** What the MX calls for a message to report addresses; throws ReportRefused when the report cannot be used. */
export interface ReportIntake {
  ingest(raw: Buffer, domains: readonly string[], receivedAt: Date): Promise<ReportIngested>;
}

export function reportIntake(directory: Directory, limits: ReportLimits): ReportIntake {
  return {
    async ingest(raw, domains, receivedAt) {
      const report = await parseReportMessage(raw, limits);
      const ours = domains.find((d) => report.domain === d || report.domain.endsWith(`.${d}`));
      if (!ours) throw new ReportRefused('report-domain-mismatch', `the report is for ${report.domain}, which does not receive its reports at this address`);
      const outcome = directory.reports.store(ours, report, receivedAt, limits.retentionDays);
      return { outcome, kind: report.kind, rows: report.kind === 'dmarc' ? report.rows.length : report.policies.length };
    },
  };
}
