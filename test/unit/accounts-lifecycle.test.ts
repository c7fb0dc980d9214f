// Accounts over real parts: encrypted directory, mailbox files, sealed queue, key ring, argon2id (cheap params).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AliasLocked, Accounts, AuthFailed, TooManyAttempts, WeakPassword } from '../../server/accounts/index.js';
import { KeyRing } from '../../server/crypto/index.js';
import { AliasExists, Directory, UnknownDomain } from '../../server/directory/index.js';
import { silentLogger } from '../../server/log.js';
import { openMailboxStore } from '../../server/mailbox/index.js';
import type { MailboxStore } from '../../server/mailbox/types.js';
import { openSealedQueue, type SealedQueue } from '../../server/queue/index.js';
import { findPlaintext } from '../helpers/privacy.js';

// Real argon2id, cheaper than production so the suite stays fast.
const TEST_KDF = { algorithm: 'argon2id', memoryKiB: 8192, iterations: 1, parallelism: 1 } as const;
const LOCAL = { ip: '127.0.0.1', protocol: 'imap' } as const;
const THROTTLE_NOW = Date.parse('2026-01-01T00:00:00Z');

let dataDir: string;
let directory: Directory;
let mailboxes: MailboxStore;
let queue: SealedQueue;
let keyRing: KeyRing;
let accounts: Accounts;

function message(subject: string): Buffer {
  return Buffer.from(`From: sender@other.test\r\nTo: alice@example.test\r\nSubject: ${subject}\r\nMessage-ID: <${crypto.randomUUID()}@other.test>\r\n\r\nSecret body ${subject}\r\n`);
}

function mailboxFiles(): string[] {
  return fs.readdirSync(path.join(dataDir, 'mailboxes')).filter((f) => f.endsWith('.sqlite'));
}

before(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  for (const sub of ['mailboxes', 'queue']) fs.mkdirSync(path.join(dataDir, sub), { mode: 0o700 });
  directory = Directory.open(path.join(dataDir, 'sealpost.db'), crypto.randomBytes(32));
  directory.addDomain('example.test');
  mailboxes = openMailboxStore(dataDir, { logger: silentLogger() });
  queue = openSealedQueue(dataDir, crypto.randomBytes(32));
  keyRing = new KeyRing({ onDrop: (id) => accounts.handleKeysDropped(id) });
  accounts = new Accounts({
    directory,
    mailboxes,
    keyRing,
    queue,
    logger: silentLogger(),
    kdf: TEST_KDF,
    throttle: { freeFailures: 2, baseDelayMs: 1, maxDelayMs: 5, pairLockAfter: 5, ipLockAfter: 12, lockMs: 60_000, aliasSlowAfter: 100, exemptLoopback: true },
    // A frozen throttle clock: lock-outs and failure windows last the whole run, however slow the machine.
    throttleClock: () => THROTTLE_NOW,
  });
});

after(async () => {
  keyRing.dropAll();
  await mailboxes.closeAll();
  queue.close();
  directory.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('accounts', () => {
  let alicePassword = '';
  /** Whichever of the two concurrent creations won: their argon2 runs race on the thread pool, so either may. */
  let carolPassword = '';

  it('creates an alias with a generated password (≥128 bits, shown once) and an encrypted mailbox', async () => {
    const created = await accounts.createAlias('Alice@Example.test');
    assert.equal(created.alias.address, 'alice@example.test');
    assert.ok(created.password && created.password.replace(/-/g, '').length * 5 >= 128, 'at least 128 bits');
    alicePassword = created.password;
    assert.deepEqual(mailboxFiles(), [`${created.alias.mailboxId}.sqlite`]);
    assert.equal(accounts.isUnlocked(created.alias.id), false, 'creating does not unlock');
  });

  it('refuses weak passwords, duplicates and unknown domains without leaving a mailbox file behind', async () => {
    await assert.rejects(accounts.createAlias('bob@example.test', 'password123'), (e: unknown) => e instanceof WeakPassword && !e.message.includes('\n'));
    await assert.rejects(accounts.createAlias('ALICE@example.test', 'a much better Passphrase 42'), AliasExists);
    await assert.rejects(accounts.createAlias('bob@nowhere.test', 'a much better Passphrase 42'), UnknownDomain);
    // Two concurrent creations of one address: one wins, the loser's file is rolled back.
    const carolPasswords = ['tangerine Orbit 4 lanterns', 'tangerine Orbit 5 lanterns'];
    const results = await Promise.allSettled([
      accounts.createAlias('carol@example.test', carolPasswords[0]),
      accounts.createAlias('Carol@example.test', carolPasswords[1]),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    carolPassword = carolPasswords[results.findIndex((r) => r.status === 'fulfilled')];
    assert.equal(mailboxFiles().length, 2, 'alice + carol, nothing else');
  });

  it('mail for a locked alias is sealed into the queue, and after the first login it drains into INBOX in the background', async () => {
    const alice = directory.requireAlias('alice@example.test');
    const raw = message('queued while locked');
    const result = await accounts.deliverOrQueue(alice, raw, { receivedAt: new Date('2026-01-02T03:04:05Z') });
    assert.equal(result.stored, 'queue');
    assert.equal(accounts.queuedCount(alice), 1);
    const queueBytes = fs.readFileSync(path.join(dataDir, 'queue', `${alice.mailboxId}.sqlite`));
    assert.ok(!queueBytes.includes('queued while locked') && !queueBytes.includes('alice@'), 'queue file holds no plaintext');

    const session = await accounts.authenticate('alice+imap@EXAMPLE.test', alicePassword, LOCAL);
    try {
      // The login answered without waiting for the drain; it finishes on its own.
      assert.equal(await accounts.whenDrained(alice.id, 30_000), true);
      assert.equal(accounts.queuedCount(alice), 0);
      assert.deepEqual({ ...accounts.drainStatus(alice), since: null }, { state: 'idle', queued: 0, drained: 1, since: null });
      const inbox = session.mailbox.listMessages('INBOX');
      assert.equal(inbox.length, 1);
      assert.deepEqual(await session.mailbox.readMessage('INBOX', inbox[0].uid), raw);
      assert.equal(inbox[0].internalDate.toISOString(), '2026-01-02T03:04:05.000Z');
      // While unlocked, delivery goes straight to the mailbox.
      const direct = await accounts.deliverOrQueue(alice, message('direct'), { receivedAt: new Date() });
      assert.equal(direct.stored, 'mailbox');
      assert.equal(session.mailbox.listMessages('INBOX').length, 2);
    } finally {
      session.release();
    }
    // A repeat login (cached check) gets the same mailbox.
    const again = await accounts.authenticate('alice@example.test', alicePassword, { ip: '127.0.0.1', protocol: 'pop3' });
    assert.equal(again.mailbox.listMessages('INBOX').length, 2);
    again.release();
  });

  it('refuses wrong passwords, unknown and disabled aliases alike', async () => {
    await assert.rejects(accounts.authenticate('alice@example.test', 'wrong password here', { ip: '10.0.0.1', protocol: 'imap' }), AuthFailed);
    await assert.rejects(accounts.authenticate('nobody@example.test', alicePassword, { ip: '10.0.0.1', protocol: 'imap' }), AuthFailed);
    const carol = directory.requireAlias('carol@example.test');
    directory.setEnabled(carol.id, false);
    await assert.rejects(accounts.authenticate('carol@example.test', carolPassword, { ip: '10.0.0.2', protocol: 'imap' }), AuthFailed);
    directory.setEnabled(carol.id, true);
  });

  it('locks an (IP, alias) pair out after repeated failures, even for the right password, but not the owner from another IP', async () => {
    await accounts.lock('all');
    const ip = '203.0.113.7';
    const failures: unknown[] = [];
    for (let i = 0; i < 6; i++) {
      failures.push(await accounts.authenticate('alice@example.test', `wrong-${i}-password`, { ip, protocol: 'imap' }).catch((e: unknown) => e));
    }
    // The policy locks the pair at 5 failures: AuthFailed until then, then TooManyAttempts.
    assert.deepEqual(
      failures.map((e) => (e instanceof TooManyAttempts ? 'locked' : e instanceof AuthFailed ? 'failed' : String(e))),
      ['failed', 'failed', 'failed', 'failed', 'failed', 'locked'],
    );
    await assert.rejects(accounts.authenticate('alice@example.test', alicePassword, { ip, protocol: 'imap' }), (e: unknown) => {
      assert.ok(e instanceof TooManyAttempts);
      assert.match(e.message, /Too many failed logins; try again in \d+ minute/);
      return true;
    });
    // The owner from another IP (and from loopback) is not locked out by the attacker's failures.
    const elsewhere = await accounts.authenticate('alice@example.test', alicePassword, { ip: '198.51.100.1', protocol: 'imap' });
    elsewhere.release();
    const local = await accounts.authenticate('alice@example.test', alicePassword, LOCAL);
    local.release();
    const carol = await accounts.authenticate('carol@example.test', carolPassword, { ip, protocol: 'imap' });
    carol.release();
  });

  it('locks out an IP that guesses across many aliases', async () => {
    const ip = '192.0.2.99';
    let last: unknown = null;
    for (let i = 0; i < 12; i++) last = await accounts.authenticate(`user${i}@example.test`, 'guess guess guess', { ip, protocol: 'pop3' }).catch((e: unknown) => e);
    assert.ok(last instanceof TooManyAttempts || last instanceof AuthFailed);
    await assert.rejects(accounts.authenticate('carol@example.test', carolPassword, { ip, protocol: 'pop3' }), TooManyAttempts);
  });

  it('changes a password: the mailbox is re-keyed, the new password opens it, the old one no longer does', async () => {
    const carol = directory.requireAlias('carol@example.test');
    await accounts.deliverOrQueue(carol, message('for carol'), { receivedAt: new Date() });
    await accounts.lock('all');
    await assert.rejects(accounts.changePassword('carol@example.test', null, 'velvet Harbor 77 compass'), AliasLocked);
    await assert.rejects(accounts.changePassword('carol@example.test', 'not the password!', 'velvet Harbor 77 compass'), AuthFailed);
    await assert.rejects(accounts.changePassword('carol@example.test', carolPassword, 'short'), WeakPassword);
    const changed = await accounts.changePassword('carol@example.test', carolPassword, 'velvet Harbor 77 compass');
    assert.equal(changed.password, undefined);
    const ip = '198.51.100.20';
    await assert.rejects(accounts.authenticate('carol@example.test', carolPassword, { ip, protocol: 'imap' }), AuthFailed);
    const session = await accounts.authenticate('carol@example.test', 'velvet Harbor 77 compass', { ip, protocol: 'imap' });
    assert.equal(await accounts.whenDrained(carol.id, 30_000), true);
    assert.equal(accounts.queuedCount(carol), 0);
    assert.equal(session.mailbox.listMessages('INBOX').length, 1, 'the queued message survived the re-key and was drained');
    // Admin change while unlocked: no old password needed; a new one is generated.
    const generated = await accounts.changePassword('carol@example.test', null);
    session.release();
    assert.ok(generated.password);
    await accounts.lock('all');
    const withGenerated = await accounts.authenticate('carol@example.test', generated.password, { ip, protocol: 'imap' });
    assert.equal(withGenerated.mailbox.listMessages('INBOX').length, 1);
    withGenerated.release();
  });

  it('lock drops keys and closes the mailbox; remove deletes the mailbox file', async () => {
    const carol = directory.requireAlias('carol@example.test');
    assert.equal(accounts.isUnlocked(carol.id), true);
    await accounts.lock(carol.id);
    assert.equal(accounts.isUnlocked(carol.id), false);
    assert.equal(mailboxes.isOpen(carol.mailboxId), false);
    await accounts.removeAlias('carol@example.test');
    assert.equal(directory.getAlias('carol@example.test'), null);
    assert.ok(!fs.existsSync(path.join(dataDir, 'mailboxes', `${carol.mailboxId}.sqlite`)));
  });

  it('a drain that fails on a row the store refuses never fails the login: state error, retried at the next login, the rest kept', async () => {
    const dora = (await accounts.createAlias('dora@example.test', 'copper Meadow 31 lantern')).alias;
    await accounts.lock(dora.id);
    // A row no delivery path would write (an empty message): the mailbox refuses it at every attempt.
    await queue.enqueue(dora.mailboxId, dora.publicKey, message('before the bad row'), { receivedAt: new Date() });
    await queue.enqueue(dora.mailboxId, dora.publicKey, Buffer.alloc(0), { receivedAt: new Date() });
    await queue.enqueue(dora.mailboxId, dora.publicKey, message('after the bad row'), { receivedAt: new Date() });
    for (let attempt = 1; attempt <= 2; attempt++) {
      const session = await accounts.authenticate('dora@example.test', 'copper Meadow 31 lantern', LOCAL); // never rejects because of the drain
      try {
        assert.equal(await accounts.whenDrained(dora.id, 30_000), true);
        const status = accounts.drainStatus(dora);
        assert.equal(status.state, 'error');
        assert.equal(status.error, 'InvalidRequest');
        assert.equal(status.queued, 2, 'the refused row and the one after it stay sealed, nothing deleted');
        assert.equal(session.mailbox.listMessages('INBOX').length, 1, 'the mail before it was stored and reads normally');
      } finally {
        session.release();
      }
    }
    await accounts.lock(dora.id);
    await accounts.removeAlias('dora@example.test');
  });

  it('writes no address, subject or body in plaintext to any file of the data dir', async () => {
    await accounts.lock('all');
    await mailboxes.closeAll();
    assert.deepEqual(findPlaintext(dataDir, ['alice@', 'example.test', 'queued while locked', 'Secret body', alicePassword]), []);
  });
});
