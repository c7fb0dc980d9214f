// The subset of IMAP URLs (RFC 5092) that CATENATE (RFC 4469 §3) needs: a message or a part of a message in
// this user's own mailbox, written as a server-relative path (`/INBOX;UIDVALIDITY=7/;UID=3/;SECTION=1.2`)
// or relative to the selected folder (`;UID=3/;SECTION=1.2`). URLs naming a scheme, host or user
// (`imap://…`), URLAUTH, message lists and dot segments are refused: they would reach outside this session.
import { NoSuchFolder } from '../../mailbox/errors.js';
import type { Mailbox } from '../../mailbox/types.js';
import { fetchSection, locatePart, parseSectionSpec, sectionSize, type MessageStructure, type SectionSpec } from '../../mime/index.js';

/** A reference CATENATE cannot use; the command answers `NO [BADURL <url>]` (RFC 4469 §4.1). */
export class BadUrl extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'BadUrl';
  }
}

/** The referenced data would make the message larger than allowed: `NO [TOOBIG]` (RFC 4469 §4.2). */
export class UrlTooBig extends Error {
  constructor() {
    super('referenced data is too large');
    this.name = 'UrlTooBig';
  }
}

/** A parsed message URL. */
export interface ImapMessageUrl {
  /** Store path of the folder ('/' separated, INBOX canonical); null when relative to the selected folder. */
  readonly mailbox: string | null;
  readonly uidValidity: number | null;
  readonly uid: number;
  /** ;SECTION= as a FETCH section (path '' kind 'full' for the whole message). */
  readonly section: SectionSpec;
}

/** The folder a relative URL is resolved against. */
export interface UrlBase {
  readonly path: string;
  readonly uidValidity: number;
}

const MAX_NUMBER = 4294967295;
/** RFC 5092 bchar: unreserved / pct-encoded / sub-delims-sh / "&" / "=" / ":" / "@" / "/". */
const BCHARS = /^(?:[A-Za-z0-9\-._~!$'()*+,&=:@/]|%[0-9A-Fa-f]{2})*$/;

function nzNumber(text: string, what: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(text)) throw new BadUrl(`bad ${what}`);
  const n = Number(text);
  if (n > MAX_NUMBER) throw new BadUrl(`bad ${what}`);
  return n;
}

/** %XX-decodes bchars into UTF-8 text (RFC 5092 §3.2: mailbox names are UTF-8, then %-escaped). */
function percentDecode(text: string, what: string): string {
  if (!BCHARS.test(text)) throw new BadUrl(`bad characters in ${what}`);
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '%') {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(text.charCodeAt(i));
    }
  }
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    throw new BadUrl(`${what} is not UTF-8`);
  }
  if ([...decoded].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) throw new BadUrl(`control characters in ${what}`);
  return decoded;
}

/** The folder path a URL names: '/'-separated, no empty, `.` or `..` segment, INBOX canonical. */
function mailboxPath(encoded: string): string {
  const path = percentDecode(encoded, 'mailbox');
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) throw new BadUrl('bad mailbox name');
  if ((segments[0] as string).toUpperCase() === 'INBOX') segments[0] = 'INBOX';
  return segments.join('/');
}

/** `;KEY=value` (KEY case-insensitive, RFC 5092 §6) → value, or null when the piece is another key. */
function keyed(piece: string, key: string): string | null {
  const prefix = `;${key}=`;
  return piece.slice(0, prefix.length).toUpperCase() === prefix ? piece.slice(prefix.length) : null;
}

/**
 * Parses a CATENATE URL. Accepted forms (RFC 5092 iabsolute-path / irelative-path, message parts only):
 *   /<mailbox>[;UIDVALIDITY=<n>]/;UID=<n>[/;SECTION=<section>][/;PARTIAL=<start>[.<length>]]
 *   ;UID=<n>[/;SECTION=<section>][/;PARTIAL=…]            (the selected folder)
 * Throws BadUrl for anything else.
 */
export function parseImapUrl(url: string): ImapMessageUrl {
  if (url.length === 0 || url.length > 8192) throw new BadUrl('bad URL length');
  if (!/^[\x21-\x7e]+$/.test(url)) throw new BadUrl('bad characters in URL');
  // Reject dot segments outright: a generic resolver would collapse them into another folder or message.
  for (const segment of url.split('/')) {
    const plain = segment.replace(/%2e/gi, '.');
    if (plain === '.' || plain === '..') throw new BadUrl('dot segment in URL');
  }
  let mailbox: string | null = null;
  let uidValidity: number | null = null;
  let rest: string;
  if (url.startsWith('/')) {
    if (url.startsWith('//')) throw new BadUrl('URL names a server');
    const at = url.toUpperCase().indexOf('/;UID=');
    if (at < 0) throw new BadUrl('URL names no message');
    let ref = url.slice(1, at);
    const validityAt = ref.toUpperCase().lastIndexOf(';UIDVALIDITY=');
    if (validityAt >= 0) {
      uidValidity = nzNumber(ref.slice(validityAt + ';UIDVALIDITY='.length), 'UIDVALIDITY');
      ref = ref.slice(0, validityAt);
    }
    if (ref === '') throw new BadUrl('URL names no mailbox');
    mailbox = mailboxPath(ref);
    rest = url.slice(at + 1);
  } else if (url.slice(0, 5).toUpperCase() === ';UID=') {
    rest = url;
  } else {
    // imap://…, a mailbox relative to the server root, ;SECTION= alone (needs a base message): not ours to follow.
    throw new BadUrl('unsupported URL form');
  }
  const pieces = rest.split('/');
  const uidText = keyed(pieces[0] as string, 'UID');
  if (uidText === null) throw new BadUrl('URL names no message');
  const uid = nzNumber(uidText, 'UID');
  let index = 1;
  let section: SectionSpec = { path: '', kind: 'full' };
  const sectionText = pieces[index] === undefined ? null : keyed(pieces[index] as string, 'SECTION');
  if (sectionText !== null) {
    // A section may contain '/' only %-escaped, so it is exactly one piece.
    const decoded = percentDecode(sectionText, 'section');
    const parsed = decoded === '' ? null : parseSectionSpec(decoded);
    if (!parsed || parsed.partial) throw new BadUrl('bad section');
    section = parsed;
    index++;
  }
  const partialText = pieces[index] === undefined ? null : keyed(pieces[index] as string, 'PARTIAL');
  if (partialText !== null) {
    const m = /^(0|[1-9][0-9]{0,9})(?:\.([1-9][0-9]{0,9}))?$/.exec(partialText);
    if (!m || Number(m[1]) > MAX_NUMBER || Number(m[2] ?? 1) > MAX_NUMBER) throw new BadUrl('bad partial range');
    section = { ...section, partial: { start: Number(m[1]), ...(m[2] !== undefined ? { length: Number(m[2]) } : {}) } };
    index++;
  }
  // ;URLAUTH=, ;EXPIRE=, a trailing '/' or anything else we do not know.
  if (index !== pieces.length) throw new BadUrl('unsupported URL component');
  return { mailbox, uidValidity, uid, section };
}

function isStructure(value: unknown): value is MessageStructure {
  if (!value || typeof value !== 'object') return false;
  const v = value as { root?: unknown; size?: unknown };
  return typeof v.size === 'number' && !!v.root && typeof v.root === 'object';
}

/** True when the section names something the message has (FETCH would answer an empty string otherwise). */
function sectionExists(structure: MessageStructure, spec: SectionSpec): boolean {
  const at = locatePart(structure.root, spec.path);
  if (!at) return false;
  switch (spec.kind) {
    case 'full':
      return true;
    case 'mime':
      return spec.path !== '';
    default:
      // HEADER / TEXT / HEADER.FIELDS address a message: the root, or an encapsulated message/rfc822.
      return at.asMessage || !!at.node.message;
  }
}

/**
 * The bytes a URL names, exactly as `FETCH BODY.PEEK[<section>]<partial>` would return them. `budget` is what
 * the message under construction may still grow by: more throws UrlTooBig before the bytes are read.
 */
export async function resolveImapUrl(url: ImapMessageUrl, mailbox: Mailbox, base: UrlBase | null, budget: number): Promise<Buffer> {
  const folder = url.mailbox ?? base?.path;
  if (folder === undefined) throw new BadUrl('relative URL without a selected mailbox');
  let uidValidity: number;
  try {
    uidValidity = mailbox.status(folder).uidValidity;
  } catch (error) {
    if (error instanceof NoSuchFolder) throw new BadUrl('no such mailbox');
    throw error;
  }
  const expected = url.uidValidity ?? (url.mailbox === null ? base?.uidValidity ?? null : null);
  if (expected !== null && expected !== uidValidity) throw new BadUrl('UIDVALIDITY does not match');
  const record = mailbox.fetch(folder, [[url.uid, url.uid]])[0];
  if (!record || record.uid !== url.uid) throw new BadUrl('no such message');
  const structure = record.structure;
  if (!isStructure(structure)) throw new BadUrl('message has no parsed structure');
  if (!sectionExists(structure, url.section)) throw new BadUrl('no such section');
  const whole = sectionSize(structure, { path: url.section.path, kind: url.section.kind, ...(url.section.fields ? { fields: url.section.fields } : {}) });
  if (whole !== null) {
    const partial = url.section.partial;
    const start = partial ? Math.min(partial.start, whole) : 0;
    const size = partial?.length !== undefined ? Math.min(whole - start, partial.length) : whole - start;
    if (size > budget) throw new UrlTooBig();
  }
  const bytes = await fetchSection(structure, url.section, (start, end) => mailbox.readRange(folder, url.uid, start, end));
  if (bytes.length > budget) throw new UrlTooBig();
  return bytes;
}

/**
 * The URL as it may be echoed in `[BADURL …]` (RFC 4469 §5 url-resp-text: no CR, LF, `\` or `]`): printable
 * ASCII without those, at most 200 characters.
 */
export function badUrlText(url: string): string {
  const clean = url.replace(/[^\x21-\x5b\x5e-\x7e]/g, '').slice(0, 200);
  return clean === '' ? 'URL' : clean;
}
