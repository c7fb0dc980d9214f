// Limits on aggregate reports received for our domains (SEALPOST_REPORTS_* variables, read here only):
// what one report may cost to unpack and parse, and how long parsed reports are kept.
import { wholeNumbersFromEnv, type NumericSetting } from '../config/env-values.js';

export interface ReportLimits {
  /** Bytes of the report attachment as sent (compressed), after transfer decoding. */
  readonly maxCompressedBytes: number;
  /** Bytes of the XML or JSON once decompressed (a gzip or zip bomb stops here). */
  readonly maxUncompressedBytes: number;
  /** DMARC record rows or TLS-RPT policies plus failure details in one report. */
  readonly maxRecords: number;
  /** Nesting of XML elements or JSON arrays/objects. */
  readonly maxDepth: number;
  /** Days a parsed report is kept after its date range ends. */
  readonly retentionDays: number;
}

/** Real reports are a few KiB compressed; Google's largest are well under a MiB of XML. */
export const DEFAULT_REPORT_LIMITS: ReportLimits = {
  maxCompressedBytes: 2 * 1024 * 1024,
  maxUncompressedBytes: 16 * 1024 * 1024,
  maxRecords: 10_000,
  maxDepth: 16,
  retentionDays: 180,
};

type Env = Readonly<Record<string, string | undefined>>;

const REPORT_ENV: readonly NumericSetting<keyof ReportLimits>[] = [
  { env: 'SEALPOST_REPORTS_MAX_COMPRESSED_BYTES', key: 'maxCompressedBytes', min: 1024, max: 64 * 1024 * 1024 },
  { env: 'SEALPOST_REPORTS_MAX_UNCOMPRESSED_BYTES', key: 'maxUncompressedBytes', min: 1024, max: 512 * 1024 * 1024 },
  { env: 'SEALPOST_REPORTS_MAX_RECORDS', key: 'maxRecords', min: 1, max: 1_000_000 },
  { env: 'SEALPOST_REPORTS_MAX_DEPTH', key: 'maxDepth', min: 8, max: 256 },
  { env: 'SEALPOST_REPORTS_RETENTION_DAYS', key: 'retentionDays', min: 1, max: 36_500 },
];

/** The limits the environment sets; throws ConfigError naming a bad variable. */
export function reportLimitsFromEnv(env: Env): ReportLimits {
  return wholeNumbersFromEnv(env, REPORT_ENV, DEFAULT_REPORT_LIMITS);
}
