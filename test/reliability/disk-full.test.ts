// Disk full: the data dir on an 8 MB tmpfs (root only; skipped with the reason otherwise). When the disk
// fills up, SMTP answers 452 (try again later) for unlocked and locked mailboxes alike, IMAP APPEND answers
// NO, what was stored stays readable, nothing is corrupted; once space returns, mail flows again and every
// message that was acknowledged before, during and after is there.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RawImap } from '../helpers/imap-raw.js';
import { RELIABILITY_DOMAIN, checkIntegrity, createInstance, messageIdsByFolder, tinyMessage, type Instance } from '../helpers/reliability-harness.js';
import { waitForInboxCount } from '../helpers/imap-wait.js';
import { Secrets, privacyLeaks } from '../helpers/reliability-privacy.js';
import { smtpDialogue } from '../integration/mx-fixture.js';

let mountPoint: string | null = null;

function mountTmpfs(): string | { skip: string } {
  if (process.platform !== 'linux') return { skip: 'tmpfs mounts need Linux' };
  if (process.getuid?.() !== 0) return { skip: 'not running as root: cannot mount a small tmpfs for the data dir' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-diskfull-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    fs.rmdirSync(dir);
    return { skip: `mount -t tmpfs failed (${String((error as { stderr?: Buffer }).stderr ?? error).trim()})` };
  }
  mountPoint = dir;
  return dir;
}

after(() => {
  if (!mountPoint) return;
  try {
    execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
  } catch {
    /* already gone */
  }
  fs.rmSync(mountPoint, { recursive: true, force: true });
});

/** Writes a filler file until the file system is full; returns its path. */
function fillDisk(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    fs.closeSync(fd);
  }
  // The last partial chunk may have left a few bytes: fill those too.
  try {
    fs.appendFileSync(filler, Buffer.alloc(4096));
  } catch {
    /* full */
  }
  return filler;
}

/** One message over a raw SMTP dialogue; returns the final reply (250 … / 452 …). */
async function send(instance: Instance, to: string, raw: Buffer): Promise<string> {
  const replies = await smtpDialogue(instance.ports.smtp, ['EHLO client.rel.test', 'MAIL FROM:<sender@sender.rel.test>', `RCPT TO:<${to}>`, 'DATA', `${raw.toString('latin1').replace(/\r\n$/, '')}\r\n.`, 'QUIT']);
  // replies: greeting, EHLO, MAIL, RCPT, DATA(354), final, QUIT
  const rcpt = replies[3] ?? '';
  if (!rcpt.startsWith('250')) return rcpt;
  return replies[5] ?? '';
}

test('disk full: SMTP says 452, APPEND says NO, nothing is corrupted, and mail flows again when space returns', async (t) => {
  const mounted = mountTmpfs();
  if (typeof mounted !== 'string') {
    process.stdout.write(`# skipped: ${mounted.skip}\n`);
    t.skip(mounted.skip);
    return;
  }
  const open = `full@${RELIABILITY_DOMAIN}`;
  const locked = `fullq@${RELIABILITY_DOMAIN}`;
  const instance = await createInstance({ aliases: [open, locked], dir: path.join(mounted, 'data') });
  const secrets = new Secrets().add(open, locked, ...instance.passwords.values());
  const acked = new Map<string, string>();
  const remember = (to: string, m: ReturnType<typeof tinyMessage>): void => {
    secrets.add(m.subject, m.token);
    acked.set(m.messageId, to);
  };
  try {
    await instance.start();
    const session = await RawImap.connect(instance.ports.imap);
    assert.match((await session.command(`LOGIN "${open}" "${instance.passwords.get(open)}"`, 30_000)).tagged, /^\S+ OK/);
    assert.match((await session.command('SELECT INBOX')).tagged, /^\S+ OK/);
    for (const to of [open, locked, open, locked]) {
      const m = tinyMessage(to, 'before');
      assert.match(await send(instance, to, m.raw), /^250/, 'delivery works before the disk fills');
      remember(to, m);
    }

    const filler = fillDisk(mounted);
    const outcomes: string[] = [];
    for (const to of [open, locked]) {
      // The first attempts may still fit in what SQLite has already allocated: keep going until refused.
      for (let i = 0; i < 40; i++) {
        const m = tinyMessage(to, `full ${i}`);
        secrets.add(m.subject, m.token);
        const reply = await send(instance, to, m.raw);
        if (reply.startsWith('250')) {
          remember(to, m);
          continue;
        }
        outcomes.push(reply);
        assert.match(reply, /^452/, `a full disk is a temporary failure (452), not a loss or a hard bounce: ${reply}`);
        break;
      }
    }
    assert.equal(outcomes.length, 2, 'both the unlocked and the locked mailbox refused mail while the disk was full');
    const big = tinyMessage(open, 'append full');
    secrets.add(big.subject, big.token);
    const append = await session.commandWithLiteral('APPEND INBOX', Buffer.concat([big.raw, Buffer.alloc(256 * 1024, 0x41)]));
    assert.match(append.tagged, /^\S+ NO/, `APPEND on a full disk: ${append.tagged}`);
    assert.match((await session.command('FETCH 1:* (FLAGS ENVELOPE)', 30_000)).tagged, /^\S+ OK/, 'stored mail stays readable');
    assert.equal(instance.child?.exitCode, null, 'the server is still running');

    fs.rmSync(filler);
    for (const to of [open, locked]) {
      const m = tinyMessage(to, 'after');
      assert.match(await send(instance, to, m.raw), /^250/, 'delivery works again once space returns');
      remember(to, m);
    }
    const again = tinyMessage(open, 'append after');
    secrets.add(again.subject, again.token);
    assert.match((await session.commandWithLiteral('APPEND INBOX', again.raw)).tagged, /^\S+ OK/, 'APPEND works again');
    acked.set(again.messageId, open);
    session.close();

    for (const to of [open, locked]) {
      // The login answers at once; mail sealed for `locked` drains behind it.
      await waitForInboxCount(instance.ports.imap, to, instance.passwords.get(to)!, [...acked].filter(([, who]) => who === to).length);
      const ids = new Set((await messageIdsByFolder(instance.ports.imap, to, instance.passwords.get(to)!)).get('INBOX'));
      const missing = [...acked].filter(([id, who]) => who === to && !ids.has(id));
      assert.deepEqual(missing, [], `every acknowledged message to ${to === open ? 'the unlocked' : 'the locked'} mailbox is there`);
    }
    process.stdout.write(`# refused while full: ${outcomes.join(' | ')}\n`);
    await instance.stop('SIGTERM');
    assert.deepEqual(await checkIntegrity(instance), []);
    assert.deepEqual(privacyLeaks([instance.dir], instance.logs, secrets), []);
  } finally {
    await instance.cleanup();
    fs.rmSync(instance.dir, { recursive: true, force: true });
  }
});
