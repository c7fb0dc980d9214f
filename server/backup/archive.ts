// Export (sqlite | mbox | eml) and import (mbox | eml zip | a sealpost sqlite export).
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { UserError } from '../config/index.js';
import type { Mailbox } from '../mailbox/types.js';
import { WrongKey } from '../mailbox/errors.js';
import { backupPaths, assertMailboxId } from './paths.js';
import { ensureDir, removeIfExists } from '../fsutil.js';
import { inWorker } from './worker.js';
import { MboxWriter, readMbox, scanMbox, DEFAULT_MBOX_LIMITS, type MboxLimits, type MboxMessage, type MboxScan } from './mbox.js';
import { wholeNumbersFromEnv } from '../config/env-values.js';
import { writeEmlZip, readEmlZip, countEmlInZip, type ZipSource } from './eml.js';
import { MessageSink, copyFolders, type TransferProgress, type TransferTotals } from './transfer.js';
import { withReadonlyCopy } from './restore.js';

export type ExportFormat = 'sqlite' | 'mbox' | 'eml';

export interface ExportProgress {
  readonly folder: string;
  readonly done: number;
  readonly total: number;
}

export interface ExportResult {
  readonly format: ExportFormat;
  readonly out: string;
  readonly messages: number;
  readonly files: string[];
}

/** Folder path → relative mbox file name: "Archive/2024" → "Archive/2024.mbox". */
function mboxFileOf(folder: string): string {
  return (
    folder
      .split('/')
      .map((p) => (p === '' || p === '.' || p === '..' ? '_' : p.replace(/[\\:*?"<>|]/g, '_')))
      .join(path.sep) + '.mbox'
  );
}

function totalMessages(mailbox: Mailbox): number {
  return mailbox.listFolders().reduce((n, f) => n + mailbox.status(f.path).messages, 0);
}

/** mbox: a directory with one mboxrd file per folder (nested folders in sub-directories). */
export async function exportMbox(mailbox: Mailbox, outDir: string, onProgress?: (p: ExportProgress) => void): Promise<ExportResult> {
  if (fs.existsSync(outDir) && fs.readdirSync(outDir).length > 0) throw new UserError(`${outDir} is not empty; give a new directory for the mbox export`, 'EXISTS');
  ensureDir(outDir);
  const total = totalMessages(mailbox);
  const files: string[] = [];
  let done = 0;
  for (const folder of mailbox.listFolders()) {
    const file = path.join(outDir, mboxFileOf(folder.path));
    ensureDir(path.dirname(file));
    const writer = new MboxWriter(file);
    try {
      for (const meta of mailbox.listMessages(folder.path)) {
        writer.write(await mailbox.readMessage(folder.path, meta.uid), meta.internalDate, meta.flags);
        done++;
        onProgress?.({ folder: folder.path, done, total });
      }
    } finally {
      writer.close();
    }
    files.push(file);
  }
  return { format: 'mbox', out: outDir, messages: done, files };
}

/** eml: one zip, a directory per folder, <n>.eml per message, flags in .sealpost.json. */
export async function exportEml(mailbox: Mailbox, outFile: string, onProgress?: (p: ExportProgress) => void): Promise<ExportResult> {
  if (fs.existsSync(outFile)) throw new UserError(`${outFile} already exists`, 'EXISTS');
  const total = totalMessages(mailbox);
  let done = 0;
  function* sources(): Generator<ZipSource> {
    for (const folder of mailbox.listFolders()) {
      let n = 0;
      for (const meta of mailbox.listMessages(folder.path)) {
        const uid = meta.uid;
        yield {
          folder: folder.path,
          name: `${String(++n).padStart(6, '0')}.eml`,
          flags: meta.flags,
          internalDate: meta.internalDate,
          load: async () => {
            const raw = await mailbox.readMessage(folder.path, uid);
            done++;
            onProgress?.({ folder: folder.path, done, total });
            return raw;
          },
        };
      }
    }
  }
  const tmp = `${outFile}.part-${randomUUID()}`;
  try {
    const count = await writeEmlZip(tmp, sources());
    fs.renameSync(tmp, outFile);
    return { format: 'eml', out: outFile, messages: count, files: [outFile] };
  } finally {
    removeIfExists(tmp);
  }
}

/**
 * sqlite: an encrypted copy keyed with the alias PASSWORD (sqlite3mc chacha20, default KDF), so it opens
 * with `PRAGMA key='<password>'` in SQLite3MultipleCiphers tools. Made in a worker from the live file.
 */
export async function exportSqlite(options: { dataDir: string; mailboxId: string; key: Buffer; password: string; out: string }): Promise<ExportResult> {
  assertMailboxId(options.mailboxId);
  if (fs.existsSync(options.out)) throw new UserError(`${options.out} already exists`, 'EXISTS');
  const live = backupPaths(options.dataDir).layout.mailboxFile(options.mailboxId);
  const tmp = `${options.out}.part-${randomUUID()}`;
  try {
    await inWorker.exportSqlite(live, options.key, options.password, tmp);
    fs.renameSync(tmp, options.out);
  } finally {
    removeIfExists(tmp);
    removeIfExists(`${tmp}-journal`);
  }
  return { format: 'sqlite', out: options.out, messages: -1, files: [options.out] };
}

export type ImportKind = 'mbox' | 'mbox-dir' | 'eml-zip' | 'eml' | 'sqlite';

/** Detects what PATH is by its content (not its name). */
export function detectImportKind(file: string): ImportKind {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new UserError(`${file} does not exist.`, 'NOT_FOUND', { hint: 'Check the path of the file or directory to import.' });
  }
  if (stat.isDirectory()) return 'mbox-dir';
  const head = Buffer.alloc(16);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 16, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (head.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04])) || head.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x05, 0x06]))) return 'eml-zip';
  if (head.subarray(0, 5).toString('latin1') === 'From ') return 'mbox';
  if (/\.sqlite3?$|\.db$/i.test(file)) return 'sqlite';
  if (/\.eml$/i.test(file)) return 'eml';
  throw new UserError(`${path.basename(file)} is neither an mbox file, a zip of .eml files, an .eml file nor a Sealpost sqlite export.`, 'BAD_IMPORT', {
    hint: 'An mbox file must start with a "From " line; a Sealpost sqlite export must end in .sqlite or .db, an .eml file in .eml.',
  });
}

function mboxFilesIn(dir: string): { file: string; folder: string }[] {
  const out: { file: string; folder: string }[] = [];
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (/\.mbox$/i.test(name)) out.push({ file: p, folder: path.relative(dir, p).replace(/\.mbox$/i, '').split(path.sep).join('/') });
    }
  };
  walk(dir);
  return out;
}

/** What the sink stores for one mbox message: bytes, internal date and flags when the file had them. */
function mboxItem(m: MboxMessage): { raw: Buffer; internalDate?: Date; flags?: string[] } {
  return { raw: m.raw, ...(m.internalDate ? { internalDate: m.internalDate } : {}), ...(m.flags ? { flags: m.flags } : {}) };
}

export interface ImportOptions {
  readonly dataDir: string;
  readonly target: Mailbox;
  readonly path: string;
  /** Put everything into this folder (created if needed) instead of the folders the archive names. */
  readonly folder?: string;
  /** For a sqlite export: the password it was exported with. */
  readonly password?: string;
  readonly onProgress?: (p: TransferProgress) => void;
  /** mbox limits (default: importLimitsFromEnv(process.env)). */
  readonly limits?: MboxLimits;
}

/** The mbox import limits: SEALPOST_IMPORT_MAX_MESSAGE_SIZE bytes per message (default 50 MiB, as SMTP and IMAP APPEND). */
export function importLimitsFromEnv(env: Readonly<Record<string, string | undefined>>): MboxLimits {
  return wholeNumbersFromEnv(env, [{ env: 'SEALPOST_IMPORT_MAX_MESSAGE_SIZE', key: 'maxMessageBytes', min: 1024 }], DEFAULT_MBOX_LIMITS);
}

/**
 * Runs the storing phase of an import. A failure after something was stored (quota, disk, a file changed
 * since it was checked) says how far it got; the same import run again continues, since what is already
 * there is skipped.
 */
async function storing(sink: MessageSink, total: number, store: () => Promise<void>): Promise<void> {
  try {
    await store();
  } catch (error) {
    const { imported, skipped } = sink.totals;
    if (imported === 0) throw error;
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0]?.replace(/\.$/, '');
    throw new UserError(`The import stopped after ${imported + skipped} of ${total} messages (${imported} stored): ${reason}.`, 'IMPORT_STOPPED', {
      hint: 'Fix the cause and run the same import again: the messages already imported are skipped.',
      cause: error,
    });
  }
}

/**
 * Imports an archive; messages already in the target folder (Message-ID + SHA-256 of the stored form) or
 * added earlier in the same run are skipped. An mbox file is read twice: a full check first, so a malformed
 * file is refused (naming the line) before anything is stored, then the import itself.
 */
export async function importArchive(options: ImportOptions): Promise<TransferTotals & { kind: ImportKind }> {
  const kind = detectImportKind(options.path);
  const { target, folder, onProgress } = options;
  const limits = options.limits ?? importLimitsFromEnv(process.env);
  switch (kind) {
    case 'mbox': {
      const scan = await scanMbox(options.path, limits);
      const sink = new MessageSink(target, onProgress, scan.messages);
      const into = folder ?? (path.basename(options.path).replace(/\.mbox$/i, '') || 'INBOX');
      await storing(sink, scan.messages, async () => {
        for await (const m of readMbox(options.path, { unquote: scan.unquote, limits })) await sink.add(into, mboxItem(m));
      });
      return { ...sink.totals, kind };
    }
    case 'mbox-dir': {
      const files = mboxFilesIn(options.path);
      if (files.length === 0) throw new UserError(`${options.path} contains no .mbox files`, 'BAD_IMPORT', { hint: 'Give a directory made by `sealpost export --format mbox`, or one mbox file.' });
      const scans: { file: string; folder: string; scan: MboxScan }[] = [];
      for (const f of files) scans.push({ ...f, scan: await scanMbox(f.file, limits) });
      const total = scans.reduce((n, f) => n + f.scan.messages, 0);
      const sink = new MessageSink(target, onProgress, total);
      await storing(sink, total, async () => {
        for (const f of scans) for await (const m of readMbox(f.file, { unquote: f.scan.unquote, limits })) await sink.add(folder ?? f.folder, mboxItem(m));
      });
      return { ...sink.totals, kind };
    }
    case 'eml-zip': {
      // Counting reads the zip's central directory: a damaged zip is refused here, before anything is stored.
      let total: number;
      try {
        total = await countEmlInZip(options.path);
      } catch (error) {
        if (error instanceof UserError) throw error;
        const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0]?.replace(/\.$/, '');
        throw new UserError(`${path.basename(options.path)} is not a readable zip file (${reason}).`, 'BAD_IMPORT', { hint: 'Nothing was imported; check the file (or export it again) and run the import again.', cause: error });
      }
      const sink = new MessageSink(target, onProgress, total);
      await storing(sink, total, async () => {
        for await (const m of readEmlZip(options.path, folder)) await sink.add(m.folder, { raw: m.raw, flags: m.flags, ...(m.internalDate ? { internalDate: m.internalDate } : {}) });
      });
      return { ...sink.totals, kind };
    }
    case 'eml': {
      const sink = new MessageSink(target, onProgress, 1);
      await sink.add(folder ?? 'INBOX', { raw: fs.readFileSync(options.path) });
      return { ...sink.totals, kind };
    }
    case 'sqlite': {
      if (!options.password) throw new UserError('Importing a sqlite export needs the password it was exported with', 'PASSWORD_REQUIRED');
      // Copy → re-key from the password to a throw-away raw key → open through the store → copy folders.
      const scratch = backupPaths(options.dataDir).scratch();
      ensureDir(scratch);
      const copy = path.join(scratch, `import-${randomUUID()}.sqlite`);
      const key = randomBytes(32);
      try {
        await inWorker.copy(options.path, copy);
        try {
          await inWorker.passphraseToRawKey(copy, options.password, key);
        } catch (error) {
          if (error instanceof WrongKey) throw new UserError('The password does not open this sqlite export', 'WRONG_PASSWORD');
          throw error;
        }
        const totals = await withReadonlyCopy(options.dataDir, copy, key, async (source) => {
          if (!folder) return copyFolders(source, target, onProgress ? { onProgress } : {});
          const sink = new MessageSink(target, onProgress);
          for (const f of source.listFolders()) {
            for (const meta of source.listMessages(f.path)) {
              await sink.add(folder, { raw: await source.readMessage(f.path, meta.uid), flags: meta.flags, internalDate: meta.internalDate });
            }
          }
          return sink.totals;
        }, { rawCopy: false });
        return { ...totals, kind };
      } finally {
        key.fill(0);
        removeIfExists(copy);
      }
    }
  }
}
