// Copying messages into a live mailbox (restore-one-folder, import), skipping ones already there:
// a message is a duplicate when a message in the target folder, or one added earlier in the same run,
// has the same Message-ID (or none) and the same SHA-256 of its bytes in the form the store keeps them
// (canonicalBytes: bare LF → CRLF), so an LF mbox imported twice matches what the first import stored.
// Only same-size candidates are read and hashed.
import { createHash } from 'node:crypto';
import type { Mailbox, ThreadedMessageMeta } from '../mailbox/types.js';
import { NoSuchFolder, FolderExists } from '../mailbox/errors.js';
import { canonicalBytes } from '../mailbox/parse.js';

export interface IncomingMessage {
  readonly raw: Buffer;
  readonly flags?: readonly string[];
  readonly internalDate?: Date;
}

export interface TransferProgress {
  readonly folder: string;
  readonly done: number;
  /** null when unknown (streamed input). */
  readonly total: number | null;
  readonly imported: number;
  readonly skipped: number;
}

export interface TransferTotals {
  imported: number;
  skipped: number;
  folders: string[];
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Header Message-ID of raw bytes (first occurrence in the header block), normalised; null when absent. */
export function messageIdOf(raw: Buffer): string | null {
  const end = raw.indexOf('\r\n\r\n');
  const endLf = raw.indexOf('\n\n');
  const cut = [end, endLf].filter((x) => x >= 0).sort((a, b) => a - b)[0] ?? raw.length;
  const header = raw.subarray(0, cut).toString('latin1').replace(/\r?\n[ \t]+/g, ' ');
  const m = /^message-id:\s*(<[^>\r\n]*>|[^\s]+)/im.exec(header);
  return m ? (m[1] as string).trim() : null;
}

/** Creates the folder if needed (and its parents, via the store). */
export function ensureFolder(mailbox: Mailbox, path: string): void {
  try {
    mailbox.status(path);
  } catch (error) {
    if (!(error instanceof NoSuchFolder)) throw error;
    try {
      mailbox.createFolder(path);
    } catch (e) {
      if (!(e instanceof FolderExists)) throw e;
    }
  }
}

/** Dedupe index of one target folder, filled lazily. */
class FolderIndex {
  private readonly bySize = new Map<number, ThreadedMessageMeta[]>();
  private readonly hashes = new Map<number, string>();
  /** Message-ID + hash of what this run added. */
  private readonly added = new Set<string>();

  constructor(
    private readonly mailbox: Mailbox,
    private readonly folder: string,
  ) {
    for (const meta of mailbox.listMessages(folder, undefined, { thread: true })) {
      const list = this.bySize.get(meta.size) ?? [];
      list.push(meta);
      this.bySize.set(meta.size, list);
    }
  }

  /** True when `stored` (canonical bytes) is already in the folder or was added by this run. */
  async has(stored: Buffer): Promise<boolean> {
    const hash = sha256(stored);
    const id = messageIdOf(stored);
    if (this.added.has(runKey(id, hash))) return true;
    for (const meta of this.bySize.get(stored.length) ?? []) {
      if ((meta.messageId ?? null) !== null && id !== null && meta.messageId !== id) continue;
      let existing = this.hashes.get(meta.uid);
      if (existing === undefined) {
        existing = sha256(await this.mailbox.readMessage(this.folder, meta.uid));
        this.hashes.set(meta.uid, existing);
      }
      if (existing === hash) return true;
    }
    return false;
  }

  remember(stored: Buffer): void {
    this.added.add(runKey(messageIdOf(stored), sha256(stored)));
  }
}

const runKey = (messageId: string | null, hash: string): string => `${messageId ?? ''}\n${hash}`;

/** Appends messages to folders of `target`, skipping duplicates; reports progress per message. */
export class MessageSink {
  private readonly indexes = new Map<string, FolderIndex>();
  readonly totals: TransferTotals = { imported: 0, skipped: 0, folders: [] };
  private done = 0;

  constructor(
    private readonly target: Mailbox,
    private readonly onProgress?: (p: TransferProgress) => void,
    private readonly total: number | null = null,
  ) {}

  private index(folder: string): FolderIndex {
    let idx = this.indexes.get(folder);
    if (!idx) {
      ensureFolder(this.target, folder);
      idx = new FolderIndex(this.target, folder);
      this.indexes.set(folder, idx);
      this.totals.folders.push(folder);
    }
    return idx;
  }

  async add(folder: string, message: IncomingMessage): Promise<boolean> {
    const idx = this.index(folder);
    const stored = canonicalBytes(message.raw);
    let added = false;
    if (await idx.has(stored)) this.totals.skipped++;
    else {
      await this.target.append(folder, stored, { flags: message.flags ?? [], ...(message.internalDate ? { internalDate: message.internalDate } : {}) });
      idx.remember(stored);
      this.totals.imported++;
      added = true;
    }
    this.done++;
    this.onProgress?.({ folder, done: this.done, total: this.total, imported: this.totals.imported, skipped: this.totals.skipped });
    return added;
  }
}

/** Copies whole folders (or all) from one mailbox into another, skipping messages already there. */
export async function copyFolders(
  source: Mailbox,
  target: Mailbox,
  options: { folders?: readonly string[]; onProgress?: (p: TransferProgress) => void } = {},
): Promise<TransferTotals> {
  const all = source.listFolders().map((f) => f.path);
  const wanted = options.folders?.length ? options.folders : all;
  for (const f of wanted) if (!all.some((x) => x.toLowerCase() === f.toLowerCase())) throw new NoSuchFolder(`The backup has no folder "${f}"`);
  const folders = all.filter((f) => wanted.some((w) => w.toLowerCase() === f.toLowerCase()));
  let total = 0;
  for (const f of folders) total += source.status(f).messages;
  const sink = new MessageSink(target, options.onProgress, total);
  for (const folder of folders) {
    ensureFolder(target, folder);
    for (const meta of source.listMessages(folder)) {
      const raw = await source.readMessage(folder, meta.uid);
      await sink.add(folder, { raw, flags: meta.flags.filter((f) => f !== '\\Recent'), internalDate: meta.internalDate });
    }
  }
  return sink.totals;
}
