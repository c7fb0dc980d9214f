// What a restore leaves in the mailbox file for clients that resynchronise by MODSEQ (RFC 7162 CONDSTORE /
// QRESYNC) rather than by listing every UID: real encrypted files through the mailbox store and the real
// restore function. (The client-level checks with imapflow and poplib: restore-uid-reuse.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { snapshotMailbox, restoreReplace } from '../../server/backup/index.js';
import { backupPaths } from '../../server/backup/paths.js';
import type { Mailbox } from '../../server/mailbox/types.js';
import { generateCorpus } from '../helpers/corpus.js';
import { mailboxFixture } from './backup-fixture.js';

async function bytesByUid(mailbox: Mailbox, folder: string): Promise<Map<number, Buffer>> {
  const out = new Map<number, Buffer>();
  for (const m of mailbox.listMessages(folder)) out.set(m.uid, await mailbox.readMessage(folder, m.uid));
  return out;
}

test('RFC 3501 §2.3.1.1 / RFC 7162 §3.2.10: a restore keeps the UIDs the live folder still holds, brings expunged mail back above UIDNEXT, and journals the rest above the live HIGHESTMODSEQ', async () => {
  const fx = await mailboxFixture({ inbox: 6, archive: 3 });
  try {
    const atGeneration = await bytesByUid(fx.mailbox, 'INBOX');
    const archive = fx.mailbox.status('Archive/2024');
    const { generation } = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true });

    // After the generation: two deliveries (UIDs 7, 8), a flag on 3, UID 2 expunged.
    for (const m of generateCorpus(2, 1234)) await fx.mailbox.append('INBOX', m.raw);
    fx.mailbox.store('INBOX', [[3, 3]], 'add', ['\\Flagged']);
    fx.mailbox.store('INBOX', [[2, 2]], 'add', ['\\Deleted']);
    assert.deepEqual(fx.mailbox.expunge('INBOX'), [2]);
    const live = fx.mailbox.status('INBOX');
    const liveBytes = await bytesByUid(fx.mailbox, 'INBOX');
    assert.deepEqual([...liveBytes.keys()], [1, 3, 4, 5, 6, 7, 8]);

    await restoreReplace({ dataDir: fx.dir, mailboxId: fx.id, generationId: generation.id, key: fx.key, store: fx.store });
    const mailbox = await fx.reopen();
    const inbox = mailbox.status('INBOX');
    assert.equal(inbox.uidValidity, live.uidValidity, 'one history: INBOX keeps its UIDVALIDITY');
    const restored = await bytesByUid(mailbox, 'INBOX');
    assert.deepEqual([...restored.keys()], [1, 3, 4, 5, 6, 9], 'UIDs the live INBOX held keep their message; UID 2 is not reused, its message is UID 9');
    for (const uid of [1, 3, 4, 5, 6]) assert.ok(restored.get(uid)!.equals(liveBytes.get(uid)!), `UID ${uid} names the same message as before the restore`);
    assert.ok(restored.get(9)!.equals(atGeneration.get(2)!), 'the expunged message came back as a new UID at the live UIDNEXT');
    assert.equal(inbox.uidNext, 10);
    assert.ok(inbox.highestModseq > live.highestModseq, 'HIGHESTMODSEQ went up, never back');

    // A client that synced at the live HIGHESTMODSEQ learns exactly what changed.
    const changes = mailbox.changesSince('INBOX', live.highestModseq);
    assert.ok(changes.every((c) => c.modseq > live.highestModseq));
    const kinds = (kind: string): number[] => changes.filter((c) => c.kind === kind).map((c) => c.uid).sort((a, b) => a - b);
    assert.deepEqual(kinds('expunge'), [2, 7, 8], 'the mail delivered after the generation is reported gone (VANISHED), and UID 2 again');
    assert.deepEqual(kinds('append'), [9]);
    assert.deepEqual(kinds('flags'), [3], 'only the message whose flags differ from the live ones');
    assert.deepEqual(mailbox.listMessages('INBOX', [[3, 3]])[0]!.flags.includes('\\Flagged'), false, 'its flags are the generation\'s');
    assert.ok(mailbox.listMessages('INBOX', [[3, 3]])[0]!.modseq > live.highestModseq);

    const archived = mailbox.status('Archive/2024');
    assert.deepEqual([archived.uidValidity, archived.uidNext, archived.highestModseq], [archive.uidValidity, archive.uidNext, archive.highestModseq], 'a folder untouched since the generation is left as it is');

    // New mail after the restore: above every UID handed out.
    const [next] = generateCorpus(1, 4321);
    assert.equal((await mailbox.append('INBOX', next!.raw)).uid, 10);
  } finally {
    await fx.cleanup();
  }
});

test('RFC 3501 §2.3.1.1: when the live file cannot be read with the key, every restored folder gets a UIDVALIDITY above all it used', async () => {
  const fx = await mailboxFixture({ inbox: 3, archive: 2 });
  try {
    const before = new Map(fx.mailbox.listFolders().map((f) => [f.path, f.uidValidity]));
    const highest = Math.max(...before.values());
    const { generation } = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true });
    await fx.store.close(fx.id);
    // The live file is damaged (what a restore is often for): nothing it handed out can be read.
    const live = backupPaths(fx.dir).layout.mailboxFile(fx.id);
    fs.writeFileSync(live, randomBytes(fs.statSync(live).size));

    await restoreReplace({ dataDir: fx.dir, mailboxId: fx.id, generationId: generation.id, key: fx.key });
    const mailbox = await fx.reopen();
    for (const f of mailbox.listFolders()) assert.ok(f.uidValidity > highest, `${f.path}: ${f.uidValidity} > ${highest}`);
    assert.equal(mailbox.status('INBOX').messages, 3);
    const created = mailbox.createFolder('Fresh');
    assert.ok(created.uidValidity > Math.max(...mailbox.listFolders().filter((f) => f.path !== 'Fresh').map((f) => f.uidValidity)), 'later folders stay above');
  } finally {
    await fx.cleanup();
  }
});
