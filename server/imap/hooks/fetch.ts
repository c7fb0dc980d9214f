// FETCH / UID FETCH: values come from the store's MessageRecord (flags, modseq, dates, size, parsed
// structure) and from the stored bytes through server/mime's fetchSection, never from a rebuilt message
// (imap-core's rebuild() can add bytes). imap-core only compiles the response lines. Responses are written as
// they are produced, with a byte high-water mark on imap-core's output stream, and large BODY[] literals are
// read from the store in pieces: a client that reads slowly (or not at all) pauses its FETCH instead of making
// the server hold the mailbox.
import { performance } from 'node:perf_hooks';
import type { EventEmitter } from 'node:events';
import type { Transform } from 'node:stream';
import type { ImapAttribute, ImapFetchItem, ImapNode, ImapSession } from '@zone-eu/wildduck/imap-core/index.js';
import imapTools from '@zone-eu/wildduck/imap-core/lib/imap-tools.js';
import { NoSuchMessage } from '../../mailbox/errors.js';
import type { MessageMeta, MessageRecord } from '../../mailbox/types.js';
import { fetchSection, type MessageStructure, type SectionSpec } from '../../mime/index.js';
import { imapNo } from '../errors.js';
import { imapHandler } from '../protocol.js';
import { runtimeOf } from '../runtime.js';
import { asSelected, stateOf, toUidSet, type SelectedFolder } from '../state.js';

interface FetchRequest {
  readonly messages: number[];
  readonly query: ImapFetchItem[];
  readonly markAsSeen: boolean;
  readonly changedSince: number;
  readonly isUid: boolean;
}

type ValueKind = 'uid' | 'flags' | 'modseq' | 'internaldate' | 'size' | 'envelope' | 'bodystructure' | 'body' | 'section';

interface PreparedItem {
  /** The data item name as the response repeats it (partial reduced to its origin, RFC 3501 7.4.2). */
  readonly key: ImapNode;
  readonly kind: ValueKind;
  readonly spec?: SectionSpec;
}

const PAGE = 200;
/** Messages per page when parsed structures are loaded: a capped 3,000-part structure takes ~10 ms to load. */
const STRUCTURE_PAGE = 25;
const STRUCTURE_KINDS = new Set<ValueKind>(['envelope', 'bodystructure', 'body', 'section']);

function sectionSpec(item: ImapFetchItem): SectionSpec {
  const partial = item.partial && item.original.partial
    ? { start: item.partial.startFrom, ...(item.original.partial.length > 1 ? { length: item.partial.maxLength } : {}) }
    : undefined;
  const base = (kind: SectionSpec['kind'], path = '', fields?: string[]): SectionSpec => ({
    path,
    kind,
    ...(fields ? { fields } : {}),
    ...(partial ? { partial } : {}),
  });
  switch (item.item) {
    case 'rfc822':
      return base('full');
    case 'rfc822.header':
      return base('header');
    case 'rfc822.text':
      return base('text');
  }
  const path = item.path ?? '';
  switch ((item.type ?? 'content').toLowerCase()) {
    case 'content':
      return base('full', path);
    case 'header':
      return base('header', path);
    case 'text':
      return base('text', path);
    case 'mime':
      return base('mime', path);
    case 'header.fields':
      return base('header.fields', path, item.headers ?? []);
    case 'header.fields.not':
      return base('header.fields.not', path, item.headers ?? []);
    default:
      throw imapNo('CLIENTBUG', 'Unsupported FETCH section');
  }
}

function prepare(item: ImapFetchItem): PreparedItem {
  const key: ImapNode = { ...item.original };
  if (key.partial) key.partial = [key.partial[0] as number];
  switch (item.item) {
    case 'uid':
    case 'flags':
    case 'modseq':
    case 'internaldate':
    case 'envelope':
    case 'bodystructure':
      return { key, kind: item.item };
    case 'rfc822.size':
      return { key, kind: 'size' };
    case 'body':
      if (item.type === undefined) return { key, kind: 'body' };
      return { key, kind: 'section', spec: sectionSpec(item) };
    case 'rfc822':
    case 'rfc822.header':
    case 'rfc822.text':
      return { key, kind: 'section', spec: sectionSpec(item) };
    default:
      throw imapNo('CLIENTBUG', 'Unsupported FETCH item');
  }
}

function isStructure(value: unknown): value is MessageStructure {
  return typeof value === 'object' && value !== null && 'root' in value && 'envelope' in value;
}

/** BODY[] / RFC822 / BODY[]<partial>: bytes of the whole message, no parsed structure needed. */
function isWholeMessage(item: PreparedItem): boolean {
  return item.kind === 'section' && item.spec?.kind === 'full' && item.spec.path === '';
}

/** Envelope / BODYSTRUCTURE as the client can take them: RFC 2047-encoded unless UTF8=ACCEPT. */
function encoded(kind: 'envelope' | 'bodystructure', value: unknown, utf8: boolean): ImapAttribute {
  // getQueryResponse mutates what it is given; the store hands out a fresh copy per fetch().
  const [result] = imapTools.getQueryResponse([{ item: kind }], { [kind]: value }, { acceptUTF8Enabled: utf8 });
  return result as ImapAttribute;
}

/** What a message contributes to FETCH when only some of its data is needed. */
type FetchRecord = MessageRecord | MessageMeta | { readonly uid: number };

function hasMeta(record: FetchRecord): record is MessageMeta {
  return 'flags' in record;
}

/** A literal too large to hold at once: its length, its first piece, and a reader for [offset, end) of the rest. */
interface StreamedLiteral {
  readonly streamed: true;
  readonly length: number;
  readonly first: Buffer;
  readonly read: (offset: number, end: number) => Promise<Buffer>;
}
type FetchValue = ImapAttribute | StreamedLiteral;

const isStreamed = (value: FetchValue): value is StreamedLiteral =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value) && 'streamed' in value;

async function valueOf(item: PreparedItem, folder: SelectedFolder, record: FetchRecord, utf8: boolean): Promise<FetchValue> {
  if (item.kind === 'uid') return { type: 'atom', value: String(record.uid) };
  if (isWholeMessage(item)) {
    const partial = item.spec?.partial;
    const start = partial ? Math.max(0, partial.start) : 0;
    const end = partial?.length === undefined ? Infinity : start + Math.max(0, partial.length);
    const read = (from: number, to: number): Promise<Buffer> => folder.mailbox.readRange(folder.path, record.uid, from, to);
    // The first piece is read here, so a message expunged meanwhile is left out before anything is written.
    const first = await read(start, Math.min(end, start + READ_BYTES));
    if (first.length < READ_BYTES || start + first.length >= end) return { type: 'literal', value: first };
    // A large message: its size says how much is left (pages of BODY[] alone carry no metadata).
    const size = hasMeta(record) ? record.size : folder.mailbox.listMessages(folder.path, [[record.uid, record.uid]])[0]?.size;
    if (size === undefined) throw new NoSuchMessage();
    const length = Math.min(size, end) - start;
    return { streamed: true, length, first, read: (offset, to) => read(start + offset, start + to) };
  }
  if (!hasMeta(record)) throw new Error('FETCH item needs message metadata');
  switch (item.kind) {
    case 'flags':
      return record.flags.map((flag) => ({ type: 'atom', value: flag }));
    case 'modseq':
      return [{ type: 'atom', value: String(record.modseq) }];
    case 'internaldate':
      return { type: 'string', value: imapTools.formatInternalDate(record.internalDate) };
    case 'size':
      return { type: 'atom', value: String(record.size) };
  }
  const structure = 'structure' in record ? record.structure : null;
  if (!isStructure(structure)) throw new Error('message record without a parsed structure');
  switch (item.kind) {
    case 'envelope':
      return encoded('envelope', structure.envelope, utf8);
    case 'bodystructure':
      return encoded('bodystructure', structure.bodyStructure, utf8);
    case 'body':
      return encoded('bodystructure', structure.body, utf8);
    default: {
      const bytes = await fetchSection(structure, item.spec as SectionSpec, (start, end) =>
        folder.mailbox.readRange(folder.path, record.uid, start, end),
      );
      return { type: 'literal', value: bytes };
    }
  }
}

const isLiteral = (value: ImapAttribute): value is { type: string; value: Buffer } =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value) && value.type === 'literal' && Buffer.isBuffer(value.value);

/** Response text of one attribute, as imap-core's compiler writes it ('binary' string). */
const compiledText = (attribute: ImapAttribute): string => imapHandler.compiler({ attributes: [attribute] });

/**
 * The same text as compiledText, in time linear in its length. imap-core's compiler reads the last character
 * of the growing response string before every token (`resp.substr(-1)` flattens the rope each time), so a
 * BODYSTRUCTURE of a few thousand parts took seconds on the event loop. Lists and separators are written here
 * into an array joined once; every non-list value is still compiled by imap-core (one short token each).
 */
export function compileValue(attribute: ImapAttribute): string {
  const out: string[] = [];
  let last = ''; // last character written
  let lastType: string | undefined;
  const write = (text: string): void => {
    if (!text) return;
    out.push(text);
    last = text[text.length - 1] as string;
  };
  const walk = (node: ImapAttribute, subArray: boolean): void => {
    if ((lastType === 'LITERAL' || (last !== '' && last !== '(' && last !== '<' && last !== '[')) && !subArray) write(' ');
    if (Array.isArray(node)) {
      lastType = 'LIST';
      write('(');
      let sub = node.length > 1 && Array.isArray(node[0]);
      for (const child of node) {
        if (sub && !Array.isArray(child)) sub = false;
        walk(child as ImapAttribute, sub);
      }
      write(')');
      return;
    }
    write(compiledText(node));
    if (typeof node === 'object' && node !== null && !Buffer.isBuffer(node) && typeof (node as { type?: unknown }).type === 'string') {
      lastType = (node as { type: string }).type;
    }
  };
  walk(attribute, false);
  return out.join('');
}

/** A response that cannot be finished: its literal's length is already on the wire, its bytes are not. */
class BrokenResponse extends Error {}

/**
 * FETCH responses on their way to imap-core's output stream (its composer, then the socket or the DEFLATE
 * stream). The composer queues objects without a byte bound and ends each one with CRLF, so responses are
 * gathered into ~64 KiB pieces, each cut just before a CRLF of the response bytes themselves (the composer
 * writes that CRLF back): the client receives the same bytes, and a piece is about a batch plus one read (more
 * only where the bytes hold no CRLF for longer). Batching matters: one socket write per message cost ~20% of
 * FETCH. What was handed over but not yet passed on by the composer is counted (other writes made meanwhile,
 * such as live updates, only make the count low by their size); above HIGH_WATER_BYTES, FETCH waits for the
 * client to read: commands run "subject to ... flow control constraints on the underlying data stream"
 * (RFC 3501 §5.5).
 */
class FetchOutput {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Pending size at which a cut is tried next (doubles while the pending bytes hold no CRLF). */
  private nextCut = BATCH_BYTES;
  private handed = 0;
  private passed = 0;
  private closed = false;
  private wake: (() => void) | null = null;
  private turnStart = performance.now();
  private readonly keys: Buffer[];
  private readonly notify = (): void => {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  };
  private readonly onPassed = (chunk: Buffer | string): void => {
    this.passed += chunk.length;
    if (this.wake && this.handed - this.passed <= LOW_WATER_BYTES) this.notify();
  };
  private readonly onClose = (): void => {
    this.closed = true;
    this.notify();
  };

  constructor(
    private readonly composer: Transform,
    private readonly socket: EventEmitter,
    private readonly connectionOpen: () => boolean,
    items: readonly PreparedItem[],
  ) {
    this.keys = items.map((item) => Buffer.from(compiledText(item.key), 'binary'));
    // A second 'data' listener does not change the flow of the composer's pipe to the socket.
    composer.on('data', this.onPassed);
    socket.once('close', this.onClose);
  }

  isOpen(): boolean {
    return !this.closed && this.connectionOpen();
  }

  /** Writes `* seq FETCH (…)`; a streamed literal is read piece by piece, each piece once the client has room. */
  async response(seq: number, values: readonly FetchValue[]): Promise<void> {
    this.append(Buffer.from(`* ${seq} FETCH (`, 'latin1'));
    for (const [i, value] of values.entries()) {
      if (i) this.append(SPACE);
      this.append(this.keys[i] as Buffer);
      if (isStreamed(value)) {
        this.append(Buffer.from(` {${value.length}}\r\n`, 'latin1'));
        this.append(value.first);
        for (let offset = value.first.length; offset < value.length; ) {
          await this.ready();
          if (!this.isOpen()) return;
          const end = Math.min(value.length, offset + READ_BYTES);
          let piece: Buffer;
          try {
            piece = await value.read(offset, end);
          } catch (error) {
            throw new BrokenResponse('FETCH literal could not be read to its end', { cause: error });
          }
          if (piece.length !== end - offset) throw new BrokenResponse('FETCH literal shorter than the size of its message');
          this.append(piece);
          offset = end;
        }
      } else if (isLiteral(value)) {
        this.append(Buffer.from(` {${value.value.length}}\r\n`, 'latin1'));
        this.append(value.value);
      } else {
        this.append(Buffer.from(` ${compileValue(value)}`, 'binary'));
      }
    }
    this.append(CLOSE_LINE);
  }

  /** Waits while more than HIGH_WATER_BYTES are queued (until LOW_WATER_BYTES), else gives other sessions a turn now and then. */
  async ready(): Promise<void> {
    if (this.handed - this.passed > HIGH_WATER_BYTES) {
      while (this.isOpen() && this.handed - this.passed > LOW_WATER_BYTES) {
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
      this.turnStart = performance.now();
    } else if (performance.now() - this.turnStart > YIELD_AFTER_MS) {
      // Values are computed synchronously (microtasks only); without a turn, FETCH 1:* over many large
      // structures would hold the event loop for every other session until it ends.
      await nextTurn();
      this.turnStart = performance.now();
    }
  }

  /** Hands over everything gathered (the responses end with CRLF, which the composer writes). */
  end(): void {
    this.cut();
    if (this.pendingBytes) this.write(Buffer.concat(this.pending, this.pendingBytes));
    this.pending = [];
    this.pendingBytes = 0;
  }

  dispose(): void {
    this.composer.off('data', this.onPassed);
    this.socket.off('close', this.onClose);
    this.notify();
  }

  private append(bytes: Buffer): void {
    if (!bytes.length) return;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= this.nextCut) this.cut();
  }

  /** Hands over the pending bytes up to their last CRLF. */
  private cut(): void {
    if (!this.pendingBytes) return;
    const joined = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending, this.pendingBytes);
    const at = joined.lastIndexOf(CRLF);
    if (at < 0) {
      this.pending = [joined];
      this.nextCut = this.pendingBytes * 2;
      return;
    }
    this.write(joined.subarray(0, at));
    const rest = joined.subarray(at + CRLF.length);
    this.pending = rest.length ? [rest] : [];
    this.pendingBytes = rest.length;
    this.nextCut = BATCH_BYTES;
  }

  private write(piece: Buffer): void {
    // The composer writes `compiled` as is, then CRLF.
    this.composer.write({ compiled: piece });
    this.handed += piece.length + CRLF.length;
  }
}

const CRLF = Buffer.from('\r\n');
const SPACE = Buffer.from(' ');
const CLOSE_LINE = Buffer.from(')\r\n');
const BATCH_BYTES = 64 * 1024;
/** Bytes of a BODY[] literal read from the store at a time (it keeps messages in 64 KiB chunks). */
const READ_BYTES = 256 * 1024;
/** Output handed to imap-core but not yet passed to the socket above which FETCH waits, and the level it waits for. */
const HIGH_WATER_BYTES = 1024 * 1024;
const LOW_WATER_BYTES = 512 * 1024;
/** Longest stretch of FETCH work before other sessions get a turn (one large BODYSTRUCTURE is ~20 ms). */
const YIELD_AFTER_MS = 20;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const META_KINDS = new Set<ValueKind>(['flags', 'modseq', 'internaldate', 'size']);

export function fetchHooks() {
  return {
    async onFetch(selected: unknown, request: FetchRequest, session: ImapSession): Promise<unknown[]> {
      const folder = asSelected(selected);
      const state = stateOf(session);
      const current = session.selected;
      if (!current || !request.messages.length) return [true];
      const items = request.query.map(prepare);
      // What to load per page: parsed structures (ENVELOPE, BODYSTRUCTURE, sections) > metadata > nothing
      // (BODY.PEEK[] alone needs only the UID; the bytes are read per message).
      const needsStructure = items.some((item) => STRUCTURE_KINDS.has(item.kind) && !isWholeMessage(item));
      const seqOf = new Map<number, number>();
      current.uidList.forEach((uid, index) => seqOf.set(uid, index + 1));
      const wanted = request.messages.filter((uid) => seqOf.has(uid)).sort((a, b) => a - b);
      const needsMeta = needsStructure || request.markAsSeen || Boolean(request.changedSince) || items.some((item) => META_KINDS.has(item.kind));
      const utf8 = session.isUTF8Enabled();
      const connection = state.connection;
      const output = new FetchOutput(session.writeStream, connection._socket, () => !connection._closed && !connection._closing, items);

      try {
        const pageSize = needsStructure ? STRUCTURE_PAGE : PAGE;
        for (let i = 0; i < wanted.length; i += pageSize) {
          const page = wanted.slice(i, i + pageSize);
          let records: FetchRecord[] = needsStructure
            ? folder.mailbox.fetch(folder.path, toUidSet(page))
            : needsMeta
              ? folder.mailbox.listMessages(folder.path, toUidSet(page))
              : page.map((uid) => ({ uid }));
          if (request.markAsSeen) {
            const metas = records.filter(hasMeta);
            const unseen = metas.filter((r) => !r.flags.includes('\\Seen')).map((r) => r.uid);
            if (unseen.length) {
              const result = folder.mailbox.store(folder.path, toUidSet(unseen), 'add', ['\\Seen']);
              const changed = new Map(result.updated.map((u) => [u.uid, u]));
              for (const u of result.updated) folder.ownModseqs.add(u.modseq);
              records = metas.map((r) => {
                const u = changed.get(r.uid);
                return u ? { ...r, flags: u.flags, modseq: u.modseq } : r;
              });
            }
          }
          for (const record of records) {
            if (request.changedSince && hasMeta(record) && record.modseq <= request.changedSince) continue;
            const seq = seqOf.get(record.uid);
            if (seq === undefined) continue;
            const values: FetchValue[] = [];
            try {
              for (const item of items) values.push(await valueOf(item, folder, record, utf8));
            } catch (error) {
              // Expunged by another session while this FETCH ran: RFC 3501 lets us leave it out.
              if (error instanceof NoSuchMessage) continue;
              throw error;
            }
            if (!output.isOpen()) return [true];
            await output.response(seq, values);
            await output.ready();
            if (!output.isOpen()) return [true];
          }
        }
      } catch (error) {
        if (!(error instanceof BrokenResponse)) throw error;
        // The literal's length was already sent (e.g. the message was expunged between two of its pieces):
        // the only honest end left is closing the connection.
        runtimeOf(connection._server).logger.warn({ cid: connection.id }, 'IMAP FETCH could not finish a message literal; closing the connection');
        connection.close();
        return [true];
      } finally {
        // Also on a failure: the responses already built reach the client before the tagged NO.
        if (output.isOpen()) output.end();
        output.dispose();
      }
      return [true];
    },
  };
}
