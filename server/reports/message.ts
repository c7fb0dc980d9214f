// From a received message to one parsed report: find the single report attachment (by content type,
// or by file name for application/octet-stream), undo its transfer encoding, unpack it within the limits
// and parse it. Every refusal is a ReportRefused with a sentence the reporter's postmaster can act on.
import libqp from 'libqp';
import { parseMessage, partFileName } from '../mime/index.js';
import type { MimePart } from '../mime/index.js';
import { fieldValues, headerFields } from '../mime/text.js';
import { parseDmarcXml } from './dmarc.js';
import type { ReportLimits } from './limits.js';
import { parseTlsRptJson } from './tlsrpt.js';
import { ReportRefused, type AggregateReport } from './types.js';
import { gunzipReport, unzipReport } from './unpack.js';

/** How a report attachment is packed, decided from its content type or file name. */
export type ReportPacking = 'dmarc-gzip' | 'dmarc-zip' | 'dmarc-xml' | 'tls-gzip' | 'tls-json';

const BY_TYPE: Readonly<Record<string, ReportPacking>> = {
  // RFC 7489 §7.2.1.1: gzip or zip; real reporters also send plain XML.
  'application/gzip': 'dmarc-gzip',
  'application/x-gzip': 'dmarc-gzip',
  'application/zip': 'dmarc-zip',
  'application/x-zip-compressed': 'dmarc-zip',
  'application/x-zip': 'dmarc-zip',
  'text/xml': 'dmarc-xml',
  'application/xml': 'dmarc-xml',
  // RFC 8460 §5.3: the TLS report media types.
  'application/tlsrpt+gzip': 'tls-gzip',
  'application/tlsrpt+json': 'tls-json',
};

function packingByName(name: string | null): ReportPacking | null {
  if (!name) return null;
  const lower = name.toLowerCase();
  if (lower.endsWith('.xml.gz')) return 'dmarc-gzip';
  if (lower.endsWith('.zip')) return 'dmarc-zip';
  if (lower.endsWith('.xml')) return 'dmarc-xml';
  if (lower.endsWith('.json.gz')) return 'tls-gzip';
  if (lower.endsWith('.json')) return 'tls-json';
  return null;
}

interface Candidate {
  readonly packing: ReportPacking;
  readonly part: MimePart;
  readonly encoding: string;
}

function leaves(part: MimePart, out: MimePart[] = []): MimePart[] {
  if (part.children?.length) for (const child of part.children) leaves(child, out);
  else if (!part.message) out.push(part);
  return out;
}

function candidatesOf(raw: Buffer): Candidate[] {
  const parsed = parseMessage(raw);
  if (parsed.mimeFallback) throw new ReportRefused('mime-malformed', 'the message structure cannot be read');
  const found: Candidate[] = [];
  for (const part of leaves(parsed.structure.root)) {
    const header = raw.subarray(part.headerStart, part.headerEnd);
    const fields = headerFields(header);
    const encoding = (fieldValues(fields, 'content-transfer-encoding')[0] ?? '7bit').trim().toLowerCase();
    const packing = BY_TYPE[part.contentType] ?? (part.contentType === 'application/octet-stream' ? packingByName(partFileName(header)) : null);
    if (packing) found.push({ packing, part, encoding });
  }
  return found;
}

function decodeBody(raw: Buffer, candidate: Candidate, limits: ReportLimits): Buffer {
  const body = raw.subarray(candidate.part.bodyStart, candidate.part.bodyEnd);
  // base64 grows 4/3 plus line breaks: anything larger cannot decode within the limit.
  if (body.length > Math.ceil(limits.maxCompressedBytes * 1.4) + 1024) {
    throw new ReportRefused('too-large-compressed', `the report attachment is larger than ${limits.maxCompressedBytes} bytes`);
  }
  const decoded =
    candidate.encoding === 'base64' ? Buffer.from(body.toString('latin1'), 'base64') : candidate.encoding === 'quoted-printable' ? libqp.decode(body.toString('latin1')) : body;
  if (decoded.length > limits.maxCompressedBytes) throw new ReportRefused('too-large-compressed', `the report attachment is larger than ${limits.maxCompressedBytes} bytes`);
  return decoded;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function asText(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ReportRefused('not-utf8', 'the report is not UTF-8 text');
  }
}

/** Parses the one aggregate report a message carries; throws ReportRefused when it has none, several, or an unreadable one. */
export async function parseReportMessage(raw: Buffer, limits: ReportLimits): Promise<AggregateReport> {
  const candidates = candidatesOf(raw);
  if (candidates.length === 0) throw new ReportRefused('no-report', 'the message carries no report (expected application/gzip, application/zip, text/xml or application/tlsrpt+gzip/+json)');
  if (candidates.length > 1) throw new ReportRefused('several-reports', `the message carries ${candidates.length} report attachments; send one report per message`);
  const [candidate] = candidates as [Candidate];
  const data = decodeBody(raw, candidate, limits);
  switch (candidate.packing) {
    case 'dmarc-gzip':
      return parseDmarcXml(asText(gunzipReport(data, limits)), limits);
    case 'dmarc-zip':
      return parseDmarcXml(asText(await unzipReport(data, limits)), limits);
    case 'dmarc-xml':
      if (data.length > limits.maxUncompressedBytes) throw new ReportRefused('too-large-uncompressed', `the report is larger than ${limits.maxUncompressedBytes} bytes`);
      return parseDmarcXml(asText(data), limits);
    case 'tls-gzip':
      return parseTlsRptJson(asText(gunzipReport(data, limits)), limits);
    case 'tls-json':
      if (data.length > limits.maxUncompressedBytes) throw new ReportRefused('too-large-uncompressed', `the report is larger than ${limits.maxUncompressedBytes} bytes`);
      return parseTlsRptJson(asText(data), limits);
  }
}
