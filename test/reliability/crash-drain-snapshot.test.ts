// kill -9 during the sealed-queue drain (the first login after mail arrived for a locked mailbox) and
// during snapshots (`sealpost backup now` killed mid-copy, and `serve` killed while a backup runs).
// After restarts: every acknowledged message is in INBOX exactly once, the queue is empty, every backup
// generation that is listed verifies, a new backup succeeds, integrity_check passes.
// (Restore: test/integration/backup-restore.test.ts; re-key: mailbox-rekey-crash.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { generateCorpus } from '../helpers/corpus.js';
import { SEALPOST_BIN } from '../helpers/sealpost-cli.js';
import { RELIABILITY_DOMAIN, checkIntegrity, createInstance, duplicates, messageIdsByFolder, messageIdOf, sleep, smtpTransport, type Instance } from '../helpers/reliability-harness.js';
import { Secrets, privacyLeaks } from '../helpers/reliability-privacy.js';
import { RawImap } from '../helpers/imap-raw.js';
import { ImapFlow } from 'imapflow';
import { waitForExists } from '../helpers/imap-wait.js';

function corpusSecrets(secrets: Secrets, messages: ReturnType<typeof generateCorpus>): void {
  for (const m of messages) secrets.add(m.token, m.subject, m.from, m.to);
}

/** Delivers every message to `to` over 4 connections; returns the Message-IDs that got a 250. */
async function deliverAll(instance: Instance, to: string, raws: readonly Buffer[]): Promise<string[]> {
  const acked: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      const transport = smtpTransport(instance.ports.smtp);
      try {
        while (next < raws.length) {
          const raw = raws[next++]!;
          await transport.sendMail({ envelope: { from: 'sender@sender.rel.test', to: [to] }, raw });
          acked.push(messageIdOf(raw));
        }
      } finally {
        transport.close();
      }
    }),
  );
  return acked;
}

test('kill -9 during the queue drain of the first login: every queued message arrives once', async () => {
  const user = `drain@${RELIABILITY_DOMAIN}`;
  const instance = await createInstance({ aliases: [user] });
  const password = instance.passwords.get(user)!;
  const corpus = generateCorpus(150, 91);
  const secrets = new Secrets().add(user, password);
  corpusSecrets(secrets, corpus);
  try {
    await instance.start();
    const acked = await deliverAll(instance, user, corpus.map((m) => m.raw));
    assert.equal(acked.length, corpus.length);
    const queued = await instance.cli(['queue', 'status', '--json']);
    assert.equal(queued.code, 0, queued.stderr);
    assert.equal((JSON.parse(queued.stdout) as { inbound: { total: number } }).inbound.total, corpus.length, 'the locked mailbox holds every message, sealed');

    // Log in (the drain starts in the background) and kill the server at a random moment of the drain, three times.
    for (let kill = 0; kill < 3; kill++) {
      const t0 = Date.now();
      const client = await RawImap.connect(instance.ports.imap);
      const login = client.command(`LOGIN "${user}" "${password}"`, 60_000).catch(() => ({ tagged: '' }));
      // The first kill may land during LOGIN itself; the others after its OK, while the drain runs behind it.
      if (kill === 0) await sleep(150 + crypto.randomInt(900));
      else assert.match((await login).tagged, /^\S+ OK/, 'LOGIN answers while the drain runs');
      if (kill > 0) await sleep(crypto.randomInt(300));
      await instance.stop('SIGKILL');
      const reply = await login;
      client.close();
      process.stdout.write(`# kill ${kill} after ${Date.now() - t0} ms: login ${reply.tagged.split(' ')[1] ?? 'cut off'}\n`);
      await instance.start();
    }
    // The login answers at once and the drain runs behind it: wait until INBOX holds every acknowledged message.
    const watcher = new ImapFlow({ host: '127.0.0.1', port: instance.ports.imap, secure: false, auth: { user, pass: password }, tls: { rejectUnauthorized: false }, logger: false });
    await watcher.connect();
    try {
      await watcher.mailboxOpen('INBOX');
      await waitForExists(watcher, acked.length, { timeoutMs: 120_000 });
    } finally {
      await watcher.logout();
    }
    const ids = (await messageIdsByFolder(instance.ports.imap, user, password)).get('INBOX')!;
    assert.deepEqual(duplicates(ids), [], 'no message was drained twice');
    assert.deepEqual([...ids].sort(), [...acked].sort(), 'every acknowledged message is in INBOX');
    await instance.stop('SIGTERM');
    const after = await instance.cli(['queue', 'status', '--json']);
    assert.equal(after.code, 0, after.stderr);
    assert.equal((JSON.parse(after.stdout) as { inbound: { total: number } }).inbound.total, 0, 'the queue is drained');
    assert.deepEqual(await checkIntegrity(instance), []);
    assert.deepEqual(privacyLeaks([instance.dir], instance.logs, secrets), []);
  } finally {
    await instance.cleanup();
  }
});

/** Runs `sealpost backup now ADDRESS --password-stdin` and SIGKILLs it as soon as its scratch copy appears. */
function backupKilledMidCopy(instance: Instance, address: string): Promise<'killed' | 'finished'> {
  const scratch = path.join(instance.dir, 'tmp');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SEALPOST_BIN, '--data', instance.dir, 'backup', 'now', address, '--password-stdin'], { env: instance.env, stdio: ['pipe', 'ignore', 'ignore'] });
    child.stdin.end(`${instance.passwords.get(address)}\n`);
    let killed = false;
    const poll = setInterval(() => {
      const busy = fs.existsSync(scratch) && fs.readdirSync(scratch).some((f) => f.endsWith('.sqlite') || f.endsWith('.sqlite-wal'));
      if (busy && !killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    }, 1);
    child.on('exit', () => {
      clearInterval(poll);
      resolve(killed ? 'killed' : 'finished');
    });
  });
}

test('kill -9 during snapshots (the backup process, and the server while a backup runs) loses no mail and leaves only sound generations', async () => {
  const user = `snap@${RELIABILITY_DOMAIN}`;
  const instance = await createInstance({ aliases: [user] });
  const password = instance.passwords.get(user)!;
  const corpus = generateCorpus(200, 92);
  const secrets = new Secrets().add(user, password);
  corpusSecrets(secrets, corpus);
  try {
    await instance.start();
    // The mailbox is unlocked in the server (a session) and receives mail while backups are taken and killed.
    const session = await RawImap.connect(instance.ports.imap);
    assert.match((await session.command(`LOGIN "${user}" "${password}"`, 30_000)).tagged, /^\S+ OK/);
    const acked = await deliverAll(instance, user, corpus.slice(0, 120).map((m) => m.raw));
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const delivering = deliverAll(instance, user, corpus.slice(120 + i * 20, 140 + i * 20).map((m) => m.raw));
      outcomes.push(await backupKilledMidCopy(instance, user));
      acked.push(...(await delivering));
    }
    session.close();
    // The server itself killed while a backup process copies.
    const backup = spawn(process.execPath, [SEALPOST_BIN, '--data', instance.dir, 'backup', 'now', user, '--password-stdin'], { env: instance.env, stdio: ['pipe', 'ignore', 'ignore'] });
    const backupExited = new Promise((resolve) => backup.once('exit', resolve));
    backup.stdin.end(`${password}\n`);
    await sleep(2500 + crypto.randomInt(1500));
    await instance.stop('SIGKILL');
    await backupExited;
    process.stdout.write(`# backup processes: ${outcomes.join(', ')}\n`);

    await instance.start();
    const ids = (await messageIdsByFolder(instance.ports.imap, user, password)).get('INBOX')!;
    assert.deepEqual(duplicates(ids), []);
    const have = new Set(ids);
    assert.deepEqual(acked.filter((id) => !have.has(id)), [], 'every acknowledged message is in INBOX');
    await instance.stop('SIGTERM');

    const now = await instance.cli(['backup', 'now', user, '--password-stdin'], `${password}\n`);
    assert.equal(now.code, 0, `a backup after the kills succeeds: ${now.stderr}`);
    const list = await instance.cli(['backup', 'list', user, '--json']);
    assert.equal(list.code, 0, list.stderr);
    const generations = JSON.parse(list.stdout) as { id: string }[];
    assert.ok(generations.length >= 1);
    for (const g of generations) {
      const verify = await instance.cli(['backup', 'verify', user, g.id, '--password-stdin'], `${password}\n`);
      assert.equal(verify.code, 0, `generation ${g.id} verifies: ${verify.stdout}${verify.stderr}`);
    }
    assert.deepEqual(await checkIntegrity(instance), []);
    assert.deepEqual(privacyLeaks([instance.dir], instance.logs, secrets), []);
  } finally {
    await instance.cleanup();
  }
});
