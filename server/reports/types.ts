// What a parsed aggregate report holds: DMARC (RFC 7489 Appendix C) or TLS-RPT (RFC 8460 §4).

export type AuthResult = 'pass' | 'fail' | 'none' | 'neutral' | 'softfail' | 'temperror' | 'permerror' | 'policy' | 'unknown';

/** One <record>: messages from one source IP with one outcome. */
export interface DmarcRow {
  readonly sourceIp: string;
  readonly count: number;
  /** policy_evaluated: what the receiver did and the aligned DKIM/SPF verdicts. */
  readonly disposition: 'none' | 'quarantine' | 'reject' | 'unknown';
  readonly dkim: 'pass' | 'fail' | 'unknown';
  readonly spf: 'pass' | 'fail' | 'unknown';
  readonly headerFrom: string;
  /** auth_results: the raw (unaligned) checks. */
  readonly dkimResults: readonly { readonly domain: string; readonly result: AuthResult }[];
  readonly spfResults: readonly { readonly domain: string; readonly result: AuthResult }[];
}

export interface DmarcReport {
  readonly kind: 'dmarc';
  readonly org: string;
  readonly contact: string;
  readonly reportId: string;
  /** policy_published/domain, lower case. */
  readonly domain: string;
  readonly begin: Date;
  readonly end: Date;
  readonly policy: { readonly p: string; readonly sp: string; readonly pct: number | null; readonly adkim: string; readonly aspf: string };
  readonly rows: readonly DmarcRow[];
}

export interface TlsFailure {
  /** result-type, e.g. certificate-expired, sts-policy-invalid (RFC 8460 §4.3). */
  readonly resultType: string;
  readonly count: number;
  readonly sendingMtaIp: string;
  readonly receivingMx: string;
}

export interface TlsPolicyResult {
  /** policy-type: sts, tlsa or no-policy-found. */
  readonly type: string;
  readonly domain: string;
  readonly successful: number;
  readonly failed: number;
  readonly failures: readonly TlsFailure[];
}

export interface TlsReport {
  readonly kind: 'tls';
  readonly org: string;
  readonly contact: string;
  readonly reportId: string;
  /** The first policy's domain, lower case (a report covers one of our domains). */
  readonly domain: string;
  readonly begin: Date;
  readonly end: Date;
  readonly policies: readonly TlsPolicyResult[];
}

export type AggregateReport = DmarcReport | TlsReport;

/** A report that cannot be read: the reason in one sentence, and a stable code for logs and counts. */
export class ReportRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ReportRefused';
  }
}
