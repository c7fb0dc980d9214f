// The CLI and a running `sealpost serve` on the same data dir: mailbox changes made from the CLI are done by
// the server (control socket), which ends the sessions they affect — nothing acknowledged is lost, the old
// password stops working, a restore or removal closes open IMAP/POP3 sessions. Real bin/sealpost, real CLI,
// imapflow, nodemailer and a raw POP3 socket.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { dataLayout } from '../../server/config/index.js';
import { Directory } from '../../server/directory/index.js';
import { SecretStore } from '../../server/keychain/index.js';
import {
  RELIABILITY_DOMAIN,
  createInstance,
  messageIdsByFolder,
  newPassword,
  smtpTransport,
  tinyMessage,
  until,
  type Instance,
} from '../helpers/reliability-harness.js';
import { Secrets, privacyLeaks } from '../helpers/reliability-privacy.js';
import { runCli } from '../helpers/sealpost-cli.js';

const ALICE = `alice@${RELIABILITY_DOMAIN}`;
const BOB = `bob@${RELIABILITY_DOMAIN}`;
const CAROL = `carol@${RELIABILITY_DOMAIN}`;
const DAVE = `dave@${RELIABILITY_DOMAIN}`;

let inst: Instance;
const secrets = new Secrets();
const ids = new Map<string, { id: string; mailboxId: string }>();

function pw(address: string): string {
  const value = inst.passwords.get(address);
  assert.ok(value, `password of ${address}`);
  return value;
}

async function imapSession(address: string, password: string): Promise<{ client: ImapFlow; closed: Promise<void> }> {
  const client = new ImapFlow({ host: '127.0.0.1', port: inst.ports.imap, secure: false, doSTARTTLS: false, auth: { user: address, pass: password }, logger: false });
  client.on('error', () => undefined); // the server ending the session is what these tests expect
  await client.connect();
  await client.mailboxOpen('INBOX');
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  return { client, closed };
}

/** A logged-in POP3 session over a raw socket; resolves `closed` when the server ends it. */
async function pop3Session(address: string, password: string): Promise<{ closed: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port: inst.ports.pop3 });
  socket.setEncoding('utf8');
  let received = '';
  const waitFor = (pattern: RegExp): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`POP3: no ${pattern} in ${JSON.stringify(received)}`)), 10_000);
      const check = (): void => {
        if (!pattern.test(received)) return;
        clearTimeout(timer);
        socket.off('data', check);
        resolve();
      };
      socket.on('data', check);
      check();
    });
  socket.on('data', (d: string) => (received += d));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await waitFor(/^\+OK/);
  received = '';
  socket.write(`USER ${address}\r\n`);
  await waitFor(/^\+OK/);
  received = '';
  socket.write(`PASS ${password}\r\n`);
  await waitFor(/^\+OK/);
  return { closed };
}

function within<T>(promise: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

async function loginFails(address: string, password: string): Promise<void> {
  await assert.rejects(messageIdsByFolder(inst.ports.imap, address, password), `IMAP login of ${address} with a stale password must fail`);
}

async function deliver(address: string, label: string): Promise<string> {
  const message = tinyMessage(address, label);
  secrets.add(message.subject, message.token);
  const transport = smtpTransport(inst.ports.smtp);
  try {
    await transport.sendMail({ envelope: { from: 'sender@sender.rel.test', to: [address] }, raw: message.raw });
  } finally {
    transport.close();
  }
  return message.messageId;
}

before(async () => {
  inst = await createInstance({ aliases: [ALICE, BOB, CAROL, DAVE], logLevel: 'info' });
  const directory = Directory.open(dataLayout(inst.dir).directoryDb, Buffer.from(String(inst.env.SEALPOST_APP_KEY), 'hex'));
  try {
    for (const a of directory.listAliases()) ids.set(a.address, { id: a.id, mailboxId: a.mailboxId });
  } finally {
    directory.close();
  }
  for (const [address, password] of inst.passwords) secrets.add(address, password);
  await inst.start();
});

after(async () => {
  await inst?.cleanup();
});

describe('CLI changes while serve runs (done by the server)', { concurrency: true }, () => {
  it('the control socket and its token file are private to the owner', () => {
    const sock = path.join(inst.dir, 'control.sock');
    const token = path.join(inst.dir, 'control.token');
    assert.ok(fs.lstatSync(sock).isSocket(), 'control.sock is a unix socket');
    assert.equal(fs.statSync(inst.dir).mode & 0o777, 0o700, 'the socket directory (the data dir) is private');
    assert.equal(fs.existsSync(path.join(inst.dir, 'control.path')), false, 'no pointer: the socket is in the data dir');
    assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
    assert.equal(fs.statSync(token).mode & 0o777, 0o600);
    assert.match(fs.readFileSync(token, 'utf8').trim(), /^[0-9a-f]{64}$/);
  });

  it('alias passwd while an IMAP and a POP3 session are open and mail is being delivered: nothing lost, old sessions closed, only the new password works', async () => {
    const oldPassword = pw(ALICE);
    const imap = await imapSession(ALICE, oldPassword);
    const pop3 = await pop3Session(ALICE, oldPassword);
    const sent: string[] = [];
    let changed = false;
    let extra = 0;
    const transport = smtpTransport(inst.ports.smtp);
    const sending = (async () => {
      try {
        // Keeps delivering until a few messages after the change (every send resolves only on 250).
        for (let i = 0; i < 400 && extra < 5; i++) {
          const message = tinyMessage(ALICE, `pw${i}`);
          secrets.add(message.subject, message.token);
          await transport.sendMail({ envelope: { from: 'sender@sender.rel.test', to: [ALICE] }, raw: message.raw });
          sent.push(message.messageId);
          if (changed) extra++;
        }
      } finally {
        transport.close();
      }
    })();
    await until('first deliveries', () => sent.length >= 3, 30_000);
    const newPw = newPassword();
    secrets.add(newPw);
    const result = await inst.cli(['alias', 'passwd', ALICE, '--password-stdin'], `${oldPassword}\n${newPw}\n`);
    changed = true;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), `changed the password of ${ALICE}`);
    inst.passwords.set(ALICE, newPw);
    await sending;
    await within(imap.closed, 'the IMAP session of the old key is closed');
    await within(pop3.closed, 'the POP3 session of the old key is closed');
    await loginFails(ALICE, oldPassword);
    const inbox = (await messageIdsByFolder(inst.ports.imap, ALICE, newPw)).get('INBOX') ?? [];
    assert.deepEqual([...inbox].sort(), [...sent].sort(), 'every acknowledged message is in INBOX exactly once');
    assert.ok(sent.length >= 8, `deliveries ran before and after the change (${sent.length})`);
  });

  it('restore while serving: the open IMAP session is closed and the mailbox is the generation', async () => {
    const password = pw(CAROL);
    const m1 = await deliver(CAROL, 'c1'); // locked: sealed into the queue
    const m2 = await deliver(CAROL, 'c2');
    const backup = await inst.cli(['backup', 'now', CAROL, '--password-stdin', '--json'], `${password}\n`); // unlocks in the server (drains)
    assert.equal(backup.code, 0, backup.stderr);
    const [generation] = JSON.parse(backup.stdout) as { id: string; verified: boolean }[];
    assert.ok(generation?.verified, backup.stdout);
    const m3 = await deliver(CAROL, 'c3');
    const imap = await imapSession(CAROL, password);
    assert.equal((imap.client.mailbox as { exists: number }).exists, 3);
    const restored = await inst.cli(['restore', CAROL, generation.id, '--password-stdin', '--json'], `${password}\n`);
    assert.equal(restored.code, 0, restored.stderr);
    const done = JSON.parse(restored.stdout.trim().split('\n').at(-1) ?? '{}') as { event: string; restored: string; preRestore: string };
    assert.equal(done.event, 'done');
    assert.equal(done.restored, generation.id);
    assert.match(done.preRestore, /^\d{8}T/);
    await within(imap.closed, 'the IMAP session of the replaced mailbox is closed');
    assert.deepEqual(((await messageIdsByFolder(inst.ports.imap, CAROL, password)).get('INBOX') ?? []).sort(), [m1, m2].sort());
    assert.ok(![m1, m2].includes(m3));
    const m4 = await deliver(CAROL, 'c4'); // the restored mailbox takes new mail
    assert.deepEqual(((await messageIdsByFolder(inst.ports.imap, CAROL, password)).get('INBOX') ?? []).sort(), [m1, m2, m4].sort());
  });

  it('alias remove while serving: its session is closed, it can no longer log in or receive, its file is gone', async () => {
    const password = pw(BOB);
    const imap = await imapSession(BOB, password);
    const removed = await inst.cli(['alias', 'remove', BOB]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout.trim(), `removed alias ${BOB} and its mailbox`);
    await within(imap.closed, 'the IMAP session of the removed alias is closed');
    await loginFails(BOB, password);
    await assert.rejects(deliver(BOB, 'gone'), /55\d/);
    const mailboxId = ids.get(BOB)?.mailboxId;
    assert.ok(mailboxId);
    assert.equal(fs.existsSync(dataLayout(inst.dir).mailboxFile(mailboxId)), false);
    inst.passwords.delete(BOB);
  });
});

describe('remember on this device, restart, stale socket', () => {
  it('a remembered mailbox unlocks when serve starts and drains mail that arrived while it was locked; off forgets the key', async () => {
    const daveId = ids.get(DAVE)?.id ?? '';
    const store = new SecretStore(inst.dir, Buffer.from(String(inst.env.SEALPOST_APP_KEY), 'hex'), { ...inst.env });
    const on = await inst.cli(['alias', 'remember', DAVE, 'on', '--password-stdin', '--json'], `${pw(DAVE)}\n`);
    assert.equal(on.code, 0, on.stderr);
    assert.deepEqual(JSON.parse(on.stdout), { address: DAVE, remember: true, where: 'file' }); // SEALPOST_KEYCHAIN=off: the fallback
    assert.ok(await store.getSecret(`remembered-key:${daveId}`), 'the key is stored under the alias id');
    const lock = await inst.cli(['alias', 'lock', DAVE, '--json']);
    assert.equal(lock.code, 0, lock.stderr);
    assert.deepEqual(JSON.parse(lock.stdout), { locked: 1 });
    const queuedId = await deliver(DAVE, 'd1'); // locked now: sealed into the queue

    await inst.stop('SIGTERM');
    assert.equal(fs.existsSync(path.join(inst.dir, 'control.sock')), false, 'socket removed at stop');
    assert.equal(fs.existsSync(path.join(inst.dir, 'control.token')), false, 'token removed at stop');
    await inst.start();
    // Nobody logs in: the server unlocked the remembered mailbox itself and drained its queue.
    let queued = -1;
    await until(
      'the remembered mailbox drains at start',
      async () => {
        const list = await inst.cli(['alias', 'list', '--json']);
        queued = (JSON.parse(list.stdout) as { address: string; queued: number }[]).find((a) => a.address === DAVE)?.queued ?? -1;
        return queued === 0;
      },
      60_000,
    );
    assert.deepEqual((await messageIdsByFolder(inst.ports.imap, DAVE, pw(DAVE))).get('INBOX'), [queuedId]);

    const off = await inst.cli(['alias', 'remember', DAVE, 'off']);
    assert.equal(off.code, 0, off.stderr);
    assert.equal(await store.getSecret(`remembered-key:${daveId}`), null, 'forgetting removes the stored key');
  });

  it('after kill -9 the stale socket does not block the CLI or the next serve; a second serve on the data dir is refused', async () => {
    await inst.stop('SIGKILL');
    assert.ok(fs.existsSync(path.join(inst.dir, 'control.sock')), 'a killed server leaves its socket');
    const local = await inst.cli(['alias', 'lock', '--all', '--json']); // no server answers: runs here
    assert.equal(local.code, 0, local.stderr);
    assert.deepEqual(JSON.parse(local.stdout), { locked: 0 });
    await inst.start();
    const second = await runCli(['serve', '--data', inst.dir], { env: inst.env, timeoutMs: 60_000 });
    assert.equal(second.code, 1);
    assert.match(second.stderr, /^error: Another Sealpost server is already running on the data dir [^\n]*\. Stop it first, or give this one another data directory with --data\.\n$/);
  });

  it('privacy: no address, password, subject or body word in the data dir or the server log', () => {
    assert.deepEqual(privacyLeaks([inst.dir], inst.logs, secrets), []);
  });
});
