// Aggregate reports received for our domains, in sealpost.db (encrypted with the app key): one row per
// report, deduplicated by (kind, org, report id), its per-source-IP rows (DMARC) or per-policy session
// counts (TLS-RPT), and the per-domain summaries the owner reads. Kept until `retentionDays` after the
// report's period ends.
import type { AggregateReport } from '../reports/index.js';
import type { CachedPrepare } from '../sqlite.js';

/** One source IP that sent mail as the domain, over every DMARC report kept. */
export interface DmarcSourceSummary {
  readonly sourceIp: string;
  readonly messages: number;
  /** Messages whose DKIM (resp. SPF) verdict passed aligned, as the reporter evaluated them. */
  readonly dkimPass: number;
  readonly spfPass: number;
  /** DMARC passes when DKIM or SPF passes aligned (RFC 7489 §4.2). */
  readonly dmarcPass: number;
  readonly quarantined: number;
  readonly rejected: number;
  readonly reporters: readonly string[];
}

/** Sessions one reporting organization tried with our MX, over every TLS report kept. */
export interface TlsOrgSummary {
  readonly org: string;
  readonly successful: number;
  readonly failed: number;
  /** result-type → failed sessions, most first. */
  readonly failureTypes: readonly { readonly type: string; readonly sessions: number }[];
}

export interface StoredReportEntry {
  readonly kind: 'dmarc' | 'tls';
  readonly org: string;
  readonly reportId: string;
  readonly policyDomain: string;
  readonly begin: Date;
  readonly end: Date;
  readonly received: Date;
  /** DMARC: messages reported; TLS: sessions reported. */
  readonly total: number;
  /** DMARC: messages that failed DMARC; TLS: failed sessions. */
  readonly failing: number;
}

export interface DomainReportSummary {
  readonly domain: string;
  readonly dmarc: { readonly reports: number; readonly messages: number; readonly dmarcPass: number; readonly sources: readonly DmarcSourceSummary[] };
  readonly tls: { readonly reports: number; readonly successful: number; readonly failed: number; readonly orgs: readonly TlsOrgSummary[] };
  readonly recent: readonly StoredReportEntry[];
}

export type StoreOutcome = 'stored' | 'duplicate';

/** Source IPs and reports listed in one summary (the totals count them all). */
const SUMMARY_SOURCES = 200;
const SUMMARY_RECENT = 50;

interface SourceRow {
  source_ip: string;
  messages: number;
  dkim_pass: number;
  spf_pass: number;
  dmarc_pass: number;
  quarantined: number;
  rejected: number;
  reporters: string;
}

interface ReportRow {
  kind: 'dmarc' | 'tls';
  org: string;
  report_id: string;
  policy_domain: string;
  begin_time: string;
  end_time: string;
  received: string;
  total: number;
  failing: number;
}

export class ReportStore {
  constructor(
    private readonly sql: CachedPrepare,
    private readonly transaction: <T>(fn: () => T) => T,
  ) {}

  /** Stores a parsed report for our `domain` (duplicates by kind, org and report id are not stored again) and prunes expired ones. */
  store(domain: string, report: AggregateReport, received: Date, retentionDays: number): StoreOutcome {
    return this.transaction(() => {
      this.pruneBefore(new Date(received.getTime() - retentionDays * 86_400_000));
      const inserted = this.sql(
        `INSERT INTO aggregate_reports (kind, org, report_id, domain, policy_domain, contact, begin_time, end_time, policy, received)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, org, report_id) DO NOTHING`,
      ).run(
        report.kind,
        report.org,
        report.reportId,
        domain,
        report.domain,
        report.contact,
        report.begin.toISOString(),
        report.end.toISOString(),
        report.kind === 'dmarc' ? JSON.stringify(report.policy) : null,
        received.toISOString(),
      );
      if (inserted.changes === 0) return 'duplicate';
      const id = Number(inserted.lastInsertRowid);
      if (report.kind === 'dmarc') {
        const insertRow = this.sql('INSERT INTO dmarc_report_rows (report, source_ip, count, disposition, dkim, spf, header_from, auth) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
        for (const row of report.rows) {
          insertRow.run(id, row.sourceIp, row.count, row.disposition, row.dkim, row.spf, row.headerFrom, JSON.stringify({ dkim: row.dkimResults, spf: row.spfResults }));
        }
      } else {
        const insertPolicy = this.sql('INSERT INTO tls_report_policies (report, policy_type, policy_domain, successful, failed, failures) VALUES (?, ?, ?, ?, ?, ?)');
        for (const policy of report.policies) insertPolicy.run(id, policy.type, policy.domain, policy.successful, policy.failed, JSON.stringify(policy.failures));
      }
      return 'stored';
    });
  }

  /** Deletes reports whose period ended before `cutoff` (their rows cascade); returns how many. */
  pruneBefore(cutoff: Date): number {
    const ids = this.sql<[string], { id: number }>('SELECT id FROM aggregate_reports WHERE end_time < ?').all(cutoff.toISOString());
    for (const { id } of ids) {
      // Explicit: rows go with their report even on a connection without foreign keys.
      this.sql('DELETE FROM dmarc_report_rows WHERE report = ?').run(id);
      this.sql('DELETE FROM tls_report_policies WHERE report = ?').run(id);
      this.sql('DELETE FROM aggregate_reports WHERE id = ?').run(id);
    }
    return ids.length;
  }

  /** How many reports are kept, per kind (all domains). */
  counts(): { dmarc: number; tls: number } {
    const rows = this.sql<[], { kind: 'dmarc' | 'tls'; n: number }>('SELECT kind, count(*) AS n FROM aggregate_reports GROUP BY kind').all();
    return { dmarc: rows.find((r) => r.kind === 'dmarc')?.n ?? 0, tls: rows.find((r) => r.kind === 'tls')?.n ?? 0 };
  }

  /** Who sends as the domain and how TLS sessions to it went, over every report kept for it. */
  summary(domain: string): DomainReportSummary {
    const sources = this.sql<[string, number], SourceRow>(
      `SELECT r.source_ip,
              sum(r.count) AS messages,
              sum(CASE WHEN r.dkim = 'pass' THEN r.count ELSE 0 END) AS dkim_pass,
              sum(CASE WHEN r.spf = 'pass' THEN r.count ELSE 0 END) AS spf_pass,
              sum(CASE WHEN r.dkim = 'pass' OR r.spf = 'pass' THEN r.count ELSE 0 END) AS dmarc_pass,
              sum(CASE WHEN r.disposition = 'quarantine' THEN r.count ELSE 0 END) AS quarantined,
              sum(CASE WHEN r.disposition = 'reject' THEN r.count ELSE 0 END) AS rejected,
              json_group_array(DISTINCT a.org) AS reporters
         FROM dmarc_report_rows r JOIN aggregate_reports a ON a.id = r.report
        WHERE a.domain = ? GROUP BY r.source_ip ORDER BY messages DESC, r.source_ip LIMIT ?`,
    ).all(domain, SUMMARY_SOURCES);
    const dmarcTotals = this.sql<{ domain: string }, { reports: number; messages: number | null; dmarc_pass: number | null }>(
      `SELECT (SELECT count(*) FROM aggregate_reports WHERE domain = @domain AND kind = 'dmarc') AS reports,
              sum(r.count) AS messages, sum(CASE WHEN r.dkim = 'pass' OR r.spf = 'pass' THEN r.count ELSE 0 END) AS dmarc_pass
         FROM dmarc_report_rows r JOIN aggregate_reports a ON a.id = r.report WHERE a.domain = @domain`,
    ).get({ domain });
    const tlsRows = this.sql<[string], { org: string; successful: number; failed: number; failures: string }>(
      `SELECT a.org, p.successful, p.failed, p.failures FROM tls_report_policies p JOIN aggregate_reports a ON a.id = p.report WHERE a.domain = ? ORDER BY a.org`,
    ).all(domain);
    const orgs = new Map<string, { successful: number; failed: number; types: Map<string, number> }>();
    for (const row of tlsRows) {
      const org = orgs.get(row.org) ?? { successful: 0, failed: 0, types: new Map<string, number>() };
      org.successful += row.successful;
      org.failed += row.failed;
      for (const failure of JSON.parse(row.failures) as { resultType: string; count: number }[]) org.types.set(failure.resultType, (org.types.get(failure.resultType) ?? 0) + failure.count);
      orgs.set(row.org, org);
    }
    const tlsReports = this.sql<[string], { n: number }>(`SELECT count(*) AS n FROM aggregate_reports WHERE domain = ? AND kind = 'tls'`).get(domain)?.n ?? 0;
    const recent = this.sql<[string, number], ReportRow>(
      `SELECT a.kind, a.org, a.report_id, a.policy_domain, a.begin_time, a.end_time, a.received,
              CASE a.kind WHEN 'dmarc' THEN (SELECT coalesce(sum(count), 0) FROM dmarc_report_rows WHERE report = a.id)
                          ELSE (SELECT coalesce(sum(successful + failed), 0) FROM tls_report_policies WHERE report = a.id) END AS total,
              CASE a.kind WHEN 'dmarc' THEN (SELECT coalesce(sum(count), 0) FROM dmarc_report_rows WHERE report = a.id AND dkim <> 'pass' AND spf <> 'pass')
                          ELSE (SELECT coalesce(sum(failed), 0) FROM tls_report_policies WHERE report = a.id) END AS failing
         FROM aggregate_reports a WHERE a.domain = ? ORDER BY a.end_time DESC, a.id DESC LIMIT ?`,
    ).all(domain, SUMMARY_RECENT);
    const orgList = [...orgs.entries()].map(([org, o]): TlsOrgSummary => ({
      org,
      successful: o.successful,
      failed: o.failed,
      failureTypes: [...o.types.entries()].map(([type, sessions]) => ({ type, sessions })).sort((a, b) => b.sessions - a.sessions || a.type.localeCompare(b.type)),
    }));
    return {
      domain,
      dmarc: {
        reports: dmarcTotals?.reports ?? 0,
        messages: dmarcTotals?.messages ?? 0,
        dmarcPass: dmarcTotals?.dmarc_pass ?? 0,
        sources: sources.map((s) => ({
          sourceIp: s.source_ip,
          messages: s.messages,
          dkimPass: s.dkim_pass,
          spfPass: s.spf_pass,
          dmarcPass: s.dmarc_pass,
          quarantined: s.quarantined,
          rejected: s.rejected,
          reporters: (JSON.parse(s.reporters) as string[]).sort(),
        })),
      },
      tls: { reports: tlsReports, successful: orgList.reduce((n, o) => n + o.successful, 0), failed: orgList.reduce((n, o) => n + o.failed, 0), orgs: orgList },
      recent: recent.map((r) => ({
        kind: r.kind,
        org: r.org,
        reportId: r.report_id,
        policyDomain: r.policy_domain,
        begin: new Date(r.begin_time),
        end: new Date(r.end_time),
        received: new Date(r.received),
        total: r.total,
        failing: r.failing,
      })),
    };
  }
}
