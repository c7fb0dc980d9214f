// mbsync (isync) pulls a 2,000-message mailbox over IMAPS into a Maildir: every message byte-identical,
// and a second run transfers nothing. The mailbox is filled through the store API (fast), not over IMAP.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateCorpus } from '../helpers/corpus.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';
import { writeMbsyncRc } from '../helpers/mbsync.js';
import { run } from '../helpers/run.js';

const COUNT = 2000;
let fx: ImapFixture;
let work: string;
let rc: string;
const hasMbsync = fs.existsSync('/usr/bin/mbsync');

/**
 * mbsync stores Maildir files with LF line ends and adds its own X-TUID header (documented isync behaviour);
 * undo exactly that to compare with the bytes the server sent.
 */
function asServed(file: Buffer): Buffer {
  const text = file.toString('latin1').replace(/^X-TUID: [^\n]*\n/m, '');
  return Buffer.from(text.replace(/\n/g, '\r\n'), 'latin1');
}

function maildirFiles(dir: string): string[] {
  return ['cur', 'new'].flatMap((sub) => {
    const p = path.join(dir, sub);
    return fs.existsSync(p) ? fs.readdirSync(p).map((f) => path.join(p, f)) : [];
  });
}

before(async () => {
  if (!hasMbsync) return;
  fx = await startImapFixture({ logLevel: 'info' });
  const user = await fx.addUser('sync');
  const mailbox = await fx.mailboxOf(user.address, user.password);
  const t0 = Date.now();
  const corpus = generateCorpus(COUNT, 23);
  for (let i = 0; i < corpus.length; i += 50) {
    await Promise.all(corpus.slice(i, i + 50).map((m) => mailbox.append('INBOX', m.raw, { internalDate: m.date })));
  }
  console.log(`# appended ${COUNT} messages through the store in ${Date.now() - t0} ms`);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  rc = writeMbsyncRc(fx, work, user, ['Patterns INBOX', 'Create Near', 'Expunge None', 'Sync Pull']);
});

after(async () => {
  if (!hasMbsync) return;
  await fx.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('IMAP with mbsync', { skip: hasMbsync ? false : 'mbsync (Debian package isync) is not installed' }, () => {
  it('pulls 2,000 messages byte-identical, and a second run transfers nothing', async () => {
    const corpus = new Map(generateCorpus(COUNT, 23).map((m) => [m.token, m.raw]));
    const t0 = Date.now();
    const first = await run('mbsync', ['-c', rc, '-V', 'sp'], { timeoutMs: 120_000 });
    console.log(`# first mbsync run: ${Date.now() - t0} ms`);
    assert.equal(first.status, 0, first.stderr + first.stdout.toString());
    const files = maildirFiles(path.join(work, 'Maildir', 'INBOX'));
    assert.equal(files.length, COUNT);
    const seen = new Set<string>();
    for (const file of files) {
      const bytes = asServed(fs.readFileSync(file));
      const token = /zq\d{6}/.exec(bytes.toString('latin1'))?.[0] ?? '';
      const original = corpus.get(token);
      assert.ok(original, `${file} is one of ours`);
      assert.ok(bytes.equals(original), `message ${token} byte-identical`);
      seen.add(token);
    }
    assert.equal(seen.size, COUNT);

    const before = new Map(files.map((f) => [path.basename(f), fs.statSync(f).mtimeMs]));
    // -Dn prints the IMAP conversation: the second run must not fetch a single message body.
    const second = await run('mbsync', ['-c', rc, '-Dn', 'sp'], { timeoutMs: 60_000 });
    assert.equal(second.status, 0, second.stderr + fx.logs.filter((l) => /"level":[3-6]0/.test(l) && /imap/i.test(l)).slice(-5).join('\n'));
    const sent = (second.stdout.toString() + second.stderr).split('\n').filter((l) => l.startsWith('>>> '));
    assert.ok(sent.some((l) => /UID FETCH 1:\d+ \(UID FLAGS\)/.test(l)), sent.join('\n'));
    assert.ok(!sent.some((l) => /BODY|RFC822|APPEND|STORE/.test(l)), sent.join('\n'));
    const after = maildirFiles(path.join(work, 'Maildir', 'INBOX'));
    assert.equal(after.length, COUNT);
    for (const f of after) assert.equal(before.get(path.basename(f)), fs.statSync(f).mtimeMs, 'untouched');
  });
});
