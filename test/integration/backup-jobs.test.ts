// The daily job: every alias backed up (unlocked → verified snapshot, locked → copy), unchanged ones
// skipped on the next run, retention applied, and the service starts and stops with a schedule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { openContext, closeContext } from '../../server/app.js';
import { runScheduledBackups, createJobsService } from '../../server/jobs/index.js';
import { listGenerations, DEFAULT_RETENTION } from '../../server/backup/index.js';

const TEST_KDF = { algorithm: 'argon2id', memoryKiB: 8192, iterations: 1, parallelism: 1 } as const;

test('the scheduled run backs up every alias once, and nothing new when nothing changed', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  const env = { SEALPOST_APP_KEY: randomBytes(32).toString('hex'), SEALPOST_KEYCHAIN: 'off', SEALPOST_TEST: '1', SEALPOST_BACKUP_TIME: '03:15', PATH: process.env.PATH };
  const ctx = await openContext({ env, flags: { data: dir } }, { logger: pino({ level: 'silent' }), kdf: TEST_KDF });
  try {
    ctx.directory.addDomain('example.test');
    const alice = await ctx.accounts.createAlias('alice@example.test', null);
    const bob = await ctx.accounts.createAlias('bob@example.test', null);
    const session = await ctx.accounts.authenticate('alice@example.test', alice.password as string, { ip: '127.0.0.1', protocol: 'imap' });
    await session.mailbox.append('INBOX', Buffer.from('Subject: hi\r\nMessage-ID: <j1@x>\r\n\r\nzqjob001\r\n'));

    const first = await runScheduledBackups(ctx, { time: '03:15', retention: DEFAULT_RETENTION, enabled: true });
    assert.deepEqual({ mailboxes: first.mailboxes, created: first.created, failed: first.failed }, { mailboxes: 2, created: 2, failed: 0 });
    const aliceGen = listGenerations(dir, alice.alias.mailboxId);
    const bobGen = listGenerations(dir, bob.alias.mailboxId);
    assert.deepEqual([aliceGen[0]?.verifiedWithKey, aliceGen[0]?.kind], [true, 'scheduled'], 'unlocked alice: verified snapshot');
    assert.deepEqual([bobGen[0]?.verifiedWithKey, bobGen[0]?.kind], [false, 'scheduled'], 'locked bob: copy without the password');

    const second = await runScheduledBackups(ctx, { time: '03:15', retention: DEFAULT_RETENTION, enabled: true });
    assert.deepEqual({ created: second.created, unchanged: second.unchanged }, { created: 0, unchanged: 2 });
    session.release();

    const jobs = createJobsService(ctx);
    assert.deepEqual(await jobs.start(), [], 'no listeners');
    await jobs.stop();
  } finally {
    await closeContext(ctx);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
