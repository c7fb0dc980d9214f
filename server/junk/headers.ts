// The header fields the junk filter reads and writes: its own X-Sealpost-Junk verdict (any copy a sender put in the
// message is removed first), the Authentication-Results our MX prepended (a sender's own are never trusted) and the
// owner's rspamd answer our MX recorded (X-Sealpost-Rspamd, likewise trusted only above the first Received). Pure.
import type { JunkScore } from './classify.js';

export const JUNK_HEADER = 'X-Sealpost-Junk';
export const RSPAMD_HEADER = 'X-Sealpost-Rspamd';

/** The actions rspamd answers (its /checkv2 "action"); "error" is ours: rspamd could not be asked. */
export const RSPAMD_ACTIONS = ['reject', 'soft reject', 'rewrite subject', 'add header', 'greylist', 'no action', 'error'] as const;
export type RspamdAction = (typeof RSPAMD_ACTIONS)[number];

/** What rspamd's action means for filing: spam into Junk, ham stays, null = no verdict (the Bayes one counts). */
export function rspamdVerdict(action: RspamdAction): 'spam' | 'ham' | null {
  if (action === 'reject' || action === 'add header' || action === 'rewrite subject') return 'spam';
  if (action === 'no action' || action === 'greylist') return 'ham';
  return null;
}

/** The header block's end: index of the blank line's first byte, or the message length when there is none. */
function headerEnd(raw: Buffer): number {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf + 2;
  if (lf >= 0) return lf + 1;
  return raw.length;
}

/** Each header field of the block as [start, end) byte offsets (a folded field is one) with its lower-cased name. */
function fieldSpans(raw: Buffer, end: number): { name: string; start: number; end: number }[] {
  const spans: { name: string; start: number; end: number }[] = [];
  let offset = 0;
  while (offset < end) {
    let next = raw.indexOf(0x0a, offset);
    next = next < 0 || next >= end ? end : next + 1;
    const first = raw[offset];
    if ((first === 0x20 || first === 0x09) && spans.length) spans[spans.length - 1]!.end = next;
    else {
      const colon = raw.indexOf(0x3a, offset);
      const name = colon > offset && colon < next ? raw.subarray(offset, colon).toString('latin1').trim().toLowerCase() : '';
      spans.push({ name, start: offset, end: next });
    }
    offset = next;
  }
  return spans;
}

/** The message without any X-Sealpost-Junk field: only our own, prepended after this, may decide anything. */
export function stripJunkHeaders(raw: Buffer): Buffer {
  return stripFields(raw, JUNK_HEADER);
}

/** The message without any X-Sealpost-Rspamd field (the MX removes a sender's before it prepends its own). */
export function stripRspamdHeaders(raw: Buffer): Buffer {
  return stripFields(raw, RSPAMD_HEADER);
}

function stripFields(raw: Buffer, fieldName: string): Buffer {
  const end = headerEnd(raw);
  const spans = fieldSpans(raw, end).filter((s) => s.name === fieldName.toLowerCase());
  if (!spans.length) return raw;
  const kept: Buffer[] = [];
  let from = 0;
  for (const span of spans) {
    kept.push(raw.subarray(from, span.start));
    from = span.end;
  }
  kept.push(raw.subarray(from));
  return Buffer.concat(kept);
}

/** The header line (CRLF-terminated) recording a verdict. */
export function junkHeaderLine(result: JunkScore, source: string): string {
  return `${JUNK_HEADER}: score=${result.score.toFixed(3)}; verdict=${result.verdict}; clues=${result.clues}; by=${source}\r\n`;
}

/** Reads score and verdict back from the first X-Sealpost-Junk field, or null. */
export function readJunkHeader(raw: Buffer): { score: number; verdict: string } | null {
  const end = headerEnd(raw);
  const span = fieldSpans(raw, end).find((s) => s.name === JUNK_HEADER.toLowerCase());
  if (!span) return null;
  const value = raw.subarray(span.start, span.end).toString('latin1');
  const score = /score=([0-9.]+)/.exec(value)?.[1];
  const verdict = /verdict=([a-z]+)/.exec(value)?.[1];
  return score && verdict ? { score: Number(score), verdict } : null;
}

/**
 * Tokens of what our MX recorded: the SPF/DKIM/DMARC/ARC results of its Authentication-Results field and its DNS
 * blocklist listings (X-Sealpost-DNSBL). Only fields above the first Received field count (our MX prepends them
 * above its own Received; a sender's sit below), and when `authservId` is given an Authentication-Results field
 * must name it. A message without them yields no tokens.
 */
export function trustedMxTokens(raw: Buffer, authservId?: string): string[] {
  const end = headerEnd(raw);
  const tokens: string[] = [];
  let authSeen = false;
  for (const span of fieldSpans(raw, end)) {
    if (span.name === 'received') break;
    const value = raw.subarray(span.start, span.end).toString('latin1').replace(/^[^:]*:/, '').replace(/\s+/g, ' ').trim();
    if (span.name === 'x-sealpost-dnsbl') {
      const listed = /listed=([^;\s]*)/.exec(value)?.[1] ?? 'none';
      if (listed === 'none') tokens.push('dnsbl:none');
      else for (const zone of listed.split(',').slice(0, 8)) tokens.push('dnsbl:listed', `dnsbl:${zone.toLowerCase().slice(0, 100)}`);
      continue;
    }
    if (span.name !== 'authentication-results' || authSeen) continue;
    authSeen = true;
    const id = (/^[^\s;]+/.exec(value)?.[0] ?? '').toLowerCase().replace(/\.$/, '');
    if (authservId && id !== authservId.toLowerCase().replace(/\.$/, '')) continue;
    for (const method of ['spf', 'dkim', 'dmarc', 'arc']) {
      const result = new RegExp(`(?:^|[;\\s])${method}=([a-z]+)`, 'i').exec(value)?.[1]?.toLowerCase();
      if (result) tokens.push(`auth:${method}=${result}`);
    }
  }
  return [...new Set(tokens)];
}

/** The header line (CRLF-terminated) our MX prepends with rspamd's answer; score and required only with an answer. */
export function rspamdHeaderLine(answer: { action: RspamdAction; score?: number; required?: number }): string {
  const numbers = answer.action !== 'error' && answer.score !== undefined && answer.required !== undefined
    ? `; score=${answer.score.toFixed(2)}; required=${answer.required.toFixed(2)}` : '';
  return `${RSPAMD_HEADER}: action=${answer.action}${numbers}\r\n`;
}

/**
 * rspamd's action as our MX recorded it: the first X-Sealpost-Rspamd field above the first Received field
 * (a sender's sit below it, and the MX removes them anyway), or null when there is none or it names no known action.
 */
export function trustedRspamdAction(raw: Buffer): RspamdAction | null {
  const end = headerEnd(raw);
  for (const span of fieldSpans(raw, end)) {
    if (span.name === 'received') return null;
    if (span.name !== RSPAMD_HEADER.toLowerCase()) continue;
    const value = raw.subarray(span.start, span.end).toString('latin1').replace(/\s+/g, ' ');
    const action = /action=([a-z ]+?)\s*(?:;|$)/.exec(value.replace(/^[^:]*:/, '').trim())?.[1];
    return (RSPAMD_ACTIONS as readonly string[]).includes(action ?? '') ? (action as RspamdAction) : null;
  }
  return null;
}
