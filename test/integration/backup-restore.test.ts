// Restore: replace (sessions told, current file kept as a pre-restore generation), one folder back
// into the live mailbox, and kill -9 at every step of a replace leaves a working mailbox.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { openMailboxStore } from '../../server/mailbox/index.js';
import { snapshotMailbox, restoreReplace, restoreFolders, listGenerations, backupEvents, type RestoreStep } from '../../server/backup/index.js';
import { backupPaths } from '../../server/backup/paths.js';
import { generateCorpus } from '../helpers/corpus.js';
import { mailboxFixture, folderBytes, needlesOf } from './backup-fixture.js';
import { findPlaintext } from '../helpers/privacy.js';

test('restore replaces the mailbox with a generation and keeps what it replaced', async () => {
  const fx = await mailboxFixture({ inbox: 8, archive: 4 });
  try {
    const before = await folderBytes(fx.mailbox, 'INBOX');
    const { generation } = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true });
    for (const m of generateCorpus(3, 42)) await fx.mailbox.append('INBOX', m.raw);
    fx.mailbox.deleteFolder('Archive/2024');

    const replacing: string[] = [];
    const onReplacing = (e: { mailboxId: string }): void => {
      replacing.push(e.mailboxId);
    };
    backupEvents.on('replacing', onReplacing);
    const result = await restoreReplace({ dataDir: fx.dir, mailboxId: fx.id, generationId: generation.id, key: fx.key, store: fx.store });
    backupEvents.off('replacing', onReplacing);
    assert.deepEqual(replacing, [fx.id], 'live sessions were told to close');
    assert.equal(fx.store.isOpen(fx.id), false, 'the old handle was closed before the swap');

    const mailbox = await fx.reopen();
    assert.deepEqual(await folderBytes(mailbox, 'INBOX'), before);
    assert.equal(mailbox.status('Archive/2024').messages, 4, 'the deleted folder is back');

    const pre = listGenerations(fx.dir, fx.id).find((g) => g.id === result.preRestore);
    assert.equal(pre?.kind, 'pre-restore');
    // The pre-restore generation holds the state before the restore: 11 in INBOX, no Archive/2024.
    await fx.store.close(fx.id);
    const { withReadonlyCopy } = await import('../../server/backup/index.js');
    const preInbox = await withReadonlyCopy(fx.dir, backupPaths(fx.dir).generation(fx.id, result.preRestore), fx.key, (mb) => folderBytes(mb, 'INBOX'));
    assert.equal(preInbox.length, 11);
    assert.deepEqual(findPlaintext(backupPaths(fx.dir).layout.backupsDir, needlesOf(fx.corpus)), []);
  } finally {
    await fx.cleanup();
  }
});

test('restore of one folder copies it back into the live mailbox, once', async () => {
  const fx = await mailboxFixture({ inbox: 5, archive: 6 });
  try {
    const archived = await folderBytes(fx.mailbox, 'Archive/2024');
    const { generation } = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true });
    fx.mailbox.deleteFolder('Archive/2024');
    const newMail = generateCorpus(1, 77)[0];
    await fx.mailbox.append('INBOX', newMail!.raw);

    const totals = await restoreFolders({ dataDir: fx.dir, mailboxId: fx.id, generationId: generation.id, key: fx.key, folders: ['archive/2024'], target: fx.mailbox });
    assert.deepEqual({ imported: totals.imported, skipped: totals.skipped }, { imported: 6, skipped: 0 });
    assert.deepEqual(await folderBytes(fx.mailbox, 'Archive/2024'), archived);
    const flags = fx.mailbox.listMessages('Archive/2024').map((m) => [...m.flags].sort());
    assert.ok(flags.every((f) => f.includes('\\Seen') && f.includes('$Important')), 'flags come back too');
    assert.equal(fx.mailbox.status('INBOX').messages, 6, 'mail that arrived since is untouched');

    const again = await restoreFolders({ dataDir: fx.dir, mailboxId: fx.id, generationId: generation.id, key: fx.key, folders: ['Archive/2024'], target: fx.mailbox });
    assert.deepEqual({ imported: again.imported, skipped: again.skipped }, { imported: 0, skipped: 6 }, 'duplicates are skipped');
    await assert.rejects(
      restoreFolders({ dataDir: fx.dir, mailboxId: fx.id, generationId: generation.id, key: fx.key, folders: ['Nope'], target: fx.mailbox }),
      /no folder "Nope"/,
    );
  } finally {
    await fx.cleanup();
  }
});

const restoreChild = fileURLToPath(new URL('./backup-restore-child.ts', import.meta.url));

/** Runs a restore in a child process paused at `step`, SIGKILLs it there, and resolves when it is dead. */
function killRestoreAt(dataDir: string, mailboxId: string, generationId: string, key: Buffer, step: RestoreStep): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', restoreChild, dataDir, mailboxId, generationId], {
      env: { ...process.env, SEALPOST_TEST: '1', SEALPOST_TEST_RESTORE_PAUSE: step, TEST_MAILBOX_KEY: key.toString('hex') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes(`restore-paused:${step}`)) child.kill('SIGKILL');
    });
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`restore child ended (${code}) before ${step}: ${out} ${err}`));
    });
  });
}

test('kill -9 at any step of a restore leaves a working mailbox, and the next restore succeeds', async () => {
  const fx = await mailboxFixture({ inbox: 6, archive: 2 });
  try {
    const { generation } = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true });
    for (const m of generateCorpus(4, 11)) await fx.mailbox.append('INBOX', m.raw);
    await fx.store.close(fx.id);
    for (const step of ['staged', 'kept', 'wal-removed', 'swapped'] as const) {
      await killRestoreAt(fx.dir, fx.id, generation.id, fx.key, step);
      // The alias opens its mailbox (a fresh process-like store) and sees the old (10) or restored (6) INBOX.
      const store = openMailboxStore(fx.dir);
      const mailbox = await store.open(fx.id, fx.key);
      const n = mailbox.status('INBOX').messages;
      assert.ok(n === 6 || n === 10, `after a kill at ${step}: INBOX has ${n}`);
      assert.equal(mailbox.status('Archive/2024').messages, 2);
      // …and it is writable.
      mailbox.createFolder(`Probe-${step}`);
      mailbox.deleteFolder(`Probe-${step}`);
      await store.closeAll();
    }
    const result = await restoreReplace({ dataDir: fx.dir, mailboxId: fx.id, generationId: generation.id, key: fx.key });
    assert.equal(result.restored, generation.id);
    const mailbox = await fx.reopen();
    assert.equal(mailbox.status('INBOX').messages, 6);
  } finally {
    await fx.cleanup();
  }
});

test('a restore refuses a generation id that does not exist, and a wrong key, leaving the mailbox alone', async () => {
  const fx = await mailboxFixture({ inbox: 2, archive: 0 });
  try {
    const { generation } = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true });
    await assert.rejects(restoreReplace({ dataDir: fx.dir, mailboxId: fx.id, generationId: '20990101T000000.000Z', key: fx.key }), /No local backup generation/);
    await assert.rejects(restoreReplace({ dataDir: fx.dir, mailboxId: fx.id, generationId: 'latest', key: fx.key }), /not a generation id/);
    const wrong = Buffer.alloc(32, 1);
    await assert.rejects(restoreReplace({ dataDir: fx.dir, mailboxId: fx.id, generationId: generation.id, key: wrong, store: fx.store }), /does not open with the current password/);
    assert.equal((await fx.reopen()).status('INBOX').messages, 2);
    assert.equal(randomUUID().length, 36);
  } finally {
    await fx.cleanup();
  }
});
