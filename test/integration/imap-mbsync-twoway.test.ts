// mbsync (isync) syncing both ways with Sync All over IMAPS: messages made locally are APPENDed byte for byte,
// messages on the server arrive byte for byte, and flags set on either side meet on the other (RFC 3501 §6.3.11
// APPEND, §6.4.6 STORE; mbsync relies on UIDPLUS, RFC 4315).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Mailbox } from '../../server/mailbox/types.js';
import { generateCorpus } from '../helpers/corpus.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';
import { writeMbsyncRc } from '../helpers/mbsync.js';
import { run } from '../helpers/run.js';

const hasMbsync = fs.existsSync('/usr/bin/mbsync');
let fx: ImapFixture;
let mailbox: Mailbox;
let work: string;
let local: string;
let rc: string;

/** Message bytes as both sides hold them, compared without mbsync's own X-TUID header and line-end style. */
function normalised(bytes: Buffer): string {
  return bytes.toString('latin1').replace(/^X-TUID: [^\n]*\r?\n/m, '').replace(/\r\n/g, '\n');
}

function localFiles(): string[] {
  return ['cur', 'new'].flatMap((sub) => {
    const dir = path.join(local, 'Twoway', sub);
    return fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => path.join(dir, f)) : [];
  });
}

async function sync(): Promise<void> {
  const result = await run('mbsync', ['-c', rc, '-a'], { timeoutMs: 120_000 });
  assert.equal(result.status, 0, `${result.stdout.toString()}\n${result.stderr.toString()}`);
}

before(async () => {
  if (!hasMbsync) return;
  fx = await startImapFixture({ logLevel: 'warn' });
  const user = await fx.addUser('twoway');
  mailbox = await fx.mailboxOf(user.address, user.password);
  mailbox.createFolder('Twoway');
  for (const m of generateCorpus(6, 41)) await mailbox.append('Twoway', m.raw, { internalDate: m.date });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  local = path.join(work, 'Maildir');
  rc = writeMbsyncRc(fx, work, user, ['Patterns Twoway', 'Create Both', 'Expunge Both', 'Sync All']);
});

after(async () => {
  if (!hasMbsync) return;
  await fx.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('IMAP with mbsync, both ways', { skip: hasMbsync ? false : 'mbsync (Debian package isync) is not installed' }, () => {
  it('pushes local messages byte-identical, pulls server messages byte-identical, and flags meet both ways', async () => {
    await sync();
    const pulled = localFiles();
    assert.equal(pulled.length, 6);
    const served = await Promise.all(mailbox.listMessages('Twoway').map((m) => mailbox.readMessage('Twoway', m.uid)));
    assert.deepEqual(pulled.map((f) => normalised(fs.readFileSync(f))).sort(), served.map(normalised).sort());

    // Two new local messages, a \Seen set locally (Maildir flag S) and a \Flagged set on the server.
    const made = generateCorpus(2, 77).map((m) => m.raw);
    made.forEach((raw, i) => fs.writeFileSync(path.join(local, 'Twoway', 'new', `${Date.now()}.local${i}.host`), raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1'));
    const seenLocally = pulled[0] as string;
    const seenTarget = seenLocally.includes(':2,') ? `${seenLocally}S` : `${seenLocally.replace(/\/new\//, '/cur/')}:2,S`;
    fs.renameSync(seenLocally, seenTarget);
    const seenText = normalised(fs.readFileSync(seenTarget));
    const first = mailbox.listMessages('Twoway')[1]!;
    mailbox.store('Twoway', [[first.uid, first.uid]], 'add', ['\\Flagged']);
    const flaggedText = normalised(await mailbox.readMessage('Twoway', first.uid));

    await sync();
    const now = mailbox.listMessages('Twoway');
    assert.equal(now.length, 8, 'the two local messages were appended');
    const texts = await Promise.all(now.map(async (m) => ({ meta: m, text: normalised(await mailbox.readMessage('Twoway', m.uid)) })));
    for (const raw of made) assert.ok(texts.some((t) => t.text === normalised(raw)), 'a pushed message is byte-identical on the server');
    assert.ok(texts.find((t) => t.text === seenText)?.meta.flags.includes('\\Seen'), 'the local \\Seen reached the server');
    const flaggedLocal = localFiles().find((f) => normalised(fs.readFileSync(f)) === flaggedText);
    assert.ok(flaggedLocal && /:2,[A-Z]*F/.test(flaggedLocal), `the server \\Flagged reached the Maildir: ${flaggedLocal}`);
    assert.equal(localFiles().length, 8);
  });
});
