// Remote sync through the real rclone against a loopback s3rver: push, list, restore, remote
// retention, a wrong secret, and no plaintext (nor the address) in any object.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Directory } from '../../server/directory/index.js';
import { SecretStore } from '../../server/keychain/index.js';
import { Remotes, RemoteError, findRclone } from '../../server/remote/index.js';
import { snapshotMailbox, listGenerations, restoreReplace } from '../../server/backup/index.js';
import { backupPaths } from '../../server/backup/paths.js';
import { generateCorpus } from '../helpers/corpus.js';
import { mailboxFixture, needlesOf, folderBytes, type MailboxFixture } from './backup-fixture.js';
import { findPlaintext, regularFilesUnder } from '../helpers/privacy.js';
import { startS3rver, type S3rver } from './remote-fixture.js';

const rclone = findRclone();
let s3: S3rver;

before(async () => {
  if (rclone) s3 = await startS3rver();
});
after(async () => {
  await s3?.stop();
});

function remotesFor(fx: MailboxFixture, timeoutSeconds?: number): { remotes: Remotes; directory: Directory } {
  const appKey = randomBytes(32);
  const directory = Directory.open(path.join(fx.dir, 'sealpost.db'), appKey);
  const env = { ...process.env, SEALPOST_KEYCHAIN: 'off' };
  const remotes = new Remotes({ dataDir: fx.dir, settings: directory, secrets: new SecretStore(fx.dir, appKey, env), env, ...(timeoutSeconds ? { timeoutSeconds } : {}) });
  return { remotes, directory };
}

test('push, list and restore a mailbox through rclone (R2 target on s3rver); objects are encrypted and named by uuid', { skip: rclone ? false : 'rclone not installed' }, async () => {
  const fx = await mailboxFixture({ inbox: 6, archive: 3 });
  const { remotes, directory } = remotesFor(fx);
  try {
    await remotes.add({ name: 'r2', kind: 'r2', bucket: s3.bucket, accessKeyId: s3.accessKeyId, endpoint: s3.endpoint }, s3.secret);
    assert.deepEqual((await remotes.test('r2')).target, 'r2');
    assert.match(String((remotes.describe()[0]?.lastTest as { summary?: string } | null)?.summary), /^The bucket answered: \d+ objects? under the prefix\.$/);
    // Two days apart, so the default remote retention (newest per day) keeps both.
    const g1 = (await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true, now: new Date(Date.now() - 86400_000) })).generation;
    const before = await folderBytes(fx.mailbox, 'INBOX');
    for (const m of generateCorpus(2, 31)) await fx.mailbox.append('INBOX', m.raw);
    const g2 = (await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true })).generation;

    const progress: number[] = [];
    const pushed = await remotes.push(fx.id, { onProgress: (p) => progress.push(p.bytes) });
    assert.deepEqual(pushed.uploaded, [g1.id, g2.id]);
    assert.deepEqual((await remotes.push(fx.id)).uploaded, [], 'a second push uploads nothing');
    assert.ok(listGenerations(fx.dir, fx.id).every((g) => g.remotes?.includes('r2')));

    const listed = await remotes.listBackups(fx.id);
    assert.deepEqual(listed.map((g) => g.id), [g1.id, g2.id]);
    assert.deepEqual(listed.map((g) => g.sha256), [g1.sha256, g2.sha256]);
    assert.ok(listed.every((g) => g.location === 'remote:r2' && g.verified));

    // Object names carry the mailbox uuid, never the address; no object holds plaintext mail.
    const objects = regularFilesUnder(s3.dataDir).map((f) => path.relative(s3.dataDir, f));
    assert.ok(objects.some((o) => o.includes(fx.id)), 'objects are under the mailbox uuid');
    assert.deepEqual(findPlaintext(s3.dataDir, needlesOf(fx.corpus)), []);

    // Lose the local backups, fetch g1 from the remote, restore it.
    fs.rmSync(backupPaths(fx.dir).dir(fx.id), { recursive: true });
    const fetched = await remotes.fetch(fx.id, g1.id);
    assert.equal(fetched.sha256, g1.sha256);
    await restoreReplace({ dataDir: fx.dir, mailboxId: fx.id, generationId: g1.id, key: fx.key, store: fx.store });
    assert.deepEqual(await folderBytes(await fx.reopen(), 'INBOX'), before);
  } finally {
    directory.close();
    await fx.cleanup();
  }
});

test('remote retention prunes old generations on the target', { skip: rclone ? false : 'rclone not installed' }, async () => {
  const fx = await mailboxFixture({ inbox: 1, archive: 0, seed: 3 });
  const { remotes, directory } = remotesFor(fx);
  try {
    await remotes.add({ name: 's3', kind: 's3', bucket: s3.bucket, accessKeyId: s3.accessKeyId, endpoint: s3.endpoint, region: 'us-east-1', pathStyle: true, prefix: 'retention-test', retention: { daily: 2, weekly: 0, monthly: 0, preRestoreDays: 0 } }, s3.secret);
    const extra = generateCorpus(3, 8);
    const backupOnDay = async (i: number): Promise<void> => {
      await fx.mailbox.append('INBOX', extra[i]!.raw);
      await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true, now: new Date(Date.UTC(2025, 0, 1 + i, 3)) });
    };
    await backupOnDay(0);
    await backupOnDay(1);
    assert.equal((await remotes.push(fx.id)).uploaded.length, 2);
    await backupOnDay(2);
    const result = await remotes.push(fx.id);
    const local = listGenerations(fx.dir, fx.id).map((g) => g.id);
    assert.deepEqual(result.uploaded, [local[2]]);
    assert.deepEqual(result.pruned, [local[0]], 'the oldest day is deleted from the target');
    assert.deepEqual((await remotes.listBackups(fx.id)).map((g) => g.id), local.slice(1));
    assert.deepEqual((await remotes.push(fx.id)).uploaded, [], 'a pruned generation is not uploaded again');
  } finally {
    directory.close();
    await fx.cleanup();
  }
});

// s3rver checks the access key id but not SigV4 signatures, so the wrong R2 *secret* itself is
// reproduced with SigV2 (which s3rver does verify): the same 403 SignatureDoesNotMatch real R2 sends.
test('a wrong secret or access key gives a clear error, and a silent endpoint times out instead of hanging', { skip: rclone ? false : 'rclone not installed' }, async () => {
  const fx = await mailboxFixture({ inbox: 1, archive: 0 });
  const { remotes, directory } = remotesFor(fx, 2);
  const silent = net.createServer(() => {}); // accepts connections, never answers
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true });
    await remotes.add({ name: 'badsecret', kind: 's3', bucket: s3.bucket, accessKeyId: s3.accessKeyId, endpoint: s3.endpoint, v2Auth: true }, 'not-the-secret');
    const refused = (e: unknown): boolean => e instanceof RemoteError && e.code === 'REMOTE_AUTH' && /refused the credentials: check the access key id and the secret/.test(e.message);
    await assert.rejects(remotes.test('badsecret'), refused);
    await assert.rejects(remotes.push(fx.id, { target: 'badsecret' }), refused);
    // the failed test is what the target's card and `remote list` show
    const card = remotes.describe().find((r) => r.name === 'badsecret') as { lastTest: { ok: boolean; summary: string; at: string } | null; lastPush: unknown };
    assert.equal(card.lastTest?.ok, false);
    assert.match(card.lastTest?.summary ?? '', /refused the credentials/);
    assert.ok(Date.parse(card.lastTest?.at ?? '') > Date.now() - 60_000);
    assert.equal(card.lastPush, null, 'a push of one mailbox is not a push of the target (pushBackups records those)');
    await remotes.add({ name: 'badkey', kind: 'r2', bucket: s3.bucket, accessKeyId: 'WRONGKEY', endpoint: s3.endpoint }, s3.secret);
    await assert.rejects(remotes.test('badkey'), refused);
    await remotes.add({ name: 'nobucket', kind: 'r2', bucket: 'no-such-bucket', accessKeyId: s3.accessKeyId, endpoint: s3.endpoint }, s3.secret);
    await assert.rejects(remotes.push(fx.id, { target: 'nobucket' }), /does not exist|failed/);
    // remote test writes a probe object, so a missing bucket fails it (a listing alone looks like an empty bucket).
    await assert.rejects(remotes.test('nobucket'), (e: unknown) => e instanceof RemoteError && e.code === 'REMOTE_BUCKET' && /Bucket "no-such-bucket" does not exist/.test(e.message));
    const port = (silent.address() as net.AddressInfo).port;
    await remotes.add({ name: 'silent', kind: 'r2', bucket: s3.bucket, accessKeyId: s3.accessKeyId, endpoint: `http://127.0.0.1:${port}` }, s3.secret);
    await assert.rejects(remotes.test('silent'), (e: unknown) => e instanceof RemoteError && /did not answer|Cannot reach/.test(e.message));
    await assert.rejects(remotes.add({ name: 'badkey', kind: 'r2', bucket: s3.bucket, accessKeyId: 'x', endpoint: s3.endpoint }, 'y'), /already exists/);
    await assert.rejects(remotes.add({ name: 'noacct', kind: 'r2', bucket: s3.bucket, accessKeyId: 'x' }, 'y'), /account id/);
  } finally {
    silent.close();
    directory.close();
    await fx.cleanup();
  }
});
