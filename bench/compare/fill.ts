// Large mailboxes for the scale workloads, filled fast and the same way for every server:
//   - one corpus of eml files from the shared gen-corpus.py, generated once and reused for every server
//     and every size (message k is the same bytes everywhere, and flagged \Seen unless k is a multiple of 3);
//   - Sealpost: straight into the encrypted mailbox through the store API (Accounts login in-process, before
//     `serve` starts), appends 200 in flight so they share group commits — the same path bench/imap.ts uses;
//   - Dovecot: Maildir files put into the user's Maildir/cur, named as Dovecot names them (<time>.M<n>P<pid>.<host>,
//     S=<size>,W=<size>:2,<flags>), hard-linked from the corpus when the file system allows, else copied.
//     Dovecot indexes them at the first SELECT, which callers run as an unmeasured warm-up.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AppContext } from '../../server/context.js';
import { closeMimeWorkers } from '../../server/mime/index.js';
import { genCorpusScript } from '../shared.js';

const run = promisify(execFile);

/** The eml files of a generated corpus, in message order (index 0 is message 1). */
export interface ScaleCorpus {
  readonly dir: string;
  readonly files: readonly string[];
  readonly source: string;
}

/** Message k (1-based) carries \Seen unless k is a multiple of 3: a third of each mailbox is unseen. */
export const seen = (k: number): boolean => k % 3 !== 0;

/** Writes `count` messages as eml files under `dir` (gen-corpus.py, or the test generator when it is missing). */
export async function generateScaleCorpus(count: number, dir: string, seed = 2): Promise<ScaleCorpus> {
  const script = genCorpusScript();
  const files = Array.from({ length: count }, (_, i) => path.join(dir, `${String(i + 1).padStart(6, '0')}.eml`));
  if (script) {
    await run('python3', [script, String(count), dir, '--format', 'eml', '--seed', String(seed)], { maxBuffer: 64 * 1024 * 1024, timeout: 30 * 60_000 });
    return { dir, files, source: 'gen-corpus.py' };
  }
  const { generateCorpus } = await import('../../test/helpers/corpus.js');
  fs.mkdirSync(dir, { recursive: true });
  for (let done = 0; done < count; ) {
    const batch = generateCorpus(Math.min(1000, count - done), seed + done);
    for (const m of batch) fs.writeFileSync(files[done++]!, m.raw);
  }
  return { dir, files, source: 'test/helpers/corpus.ts' };
}

/**
 * Fills the alias's INBOX up to the first `to` messages of the corpus (what it holds already counts), in-process,
 * 200 appends in flight. Returns how many it appended.
 */
export async function fillSealpost(ctx: AppContext, address: string, password: string, corpus: ScaleCorpus, to: number): Promise<number> {
  const session = await ctx.accounts.authenticate(address, password, { ip: '127.0.0.1', protocol: 'cli' });
  const from = session.mailbox.status('INBOX').messages;
  try {
    for (let i = from; i < to; i += 200) {
      const batch = corpus.files.slice(i, Math.min(to, i + 200));
      const raws = await Promise.all(batch.map((f) => fs.promises.readFile(f)));
      await Promise.all(raws.map((raw, j) => session.mailbox.append('INBOX', raw, { flags: seen(i + j + 1) ? ['\\Seen'] : [], internalDate: new Date(1_700_000_000_000 + (i + j) * 60_000) })));
    }
  } finally {
    session.release();
    // The parser's worker threads would otherwise outlive the fill in the benchmark process.
    await closeMimeWorkers();
  }
  return Math.max(0, to - from);
}

/**
 * Puts messages [from, to) of the corpus into `maildir`/cur (creating the Maildir when needed) and hands the
 * Maildir to `owner` (the user Dovecot's mail processes run as).
 */
export async function fillMaildir(maildir: string, corpus: ScaleCorpus, to: number, from = 0, owner = 'vmail:vmail'): Promise<void> {
  for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(maildir, sub), { recursive: true });
  const cur = path.join(maildir, 'cur');
  let link = true;
  for (let i = from; i < to; i++) {
    const k = i + 1;
    const source = corpus.files[i]!;
    const size = fs.statSync(source).size;
    // The corpus is CRLF already, so the file size is also the RFC 822 (W=) size.
    const name = `${1_700_000_000 + i * 60}.M${k}P1.bench,S=${size},W=${size}:2,${seen(k) ? 'S' : ''}`;
    const target = path.join(cur, name);
    if (link) {
      try {
        fs.linkSync(source, target);
        continue;
      } catch {
        link = false;
      }
    }
    fs.copyFileSync(source, target);
  }
  await run('chown', ['-R', owner, maildir]);
}
