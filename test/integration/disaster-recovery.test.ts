// Disaster recovery of the whole appliance: the old machine backs up and pushes to S3 (s3rver, real
// rclone), including sealpost.db and outbound.sqlite; on a new machine, a fresh data dir with only the
// old app key and the remote rebuilds everything with `sealpost remote restore-all`, and the old alias
// passwords open the old mail (also mail that was still sealed in the queue).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { closeContext, openContext } from '../../server/app.js';
import { snapshotDirectory } from '../../server/backup/directory.js';
import type { AppContext } from '../../server/context.js';
import { silentLogger } from '../../server/log.js';
import { runCli, tempDataDir } from '../helpers/sealpost-cli.js';
import { startS3rver, type S3rver } from './remote-fixture.js';
import { findPlaintext } from '../helpers/privacy.js';

const PASSWORD = 'tidy-Orbit-9-walrus-Lantern';
const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';

function mail(subject: string, body: string): Buffer {
  return Buffer.from(`From: Carol <carol@elsewhere.test>\r\nTo: ${ALICE}\r\nSubject: ${subject}\r\nMessage-ID: <${crypto.randomUUID()}@elsewhere.test>\r\n\r\n${body}\r\n`);
}

async function withCtx<T>(env: NodeJS.ProcessEnv, fn: (ctx: AppContext) => Promise<T>): Promise<T> {
  const ctx = await openContext({ env }, { logger: silentLogger() });
  try {
    return await fn(ctx);
  } finally {
    await closeContext(ctx);
  }
}

describe('disaster recovery: remote restore-all', () => {
  let s3: S3rver;
  let oldMachine: ReturnType<typeof tempDataDir>;
  let newMachine: ReturnType<typeof tempDataDir>;
  const stored = mail('Stored before the crash', 'zq777777 kept in the mailbox');
  const queued = mail('Queued while locked', 'zq888888 sealed in the queue');
  let dkimBefore = '';
  /** Highest UIDVALIDITY the old machine handed out (any folder). */
  let oldUidValidity = 0;

  const cli = async (machine: ReturnType<typeof tempDataDir>, args: string[], stdin?: string) => {
    const r = await runCli([...args, '--data', machine.dir], { env: machine.env, ...(stdin !== undefined ? { stdin } : {}) });
    return r;
  };
  const ok = async (machine: ReturnType<typeof tempDataDir>, args: string[], stdin?: string): Promise<string> => {
    const r = await cli(machine, args, stdin);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const addRemote = (machine: ReturnType<typeof tempDataDir>) =>
    ok(machine, ['remote', 'add', 'r2', '--type', 's3', '--bucket', s3.bucket, '--access-key-id', s3.accessKeyId, '--endpoint', s3.endpoint], `${s3.secret}\n`);

  before(async () => {
    s3 = await startS3rver('dr-bucket');
    oldMachine = tempDataDir();
    // The old machine's life, in-process (the CLI steps that matter for recovery run as commands below).
    await withCtx(oldMachine.env, async (ctx) => {
      ctx.directory.addDomain('example.test');
      await ctx.accounts.createAlias(ALICE, PASSWORD);
      ctx.directory.addForward((await ctx.accounts.createAlias(BOB, PASSWORD)).alias.id, 'bob@elsewhere.test');
      dkimBefore = JSON.stringify(ctx.outbound.dkim.ensure('example.test').records);
      const session = await ctx.accounts.authenticate(ALICE, PASSWORD, { ip: '127.0.0.1', protocol: 'cli' });
      try {
        await session.mailbox.append('INBOX', stored, { flags: ['\\Seen'] });
        oldUidValidity = Math.max(...session.mailbox.listFolders().map((f) => f.uidValidity));
      } finally {
        session.release();
        await ctx.accounts.lock(session.alias.id);
      }
      const result = await ctx.accounts.deliverOrQueue(ctx.directory.requireAlias(ALICE), queued, { receivedAt: new Date() });
      assert.equal(result.stored, 'queue');
    });
  });

  after(async () => {
    await s3?.stop();
    oldMachine?.cleanup();
    newMachine?.cleanup();
  });

  it('key show prints the app key once with a warning; key export writes a 0600 file', async () => {
    const shown = await cli(oldMachine, ['key', 'show']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(shown.stdout.trim(), oldMachine.env.SEALPOST_APP_KEY);
    assert.match(shown.stderr, /^warning: This is the app key/);
    const file = path.join(oldMachine.dir, '..', `sealpost-key-${crypto.randomUUID()}.txt`);
    try {
      assert.match(await ok(oldMachine, ['key', 'export', '--out', file]), /wrote the app key/);
      assert.equal(fs.readFileSync(file, 'utf8'), `${oldMachine.env.SEALPOST_APP_KEY}\n`);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('backup now and remote push carry sealpost.db with the mailboxes', async () => {
    const backup = await ok(oldMachine, ['backup', 'now']);
    assert.match(backup, /^directory \(sealpost\.db\): new generation \d{8}T/m);
    const again = await withCtx(oldMachine.env, (ctx) => snapshotDirectory({ layout: ctx.paths, appKey: ctx.appKey }));
    assert.equal(again.created, false, 'nothing changed: no new generation');
    const files = fs.readdirSync(path.join(oldMachine.dir, 'backups', 'directory'));
    assert.ok(files.some((f) => /^\d{8}T\d{6}\.\d{3}Z\.sqlite$/.test(f)), files.join(','));
    assert.ok(files.some((f) => f.endsWith('.queue.sqlite')), 'outbound.sqlite (DKIM keys) saved beside it');
    await addRemote(oldMachine);
    const pushed = await ok(oldMachine, ['remote', 'push']);
    assert.match(pushed, /^directory \(sealpost\.db\): uploaded 1, pruned 0, 1 on r2$/m);
    assert.match(pushed, /^alice@example\.test: uploaded 1/m);
    // Object names carry uuids and "directory", never an address; no object holds plaintext.
    const objects = fs.readdirSync(s3.dataDir, { recursive: true }).map(String);
    assert.ok(objects.some((n) => n.includes('directory')));
    for (const name of objects) assert.ok(!/alice|bob|example\.test/.test(name), name);
    assert.deepEqual(findPlaintext(s3.dataDir, ['zq777777', 'zq888888', ALICE, 'bob@elsewhere.test', 'SQLite format 3']), []);
  });

  it('a fresh data dir with the old app key and the remote gets everything back; old passwords open the old mail', async () => {
    newMachine = tempDataDir();
    newMachine.env.SEALPOST_APP_KEY = oldMachine.env.SEALPOST_APP_KEY; // what `key show` printed
    newMachine.env.SEALPOST_JUNK = 'off'; // the drained message is compared byte for byte: no junk header of ours
    await addRemote(newMachine);
    const result = JSON.parse(await ok(newMachine, ['remote', 'restore-all', 'r2', '--json'])) as { aliases: number; restored: { address: string }[]; missing: string[] };
    assert.equal(result.aliases, 2);
    assert.deepEqual(result.restored.map((r) => r.address).sort(), [ALICE, BOB]);
    assert.deepEqual(result.missing, []);

    await withCtx(newMachine.env, async (ctx) => {
      assert.deepEqual(ctx.directory.listDomains().map((d) => d.name), ['example.test']);
      assert.deepEqual(ctx.directory.listForwards(ctx.directory.requireAlias(BOB).id).map((f) => f.target), ['bob@elsewhere.test']);
      assert.equal(JSON.stringify(ctx.outbound.dkim.get('example.test')?.records), dkimBefore, 'same DKIM keys: the published DNS records stay valid');
      await assert.rejects(ctx.accounts.authenticate(ALICE, 'not-the-password-at-all', { ip: '127.0.0.1', protocol: 'imap' }));
      const session = await ctx.accounts.authenticate(ALICE, PASSWORD, { ip: '127.0.0.1', protocol: 'imap' });
      try {
        assert.equal(await ctx.accounts.whenDrained(session.alias.id, 30_000), true, 'the sealed queue drains after the login');
        assert.equal(ctx.accounts.queuedCount(session.alias), 0);
        const messages = session.mailbox.listMessages('INBOX');
        const bodies = await Promise.all(messages.map((m) => session.mailbox.readMessage('INBOX', m.uid)));
        assert.equal(messages.length, 2, 'the stored message and the one that was sealed in the queue');
        assert.ok(bodies.some((b) => b.equals(stored)), 'stored message byte-identical');
        assert.ok(bodies.some((b) => b.equals(queued)), 'queued message drained after the first login');
        assert.deepEqual(messages.find((m, i) => bodies[i]?.equals(stored))?.flags, ['\\Seen']);
        // RFC 3501 §2.3.1.1: the lost machine may have handed out UIDs after its last backup, so no folder
        // keeps a UIDVALIDITY it had there; renewed once, at the first unlock, then stable.
        const renewed = session.mailbox.listFolders();
        assert.ok(renewed.length > 0);
        for (const f of renewed) assert.ok(f.uidValidity > oldUidValidity, `${f.path}: UIDVALIDITY ${f.uidValidity} > ${oldUidValidity}`);
        assert.deepEqual(fs.readdirSync(path.join(newMachine.dir, 'mailboxes')).filter((n) => n.startsWith(session.alias.mailboxId) && n.includes('renew')), [], 'the renewal marker is gone');
        session.release();
        await ctx.accounts.lock(session.alias.id);
        const reopened = await ctx.accounts.authenticate(ALICE, PASSWORD, { ip: '127.0.0.1', protocol: 'imap' });
        try {
          assert.deepEqual(reopened.mailbox.listFolders().map((f) => f.uidValidity), renewed.map((f) => f.uidValidity), 'renewed once, then stable');
        } finally {
          reopened.release();
        }
      } finally {
        session.release();
      }
      const bob = await ctx.accounts.authenticate(BOB, PASSWORD, { ip: '127.0.0.1', protocol: 'pop3' });
      bob.release();
      assert.equal(ctx.keyRing.has(ctx.directory.requireAlias(BOB).id), true);
      // The target we restored through is usable in the restored directory (its secret is here).
      assert.deepEqual((await (await import('../../server/remote/index.js')).remotesOf(ctx).test('r2')).target, 'r2');
    });

    const again = await cli(newMachine, ['remote', 'restore-all', 'r2']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already has aliases/);
  });

  it('a wrong app key is refused with one sentence, leaving the fresh data dir usable', async () => {
    const stranger = tempDataDir();
    try {
      await addRemote(stranger);
      const refused = await cli(stranger, ['remote', 'restore-all', 'r2']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr.trim().split('\n').at(-1) ?? '', /^error: The app key does not open this backup/);
      await withCtx(stranger.env, async (ctx) => assert.deepEqual(ctx.directory.listDomains(), [], 'its own sealpost.db is untouched'));
    } finally {
      stranger.cleanup();
    }
  });
});
