// server/reports: DMARC (RFC 7489) and TLS-RPT (RFC 8460) aggregate reports received for our domains —
// the report address per domain, and parsing a report message within limits. Pure: no storage, no I/O.
export { parseReportMessage, type ReportPacking } from './message.js';
export { parseDmarcXml } from './dmarc.js';
export { parseTlsRptJson } from './tlsrpt.js';
export { DEFAULT_REPORT_LIMITS, reportLimitsFromEnv, type ReportLimits } from './limits.js';
export { DEFAULT_REPORT_LOCAL_PART, reportAddressOf, validReportLocalPart } from './address.js';
export { ReportRefused, type AggregateReport, type AuthResult, type DmarcReport, type DmarcRow, type TlsFailure, type TlsPolicyResult, type TlsReport } from './types.js';
