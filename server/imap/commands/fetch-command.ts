// FETCH / UID FETCH (RFC 9051 §6.4.5, RFC 3501 §6.4.5) with CONDSTORE / QRESYNC modifiers (RFC 7162 §3.1.4.1,
// §3.2.6), BINARY (RFC 3516), PREVIEW (RFC 8970), SAVEDATE (RFC 8514) and OBJECTID (RFC 8474). Values come from
// the store's records and from the stored bytes (server/mime section ranges, render/*), never from a rebuilt
// message. Messages are loaded a page at a time and each response is written before the next is built; large
// sections are StreamedLiterals the engine reads piece by piece as the client takes them, so a slow reader
// pauses its FETCH instead of making the server hold its mailbox.
import { performance } from 'node:perf_hooks';
import { NoSuchMessage } from '../../mailbox/errors.js';
import type { HeaderedMessageMeta, Mailbox, MessageFlags, MessageMeta, MessageRecord, ThreadedMessageMeta, UidSet } from '../../mailbox/types.js';
import { fetchSection, headerFieldsSection, locatePart, partialRange, sectionRange, type SectionSpec } from '../../mime/sections.js';
import type { MessageStructure, MimePart } from '../../mime/types.js';
import type { CommandContext, CommandSpec, Completion, SelectedView, Session } from '../engine/types.js';
import { ImapError } from '../errors.js';
import { bodyStructureValue } from '../render/bodystructure.js';
import { decodeTransfer, needsLiteral8, transferEncodingOf } from '../render/binary.js';
import { envelopeFromHeader, type RenderOptions } from '../render/envelope.js';
import { messagePreview } from '../render/preview.js';
import { formatInternalDate, sequenceSetText } from '../wire/encode.js';
import { STAR, type Partial, type SectionRef, type SequenceSet, type StreamedLiteral, type Value } from '../wire/types.js';
import { readFetchArguments, type FetchItem } from './fetch-items.js';
import { uidRanges } from './copy.js';
import { BodyPrefetch, READ_AHEAD_MIN_MESSAGES, type Prefetched } from './fetch-prefetch.js';

/** Messages per page when only metadata (or nothing) is needed. */
const PAGE = 200;
/** Messages per page when parsed structures are loaded: a capped 3,000-part structure takes ~10 ms to load. */
const STRUCTURE_PAGE = 25;
/** Bytes of a section read from the store at a time (it keeps messages in 64 KiB chunks); larger ones are streamed. */
export const READ_BYTES = 256 * 1024;
/** Longest stretch of FETCH work before other sessions get a turn (one large BODYSTRUCTURE is ~20 ms). */
const YIELD_AFTER_MS = 20;
/** Header bytes read for ENVELOPE (the MIME layer parses at most this much of a header, HEADER_PARSE_BYTES). */
const ENVELOPE_HEADER_BYTES = 64 * 1024;

const STRUCTURE_KINDS = new Set<FetchItem['kind']>(['envelope', 'body', 'bodystructure', 'binary', 'binary-size', 'preview']);
const META_KINDS = new Set<FetchItem['kind']>(['flags', 'modseq', 'internaldate', 'size', 'savedate', 'emailid', 'threadid']);
/** Items that need more than UID, MODSEQ, flags and size (the lean listing, Mailbox.listFlags). */
const FULL_META_KINDS = new Set<FetchItem['kind']>(['internaldate', 'savedate', 'emailid']);

/** BODY[] / RFC822 / BODY[]<partial>: the whole message, read without its parsed structure. */
const isWholeMessage = (item: FetchItem): boolean => item.kind === 'section' && item.section.path === '' && item.section.text === '';
/** Items answered from the parsed structure (or, for ENVELOPE and the root header sections, the header end). */
const needsStructureOf = (item: FetchItem): boolean => STRUCTURE_KINDS.has(item.kind) || (item.kind === 'section' && !isWholeMessage(item));

/**
 * BODY[HEADER], BODY[HEADER.FIELDS (…)] and BODY[HEADER.FIELDS.NOT (…)] of the message itself: octets of its own
 * header, which the store records the end of (listHeaders), so they need no parsed structure.
 */
const isRootHeader = (item: FetchItem): boolean =>
  item.kind === 'section' && item.section.path === '' && (item.section.text === 'HEADER' || item.section.text === 'HEADER.FIELDS' || item.section.text === 'HEADER.FIELDS.NOT');

type FetchRecord = MessageRecord | HeaderedMessageMeta | ThreadedMessageMeta | MessageMeta | MessageFlags | { readonly uid: number };
const hasMeta = (record: FetchRecord): record is MessageFlags => 'flags' in record;
/** A listHeaders record whose header end is known (a message stored before the store recorded it has none). */
const hasHeaderEnd = (record: FetchRecord): record is HeaderedMessageMeta & { readonly headerEnd: number } =>
  'headerEnd' in record && typeof record.headerEnd === 'number';
const hasFullMeta = (record: FetchRecord): record is MessageMeta => 'emailId' in record;

function isStructure(value: unknown): value is MessageStructure {
  return typeof value === 'object' && value !== null && 'root' in value && 'bodyStructure' in value;
}

function structureOf(record: FetchRecord): MessageStructure {
  const structure = 'structure' in record ? record.structure : null;
  if (!isStructure(structure)) throw new Error('message record without a parsed structure');
  return structure;
}

/** Our section reference in server/mime's terms. */
function sectionSpec(section: SectionRef, partial: Partial | null): SectionSpec {
  const kind = section.text === '' ? 'full' : (section.text.toLowerCase() as SectionSpec['kind']);
  return {
    path: section.path,
    kind,
    ...(section.fields ? { fields: section.fields } : {}),
    ...(partial ? { partial: { start: partial.start, ...(partial.length === undefined ? {} : { length: partial.length }) } } : {}),
  };
}

interface MessageContext {
  readonly session: Session;
  readonly mailbox: Mailbox;
  readonly path: string;
  readonly record: FetchRecord;
  readonly options: RenderOptions;
  /** The whole-message range of this message, read ahead (BodyPrefetch). */
  readonly prefetched?: Prefetched | undefined;
}

const read = (m: MessageContext, start: number, end: number): Promise<Buffer> =>
  end > start ? m.mailbox.readRange(m.path, m.record.uid, start, end) : Promise.resolve(Buffer.alloc(0));

/**
 * Bytes [start, end) of the message as a literal: read at once when small, else streamed. The first piece is
 * read here either way, so a message expunged meanwhile is left out before anything of it is written. With
 * `binary` (BINARY[…]) a small literal is literal8 when it holds NUL (RFC 3516 §4.3), a streamed one always,
 * since its bytes are not known before they are sent.
 */
async function rangeLiteral(m: MessageContext, start: number, end: number, binary = false): Promise<Value> {
  const first = await read(m, start, Math.min(end, start + READ_BYTES));
  if (end - start <= READ_BYTES || first.length < READ_BYTES) return binary ? { literal: first, binary: needsLiteral8(first) } : { literal: first };
  const piece = async (offset: number, to: number): Promise<Buffer> => {
    if (to <= first.length) return first.subarray(offset, to);
    if (offset >= first.length) return read(m, start + offset, start + to);
    return Buffer.concat([first.subarray(offset), await read(m, start + first.length, start + to)]);
  };
  const literal: StreamedLiteral = {
    streamed: true,
    length: end - start,
    ...(binary ? { binary: true } : {}),
    read: async (offset, to) => {
      try {
        const bytes = await piece(offset, to);
        if (bytes.length !== to - offset) throw new NoSuchMessage('message shorter than its recorded size');
        return bytes;
      } catch (error) {
        // The literal's length is on the wire already (e.g. the message was expunged between two of its
        // pieces): RFC 9051 §4.3 leaves no honest way to finish it, so the connection ends.
        m.session.logger.warn({ cid: m.session.id }, 'IMAP FETCH could not finish a message literal; closing the connection');
        m.session.close();
        throw error;
      }
    },
  };
  return literal;
}

async function sectionValue(m: MessageContext, item: Extract<FetchItem, { kind: 'section' }>): Promise<Value> {
  if (isWholeMessage(item)) {
    if (!hasMeta(m.record)) throw new Error('FETCH of a whole message needs its metadata');
    const r = partialRange(m.record.size, item.partial ?? undefined);
    const ahead = m.prefetched;
    if (ahead && ahead.start === r.start && ahead.end === r.end) {
      const bytes = await ahead.bytes;
      if (bytes === null) throw new NoSuchMessage();
      if (bytes.length === r.end - r.start) return { literal: bytes };
    }
    return rangeLiteral(m, r.start, r.end);
  }
  if (isRootHeader(item) && hasHeaderEnd(m.record)) return rootHeaderValue(m, item, m.record.headerEnd);
  const structure = structureOf(m.record);
  const spec = sectionSpec(item.section, item.partial);
  const range = sectionRange(structure, spec);
  if (!range) {
    // HEADER.FIELDS[.NOT] (filtered, small) or a part that does not exist (an empty string, as Dovecot answers).
    return { literal: await fetchSection(structure, spec, (start, end) => read(m, start, end)) };
  }
  const r = partialRange(range.end - range.start, spec.partial);
  return rangeLiteral(m, range.start + r.start, range.start + r.end);
}

/**
 * The message's own header sections from octets [0, headerEnd): the same bytes fetchSection takes from the
 * structure's root (RFC 9051 §6.4.5: HEADER is the header with its blank line; HEADER.FIELDS[.NOT] the fields
 * kept, then a blank line), with <partial> applied to them.
 */
async function rootHeaderValue(m: MessageContext, item: Extract<FetchItem, { kind: 'section' }>, headerEnd: number): Promise<Value> {
  const spec = sectionSpec(item.section, item.partial);
  if (spec.kind === 'header') {
    const r = partialRange(headerEnd, spec.partial);
    return rangeLiteral(m, r.start, r.end);
  }
  return { literal: headerFieldsSection(await read(m, 0, headerEnd), spec) };
}

/**
 * What a BINARY section names: a stored byte range served as it is (the message itself, a composite part, an
 * identity-encoded part), decoded bytes (base64 / quoted-printable), or null when the part does not exist.
 */
async function binaryContent(m: MessageContext, section: SectionRef): Promise<{ range: { start: number; end: number } } | { decoded: Buffer } | null> {
  const structure = structureOf(m.record);
  if (section.path === '') return { range: { start: 0, end: structure.size } }; // the message: no encoding to undo
  const at = locatePart(structure.root, section.path);
  if (!at) return null;
  const part = at.node;
  const range = { start: part.bodyStart, end: part.bodyEnd };
  // Composite parts (multipart, message/rfc822) only ever have an identity encoding (RFC 2045 §6.4).
  if (part.children || part.message) return { range };
  const encoding = transferEncodingOf(await read(m, part.headerStart, part.headerEnd));
  if (encoding === null) throw new ImapError({ response: 'NO', code: 'UNKNOWN-CTE', message: 'Cannot decode the content-transfer-encoding of this part' });
  if (encoding === 'identity') return { range };
  // Decoded whole: at most one part of one message at a time, bounded by the largest message the store takes.
  return { decoded: decodeTransfer(await read(m, part.bodyStart, part.bodyEnd), encoding) };
}

async function binaryValue(m: MessageContext, item: Extract<FetchItem, { kind: 'binary' }>): Promise<Value> {
  const content = await binaryContent(m, item.section);
  // A part that does not exist is an empty string (as for BODY[…], and as Dovecot answers).
  if (content === null) return { literal: Buffer.alloc(0) };
  if ('range' in content) {
    const r = partialRange(content.range.end - content.range.start, item.partial ?? undefined);
    return rangeLiteral(m, content.range.start + r.start, content.range.start + r.end, true);
  }
  const r = partialRange(content.decoded.length, item.partial ?? undefined);
  const bytes = content.decoded.subarray(r.start, r.end);
  return { literal: bytes, binary: needsLiteral8(bytes) };
}

async function binarySize(m: MessageContext, section: SectionRef): Promise<Value> {
  const content = await binaryContent(m, section);
  if (content === null) return { atom: '0' };
  return { atom: String('range' in content ? content.range.end - content.range.start : content.decoded.length) };
}

async function headerOf(m: MessageContext, part: Pick<MimePart, 'headerStart' | 'headerEnd'>): Promise<Buffer> {
  return read(m, part.headerStart, Math.min(part.headerEnd, part.headerStart + ENVELOPE_HEADER_BYTES));
}

/**
 * FLAGS as this session sees them: the stored flags plus \Recent where the message is recent for this session
 * (RFC 3501 §2.3.2; IMAP4rev2 has no \Recent, RFC 9051 Appendix E).
 */
export function flagsValue(session: Session, uid: number, flags: readonly string[]): Value {
  const list: Value[] = flags.map((flag) => ({ atom: flag }));
  if (session.selected?.recent.has(uid) && !session.enabled.has('IMAP4rev2')) list.push({ atom: '\\Recent' });
  return list;
}

/** One data item's value for one message. */
async function itemValue(m: MessageContext, item: FetchItem): Promise<Value> {
  const { record } = m;
  if (item.kind === 'uid') return { atom: String(record.uid) };
  if (item.kind === 'section') return sectionValue(m, item);
  if (item.kind === 'binary') return binaryValue(m, item);
  if (item.kind === 'binary-size') return binarySize(m, item.section);
  if (item.kind === 'envelope' && hasHeaderEnd(record)) return envelopeFromHeader(await headerOf(m, { headerStart: 0, headerEnd: record.headerEnd }), m.options);
  if (item.kind === 'envelope' || item.kind === 'body' || item.kind === 'bodystructure' || item.kind === 'preview') {
    const structure = structureOf(record);
    if (item.kind === 'envelope') return envelopeFromHeader(await headerOf(m, structure.root), m.options);
    if (item.kind === 'preview') return { string: await messagePreview(structure.root, (start, end) => read(m, start, end)) };
    return bodyStructureValue(structure.bodyStructure, structure.root, item.kind === 'bodystructure', m.options, (part) => headerOf(m, part));
  }
  if (!hasMeta(record)) throw new Error('FETCH item needs message metadata');
  switch (item.kind) {
    case 'flags':
      return flagsValue(m.session, record.uid, record.flags);
    case 'modseq':
      return [{ atom: String(record.modseq) }];
    case 'size':
      return { atom: String(record.size) };
  }
  if (!hasFullMeta(record)) throw new Error('FETCH item needs full message metadata');
  switch (item.kind) {
    case 'internaldate':
      return { string: formatInternalDate(record.internalDate) };
    case 'savedate':
      return record.saveDate ? { string: formatInternalDate(record.saveDate) } : null;
    case 'emailid':
      return [{ atom: record.emailId }];
    case 'threadid':
      return 'threadObjectId' in record ? [{ atom: record.threadObjectId }] : null;
  }
}

const ITEM_NAMES: Readonly<Record<string, string>> = {
  uid: 'UID',
  flags: 'FLAGS',
  internaldate: 'INTERNALDATE',
  size: 'RFC822.SIZE',
  envelope: 'ENVELOPE',
  body: 'BODY',
  bodystructure: 'BODYSTRUCTURE',
  modseq: 'MODSEQ',
  preview: 'PREVIEW',
  savedate: 'SAVEDATE',
  emailid: 'EMAILID',
  threadid: 'THREADID',
};

const responseName = (item: FetchItem): string => ('key' in item ? item.key : (ITEM_NAMES[item.kind] as string));

/** True when a UID lies in a sequence set read as UIDs, `*` being `largest`. */
function inUidSet(set: SequenceSet, uid: number, largest: number, saved: readonly number[]): boolean {
  if (set.kind === 'saved') return saved.includes(uid);
  return set.ranges.some(([a, b]) => {
    const from = a === STAR ? largest : a;
    const to = b === STAR ? largest : b;
    return uid >= Math.min(from, to) && uid <= Math.max(from, to);
  });
}

/** RFC 7162 §3.2.6: `* VANISHED (EARLIER)` for UIDs of the set expunged since the CHANGEDSINCE mod-sequence. */
async function reportVanished(session: Session, mailbox: Mailbox, view: SelectedView, set: SequenceSet, since: number): Promise<void> {
  const largest = Math.max(mailbox.status(view.path).uidNext - 1, 1);
  const vanished = new Set<number>();
  for (const change of mailbox.changesSince(view.path, since)) {
    if (change.kind === 'expunge' && view.seqOf(change.uid) === 0 && inUidSet(set, change.uid, largest, view.savedSearch)) vanished.add(change.uid);
  }
  if (vanished.size) await session.untagged(`VANISHED (EARLIER) ${sequenceSetText([...vanished])}`);
}

async function runFetch(ctx: CommandContext): Promise<Completion | void> {
  const { session } = ctx;
  const view = session.selected;
  const user = session.user;
  if (!view || !user) throw new Error('FETCH outside the selected state');
  const set = ctx.args.sequenceSet();
  ctx.args.sp();
  const args = readFetchArguments(ctx.args);
  if (args.vanished && (!ctx.uid || !session.enabled.has('QRESYNC'))) {
    return { status: 'BAD', text: 'VANISHED needs UID FETCH with CHANGEDSINCE after ENABLE QRESYNC' };
  }
  const items = [...args.items];
  // RFC 7162 §3.1: FETCH MODSEQ and the CHANGEDSINCE modifier enable CONDSTORE; CHANGEDSINCE implies MODSEQ.
  if (args.changedSince !== null || items.some((item) => item.kind === 'modseq')) session.enable('CONDSTORE');
  if (args.changedSince !== null && !items.some((item) => item.kind === 'modseq')) items.push({ kind: 'modseq' });
  // RFC 3501 §6.4.8: UID FETCH responses always carry UID (after the asked items, where imap-core put it).
  if (ctx.uid && !items.some((item) => item.kind === 'uid')) items.push({ kind: 'uid' });
  const condstore = session.enabled.has('CONDSTORE');
  const options: RenderOptions = { utf8: session.enabled.has('UTF8=ACCEPT') || session.enabled.has('IMAP4rev2') };
  const mailbox = user.mailbox;
  const uids = view.resolve(set, ctx.uid);
  if (args.vanished && args.changedSince !== null) await reportVanished(session, mailbox, view, set, args.changedSince);
  if (!uids.length) return;

  // RFC 3501 §6.4.5: BODY[…] (not .PEEK), RFC822, RFC822.TEXT and BINARY[…] set \Seen, except in a read-only folder.
  const markSeen = args.setsSeen && !view.readOnly;
  const needsStructure = items.some(needsStructureOf);
  // ENVELOPE and the message's own header sections (what clients list a folder with) need only where the header
  // ends, which the store lists with the metadata: no structure is loaded and decoded unless a message lacks it.
  const headerOnly = needsStructure && items.every((item) => !needsStructureOf(item) || item.kind === 'envelope' || isRootHeader(item));
  // THREADID lives with the stored body: reading it costs a page per message, so only when asked for.
  const needsThread = items.some((item) => item.kind === 'threadid');
  // A whole-message section needs the size: listed with the page, not looked up message by message.
  const needsMeta =
    needsStructure || markSeen || args.changedSince !== null || items.some((item) => META_KINDS.has(item.kind) || item.kind === 'section');
  const needsFullMeta = items.some((item) => FULL_META_KINDS.has(item.kind));
  const pageSize = needsStructure && !headerOnly ? STRUCTURE_PAGE : PAGE;
  // BODY[] / RFC822 / BODY[]<partial>: ranges up to READ_BYTES are read ahead, beside the event loop.
  const wholeItem = items.find((item): item is Extract<FetchItem, { kind: 'section' }> => isWholeMessage(item));
  const hasFlags = items.some((item) => item.kind === 'flags');
  const hasModseq = items.some((item) => item.kind === 'modseq');

  if (!markSeen && items.every((item) => LEAN_KINDS.has(item.kind))) return leanFetch(session, mailbox, view, uids, items, args.changedSince);

  // Values are computed with microtasks only while the client keeps up: without a turn now and then, FETCH
  // 1:* over many large structures would hold the event loop for every other session until it ends.
  let turnStart = performance.now();
  for (let i = 0; i < uids.length; i += pageSize) {
    const page = uidRanges(uids.slice(i, i + pageSize));
    let records: FetchRecord[] = headerOnly
      ? headersOrStructures(mailbox, view.path, page)
      : needsStructure
        ? mailbox.fetch(view.path, page)
        : needsThread
          ? mailbox.listMessages(view.path, page, { thread: true })
          : needsFullMeta
            ? mailbox.listMessages(view.path, page)
            : needsMeta
              ? mailbox.listFlags(view.path, page)
              : uids.slice(i, i + pageSize).map((uid) => ({ uid }));
    if (args.changedSince !== null) {
      const since = args.changedSince;
      records = records.filter((record) => hasMeta(record) && record.modseq > since);
    }
    const seenNow = new Set<number>();
    if (markSeen) {
      const unseen = records.filter((record) => hasMeta(record) && !record.flags.includes('\\Seen')).map((record) => record.uid);
      if (unseen.length) {
        const result = mailbox.store(view.path, uidRanges(unseen), 'add', ['\\Seen']);
        const changed = new Map(result.updated.map((update) => [update.uid, update]));
        for (const update of result.updated) {
          session.ownChange(update.modseq);
          seenNow.add(update.uid);
        }
        records = records.map((record) => {
          const update = changed.get(record.uid);
          return update && hasMeta(record) ? { ...record, flags: update.flags, modseq: update.modseq } : record;
        });
      }
    }
    const prefetch = wholeItem ? bodyPrefetch(mailbox, view, records, wholeItem) : null;
    for (const record of records) {
      const seq = view.seqOf(record.uid);
      if (seq === 0) continue;
      const m: MessageContext = { session, mailbox, path: view.path, record, options, prefetched: prefetch?.take(record.uid) };
      const list: Value[] = [];
      try {
        for (const item of items) list.push({ raw: responseName(item) }, await itemValue(m, item));
        // RFC 3501 §6.4.5: the implicitly set \Seen is reported (with its MODSEQ once CONDSTORE is on).
        if (seenNow.has(record.uid) && hasMeta(record)) {
          if (!hasFlags) list.push({ raw: 'FLAGS' }, flagsValue(session, record.uid, record.flags));
          if (condstore && !hasModseq) list.push({ raw: 'MODSEQ' }, [{ atom: String(record.modseq) }]);
        }
      } catch (error) {
        // Expunged by another session while this FETCH ran: RFC 9051 §7.5.1 lets us leave it out.
        if (error instanceof NoSuchMessage) continue;
        throw error;
      }
      await session.untagged(`${seq} FETCH`, list);
      if (performance.now() - turnStart > YIELD_AFTER_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        turnStart = performance.now();
      }
    }
  }
}

/**
 * Read-ahead of a page's whole-message ranges that fit one read (larger ones stream as before), or null when
 * the page has too few of them to be worth it.
 */
function bodyPrefetch(mailbox: Mailbox, view: SelectedView, records: readonly FetchRecord[], item: Extract<FetchItem, { kind: 'section' }>): BodyPrefetch | null {
  const wanted: { uid: number; start: number; end: number }[] = [];
  for (const record of records) {
    if (!hasMeta(record) || view.seqOf(record.uid) === 0) continue;
    const r = partialRange(record.size, item.partial ?? undefined);
    if (r.end > r.start && r.end - r.start <= READ_BYTES) wanted.push({ uid: record.uid, start: r.start, end: r.end });
  }
  return wanted.length >= READ_AHEAD_MIN_MESSAGES ? new BodyPrefetch(mailbox, view.path, wanted) : null;
}

/** The page's header ends, or (when a message was stored before the store recorded them) its structures. */
function headersOrStructures(mailbox: Mailbox, path: string, page: UidSet): FetchRecord[] {
  const listed = mailbox.listHeaders(path, page);
  return listed.every((record) => record.headerEnd !== null) ? listed : mailbox.fetch(path, page);
}

/** Items answered from the lean listing alone (UID, FLAGS, MODSEQ, RFC822.SIZE): what clients sync with. */
const LEAN_KINDS = new Set<FetchItem['kind']>(['uid', 'flags', 'modseq', 'size']);
/** Messages listed per query by the lean FETCH (a few small objects each). */
const LEAN_PAGE = 5000;
/** Text written per socket batch by the lean FETCH. */
const LEAN_CHUNK_CHARS = 64 * 1024;

/**
 * FETCH of lean items only, written as text: one listing query per page and one string per line, no value tree
 * per message (a client syncing a 100k-message folder asks `FETCH 1:* (UID FLAGS)`). Same bytes as the general
 * path: items in the order asked, \Recent added as flagsValue() does.
 */
async function leanFetch(
  session: Session,
  mailbox: Mailbox,
  view: SelectedView,
  uids: readonly number[],
  items: readonly FetchItem[],
  changedSince: number | null,
): Promise<void> {
  const names = items.map(responseName);
  const kinds = items.map((item) => item.kind);
  const showRecent = !session.enabled.has('IMAP4rev2');
  // listFlags shares one frozen list per flag combination: its text is built once.
  const flagTexts = new Map<readonly string[], string>();
  // Lines gather into one string written per LEAN_CHUNK_CHARS (and waits there while the client reads slowly).
  let chunk = '';
  const flush = async (): Promise<void> => {
    const text = chunk;
    chunk = '';
    if (text) await session.untaggedLines(text);
  };
  // UID and FLAGS alone, and this session has reported every change the folder has had: the view holds the
  // answer (the client's sync right after SELECT), no query needed.
  if (changedSince === null && kinds.every((kind) => kind === 'uid' || kind === 'flags')) {
    const status = mailbox.status(view.path);
    if (status.uidValidity === view.uidValidity && view.flagsCurrent(status.highestModseq)) {
      // Both lists ascend: the sequence number is found by walking the view's UIDs alongside, not searched per message.
      const all = view.uids;
      const render = uidFlagsLine(kinds);
      let at = 0;
      for (const uid of uids) {
        while (at < all.length && all[at]! < uid) at++;
        const flags = view.flagsOf(uid);
        if (all[at] !== uid || flags === undefined) continue;
        const recent = showRecent && view.recent.has(uid);
        if (render) {
          chunk += render(at + 1, uid, flagText(flags, recent, flagTexts));
        } else {
          chunk += leanLine(at + 1, uid, 0, 0, flags, names, kinds, recent, flagTexts);
        }
        if (chunk.length >= LEAN_CHUNK_CHARS) await flush();
      }
      return flush();
    }
  }
  let turnStart = performance.now();
  for (let i = 0; i < uids.length; i += LEAN_PAGE) {
    for (const record of mailbox.listFlags(view.path, uidRanges(uids.slice(i, i + LEAN_PAGE)))) {
      if (changedSince !== null && record.modseq <= changedSince) continue;
      const seq = view.seqOf(record.uid);
      if (seq === 0) continue;
      chunk += leanLine(seq, record.uid, record.modseq, record.size, record.flags, names, kinds, showRecent && view.recent.has(record.uid), flagTexts);
      if (chunk.length >= LEAN_CHUNK_CHARS) await flush();
    }
    // A page takes a few ms: other sessions get a turn between pages.
    if (performance.now() - turnStart > YIELD_AFTER_MS) {
      await flush();
      await new Promise<void>((resolve) => setImmediate(resolve));
      turnStart = performance.now();
    }
  }
  return flush();
}

/**
 * The response line of the common sync items (UID, FLAGS, or both in either order), as one template: the same
 * bytes as leanLine, with none of its per-item loop. A fresh server runs it a few times before the JIT has
 * compiled it, and it is answered per message of a whole folder (FETCH 1:* (UID FLAGS) of 10,000 messages
 * took 9–23 ms in its first runs after a restart and 5 ms once compiled). Null for any other item list.
 */
function uidFlagsLine(kinds: readonly FetchItem['kind'][]): ((seq: number, uid: number, flagText: string) => string) | null {
  const list = kinds.join(' ');
  if (list === 'uid flags') return (seq, uid, flagText) => `* ${seq} FETCH (UID ${uid} FLAGS (${flagText}))\r\n`;
  if (list === 'flags uid') return (seq, uid, flagText) => `* ${seq} FETCH (FLAGS (${flagText}) UID ${uid})\r\n`;
  if (list === 'flags') return (seq, _uid, flagText) => `* ${seq} FETCH (FLAGS (${flagText}))\r\n`;
  if (list === 'uid') return (seq, uid) => `* ${seq} FETCH (UID ${uid})\r\n`;
  return null;
}

/** The FLAGS list's text: the flags (joined once per shared list), then \\Recent as flagsValue() adds it. */
function flagText(flags: readonly string[], recent: boolean, flagTexts: Map<readonly string[], string>): string {
  let text = flagTexts.get(flags);
  if (text === undefined) flagTexts.set(flags, (text = flags.join(' ')));
  return recent ? (text ? `${text} \\Recent` : '\\Recent') : text;
}

/** One lean FETCH response line, CRLF included. */
function leanLine(
  seq: number,
  uid: number,
  modseq: number,
  size: number,
  flags: readonly string[],
  names: readonly string[],
  kinds: readonly FetchItem['kind'][],
  recent: boolean,
  flagTexts: Map<readonly string[], string>,
): string {
  let line = `* ${seq} FETCH (`;
  for (let k = 0; k < kinds.length; k++) {
    if (k > 0) line += ' ';
    line += names[k];
    switch (kinds[k]) {
      case 'uid':
        line += ` ${uid}`;
        break;
      case 'size':
        line += ` ${size}`;
        break;
      case 'modseq':
        line += ` (${modseq})`;
        break;
      default:
        line += ` (${flagText(flags, recent, flagTexts)})`;
    }
  }
  return `${line})\r\n`;
}

export const fetchCommand: CommandSpec = {
  name: 'FETCH',
  states: ['selected'],
  uid: true,
  // BINARY (RFC 3516) also covers APPEND's literal8; SAVEDATE (RFC 8514) also SEARCH SAVED*.
  capabilities: ['BINARY', 'PREVIEW', 'SAVEDATE'],
  // RFC 3501 §7.4.1: no EXPUNGE while responding to FETCH; UID FETCH may carry them.
  expungeAllowed: (uid) => uid,
  run: runFetch,
};
