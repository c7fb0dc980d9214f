// FETCH / UID FETCH: values come from the store's MessageRecord (flags, modseq, dates, size, parsed
// structure) and from the stored bytes through server/mime's fetchSection, never from a rebuilt message
// (imap-core's rebuild() can add bytes). imap-core only compiles the response lines.
import { performance } from 'node:perf_hooks';
import type { ImapAttribute, ImapFetchItem, ImapNode, ImapSession } from '@zone-eu/wildduck/imap-core/index.js';
import imapTools from '@zone-eu/wildduck/imap-core/lib/imap-tools.js';
import { NoSuchMessage } from '../../mailbox/errors.js';
import type { MessageMeta, MessageRecord } from '../../mailbox/types.js';
import { fetchSection, type MessageStructure, type SectionSpec } from '../../mime/index.js';
import { imapNo } from '../errors.js';
import { imapHandler } from '../protocol.js';
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

function waitDrain(session: ImapSession): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      session.writeStream.off('drain', done);
      session.socket.off('close', done);
      resolve();
    };
    session.writeStream.once('drain', done);
    session.socket.once('close', done);
  });
}

/** What a message contributes to FETCH when only some of its data is needed. */
type FetchRecord = MessageRecord | MessageMeta | { readonly uid: number };

function hasMeta(record: FetchRecord): record is MessageMeta {
  return 'flags' in record;
}

async function valueOf(item: PreparedItem, folder: SelectedFolder, record: FetchRecord, utf8: boolean): Promise<ImapAttribute> {
  if (item.kind === 'uid') return { type: 'atom', value: String(record.uid) };
  if (isWholeMessage(item)) {
    const partial = item.spec?.partial;
    const start = partial ? Math.max(0, partial.start) : 0;
    const end = partial?.length === undefined ? Infinity : start + Math.max(0, partial.length);
    return { type: 'literal', value: await folder.mailbox.readRange(folder.path, record.uid, start, end) };
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

/**
 * Writes `* seq FETCH (…)` lines straight into the connection's output as Buffers: literal bodies are copied
 * once (imap-core's compiler turns them into 'binary' strings and back), item names are compiled once per
 * command, and responses are batched into ~64 KiB writes (one socket write per message cost ~20% of FETCH).
 */
class FetchWriter {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private readonly keys: Buffer[];

  constructor(
    private readonly session: ImapSession,
    items: readonly PreparedItem[],
  ) {
    this.keys = items.map((item) => Buffer.from(compiledText(item.key), 'binary'));
  }

  add(seq: number, values: readonly ImapAttribute[]): void {
    if (this.chunks.length) this.push(CRLF);
    this.push(Buffer.from(`* ${seq} FETCH (`, 'latin1'));
    values.forEach((value, i) => {
      if (i) this.push(SPACE);
      this.push(this.keys[i] as Buffer);
      if (isLiteral(value)) {
        this.push(Buffer.from(` {${value.value.length}}\r\n`, 'latin1'));
        this.push(value.value);
      } else {
        this.push(Buffer.from(` ${compileValue(value)}`, 'binary'));
      }
    });
    this.push(CLOSE);
  }

  get pending(): number {
    return this.bytes;
  }

  /** Hands the batch to imap-core's output stream (which appends the final CRLF); false = wait for drain. */
  flush(): boolean {
    if (!this.chunks.length) return true;
    const compiled = Buffer.concat(this.chunks, this.bytes);
    this.chunks = [];
    this.bytes = 0;
    return this.session.writeStream.write({ compiled });
  }

  private push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }
}

const CRLF = Buffer.from('\r\n');
const SPACE = Buffer.from(' ');
const CLOSE = Buffer.from(')');
const BATCH_BYTES = 64 * 1024;
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
      const needsMeta = needsStructure || request.markAsSeen || Boolean(request.changedSince) || items.some((item) => META_KINDS.has(item.kind));
      const utf8 = session.isUTF8Enabled();
      const seqOf = new Map<number, number>();
      current.uidList.forEach((uid, index) => seqOf.set(uid, index + 1));
      const wanted = request.messages.filter((uid) => seqOf.has(uid)).sort((a, b) => a - b);
      const writer = new FetchWriter(session, items);
      const open = (): boolean => !state.connection._closed && !state.connection._closing;
      let turnStart = performance.now();

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
            const values: ImapAttribute[] = [];
            try {
              for (const item of items) values.push(await valueOf(item, folder, record, utf8));
            } catch (error) {
              // Expunged by another session while this FETCH ran: RFC 3501 lets us leave it out.
              if (error instanceof NoSuchMessage) continue;
              throw error;
            }
            if (!open()) return [true];
            writer.add(seq, values);
            if (writer.pending >= BATCH_BYTES && !writer.flush()) await waitDrain(session);
            if (performance.now() - turnStart > YIELD_AFTER_MS) {
              // Values are computed synchronously (microtasks only); without this, FETCH 1:* over many
              // large structures would hold the event loop for every other session until it ends.
              if (writer.flush()) await nextTurn();
              else await waitDrain(session);
              turnStart = performance.now();
            }
          }
        }
      } finally {
        // Also on a failure: the responses already built reach the client before the tagged NO.
        if (open()) writer.flush();
      }
      return [true];
    },
  };
}
