// Unpacking a report attachment within the limits: gzip (RFC 1952) with an output cap, and zip holding
// exactly one .xml file (what DMARC reporters send, RFC 7489 §7.2.1.1), read from memory through yauzl
// with the declared and the actual sizes both checked. Nothing is written to disk.
import zlib from 'node:zlib';
import yauzl from 'yauzl';
import type { ReportLimits } from './limits.js';
import { hasControl } from './shape.js';
import { ReportRefused } from './types.js';

const tooLarge = (limits: ReportLimits): ReportRefused =>
  new ReportRefused('too-large-uncompressed', `the report is larger than ${limits.maxUncompressedBytes} bytes once decompressed`);

/** Gunzips with an output cap, so a gzip bomb stops at the limit instead of filling memory. */
export function gunzipReport(data: Buffer, limits: ReportLimits): Buffer {
  try {
    return zlib.gunzipSync(data, { maxOutputLength: limits.maxUncompressedBytes });
  } catch (error) {
    if (error instanceof RangeError || (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(limits);
    throw new ReportRefused('gzip-malformed', 'the gzip attachment is damaged or not gzip');
  }
}

/** A zip member name a report may have: one plain file name ending in .xml, no folders, no "..". */
export function safeZipEntryName(name: string): boolean {
  return /^[^/\\:]{1,255}\.xml$/i.test(name) && !name.includes('..') && !hasControl(name);
}

/** The one .xml file of a report zip; refuses several entries, odd names, encryption and oversize content. */
export function unzipReport(data: Buffer, limits: ReportLimits): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(data, { lazyEntries: true, validateEntrySizes: true, decodeStrings: true }, (openError, zip) => {
      if (openError || !zip) return reject(new ReportRefused('zip-malformed', 'the zip attachment is damaged or not a zip'));
      const fail = (error: ReportRefused): void => {
        zip.close();
        reject(error);
      };
      if (zip.entryCount !== 1) return fail(new ReportRefused('zip-entries', `the zip holds ${zip.entryCount} entries; a report zip holds exactly one .xml file`));
      zip.once('error', () => fail(new ReportRefused('zip-malformed', 'the zip attachment is damaged')));
      zip.once('entry', (entry: yauzl.Entry) => {
        if (!safeZipEntryName(entry.fileName)) return fail(new ReportRefused('zip-entry-name', 'the zip entry is not a plain .xml file name (folders, ".." or control characters)'));
        if (entry.isEncrypted()) return fail(new ReportRefused('zip-encrypted', 'the zip entry is encrypted'));
        if (entry.uncompressedSize > limits.maxUncompressedBytes) return fail(tooLarge(limits));
        zip.openReadStream(entry, (streamError, stream) => {
          if (streamError || !stream) return fail(new ReportRefused('zip-malformed', 'the zip entry cannot be read'));
          const chunks: Buffer[] = [];
          let size = 0;
          stream.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > limits.maxUncompressedBytes) {
              stream.destroy();
              return fail(tooLarge(limits));
            }
            chunks.push(chunk);
          });
          stream.once('error', () => fail(new ReportRefused('zip-malformed', 'the zip entry is damaged')));
          stream.once('end', () => {
            zip.close();
            resolve(Buffer.concat(chunks, size));
          });
        });
      });
      zip.readEntry();
    });
  });
}
