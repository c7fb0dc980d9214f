// Linear pre-scans run before any parser sees a report: an XML document type (entity definitions, the
// billion-laughs family) is refused outright, and nesting deeper than the limit is refused before a
// recursive parser could exhaust the stack.
import { ReportRefused } from './types.js';

/** Refuses a DTD or entity declaration anywhere (DMARC reports have none: RFC 7489 Appendix C is a plain schema). */
export function refuseDoctype(xml: string): void {
  if (/<!DOCTYPE/i.test(xml) || /<!ENTITY/i.test(xml)) {
    throw new ReportRefused('xml-doctype', 'the XML declares a document type or entities, which a DMARC report never needs');
  }
}

/** Index of the `>` that ends the tag opened at `start`, skipping quoted attribute values; -1 if none. */
function tagEnd(xml: string, start: number): number {
  let quote = '';
  for (let i = start + 1; i < xml.length; i++) {
    const c = xml[i];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '>') return i;
  }
  return -1;
}

/** Deepest element nesting of an XML text, skipping comments, CDATA and processing instructions. */
export function xmlDepth(xml: string, max: number): number {
  let depth = 0;
  let deepest = 0;
  let i = 0;
  for (;;) {
    i = xml.indexOf('<', i);
    if (i < 0) return deepest;
    const next = xml[i + 1];
    if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i + 4);
      i = end < 0 ? xml.length : end + 3;
      continue;
    }
    if (xml.startsWith('<![CDATA[', i)) {
      const end = xml.indexOf(']]>', i + 9);
      i = end < 0 ? xml.length : end + 3;
      continue;
    }
    const close = tagEnd(xml, i);
    if (close < 0) return deepest;
    if (next === '?' || next === '!') {
      i = close + 1;
      continue;
    }
    if (next === '/') depth = Math.max(0, depth - 1);
    else if (xml[close - 1] !== '/') {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > max) return deepest;
    }
    i = close + 1;
  }
}

/** Deepest nesting of JSON arrays and objects (brackets inside strings do not count). */
export function jsonDepth(json: string, max: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > max) return deepest;
    } else if (c === 0x5d || c === 0x7d) depth = Math.max(0, depth - 1);
  }
  return deepest;
}

/** A single line of at most `max` characters: control characters become spaces (reports are machine-written). */
export function singleLine(value: string, max: number): string {
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0) ?? 0;
    out += c < 0x20 || c === 0x7f ? ' ' : ch;
    if (out.length > max * 2) break;
  }
  return out.trim().slice(0, max);
}

/** A domain name as reports carry it (ASCII, punycode for IDNs): letters, digits, dots, dashes, underscores. */
export function plausibleDomain(name: string): boolean {
  return /^[a-z0-9_](?:[a-z0-9._-]{0,251}[a-z0-9])?$/.test(name) && !name.includes('..');
}

/** True when the text holds a control character (C0 or DEL). */
export function hasControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}
