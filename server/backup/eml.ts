// eml export/import: a zip (yazl/yauzl) with one directory per folder and one <n>.eml per message,
// plus .sealpost.json with each entry's flags and internal date (other tools ignore it).
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import type * as yazlTypes from 'yazl';
import type * as yauzl from 'yauzl';

// The zip libraries are required by export/import only, not by every CLI start-up.
const requireCjs = createRequire(import.meta.url);
const yazlLib = (): typeof yazlTypes => requireCjs('yazl') as typeof yazlTypes;
const yauzlLib = (): typeof yauzl => requireCjs('yauzl') as typeof yauzl;

export interface ZipSource {
  readonly folder: string;
  readonly name: string;
  readonly flags: readonly string[];
  readonly internalDate: Date;
  /** Called when the zip writer reaches this entry, so only one message is in memory at a time. */
  readonly load: () => Promise<Buffer>;
}

export interface ZipSidecarEntry {
  readonly path: string;
  readonly flags: readonly string[];
  readonly internalDate: string;
}

export const SIDECAR = '.sealpost.json';

// Control characters and Windows-reserved characters must not reach a file name.
// eslint-disable-next-line no-control-regex
const UNSAFE_NAME_CHARS = /[\\:*?"<>|\x00-\x1f]/g;

/** Zip entry path of a message: folder path (already '/'-separated) + name; guards against "..". */
export function entryPath(folder: string, name: string): string {
  const safe = folder
    .split('/')
    .map((p) => (p === '' || p === '.' || p === '..' ? '_' : p.replace(UNSAFE_NAME_CHARS, '_')))
    .join('/');
  return `${safe}/${name}`;
}

function lazyStream(load: () => Promise<Buffer>): Readable {
  let started = false;
  return new Readable({
    read() {
      if (started) return;
      started = true;
      load().then(
        (buf) => {
          this.push(buf);
          this.push(null);
        },
        (err: Error) => this.destroy(err),
      );
    },
  });
}

export async function writeEmlZip(out: string, entries: AsyncIterable<ZipSource> | Iterable<ZipSource>): Promise<number> {
  const zip = new (yazlLib().ZipFile)();
  const output = fs.createWriteStream(out, { mode: 0o600 });
  const done = new Promise<void>((resolve, reject) => {
    output.on('close', resolve);
    output.on('error', reject);
    zip.outputStream.on('error', reject);
  });
  zip.outputStream.pipe(output);
  const sidecar: ZipSidecarEntry[] = [];
  let count = 0;
  for await (const e of entries) {
    const p = entryPath(e.folder, e.name);
    zip.addReadStream(lazyStream(e.load), p, { mtime: e.internalDate, compress: true });
    sidecar.push({ path: p, flags: e.flags, internalDate: e.internalDate.toISOString() });
    count++;
  }
  zip.addBuffer(Buffer.from(JSON.stringify(sidecar)), SIDECAR, { mtime: new Date(), compress: true });
  zip.end();
  await done;
  return count;
}

export interface ZipMessage {
  readonly folder: string;
  readonly raw: Buffer;
  readonly flags: readonly string[];
  readonly internalDate: Date | null;
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => yauzlLib().open(file, { lazyEntries: true, autoClose: false }, (err, zip) => (err ? reject(err) : resolve(zip))));
}

function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    zip.openReadStream(entry, (err, stream) => {
      if (err) return reject(err);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve(Buffer.concat(chunks)));
      stream.on('error', reject);
    }),
  );
}

async function entriesOf(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  const entries: yauzl.Entry[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.once('end', () => resolve());
    zip.once('error', reject);
    zip.readEntry();
  });
  return entries;
}

/** Counts the .eml entries (for a progress total). */
export async function countEmlInZip(file: string): Promise<number> {
  const zip = await openZip(file);
  try {
    return (await entriesOf(zip)).filter((e) => /\.eml$/i.test(e.fileName)).length;
  } finally {
    zip.close();
  }
}

/** Streams the .eml entries of a zip; the folder is the entry's directory (or `folder` when given). */
export async function* readEmlZip(file: string, folder?: string): AsyncGenerator<ZipMessage> {
  const zip = await openZip(file);
  try {
    const entries = await entriesOf(zip);
    const meta = new Map<string, ZipSidecarEntry>();
    const side = entries.find((e) => e.fileName === SIDECAR);
    if (side) {
      try {
        for (const s of JSON.parse((await readEntry(zip, side)).toString('utf8')) as ZipSidecarEntry[]) meta.set(s.path, s);
      } catch {
        // A damaged sidecar only loses flags, never messages.
      }
    }
    for (const entry of entries) {
      if (!/\.eml$/i.test(entry.fileName) || entry.fileName.endsWith('/')) continue;
      const dir = entry.fileName.includes('/') ? entry.fileName.slice(0, entry.fileName.lastIndexOf('/')) : 'INBOX';
      const m = meta.get(entry.fileName);
      yield {
        folder: folder ?? dir,
        raw: await readEntry(zip, entry),
        flags: m?.flags ?? [],
        internalDate: m ? new Date(m.internalDate) : entry.getLastModDate(),
      };
    }
  } finally {
    zip.close();
  }
}
