// App passwords over real parts: encrypted directory, mailbox files, sealed queue, key ring, argon2id (cheap
// params). Each app password opens the mailbox for the mail protocols only, survives a change of the alias
// password (re-sealed without knowing it), is revoked alone, and is throttled like any password.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Accounts, AuthFailed, TooManyAttempts, appPasswordLimitsFromEnv, type RevokeReason } from '../../server/accounts/index.js';
import { APP_PASSWORD_BITS, KeyRing, canonicalAppPassword, generateAppPassword } from '../../server/crypto/index.js';
import { Directory } from '../../server/directory/index.js';
import { UserError } from '../../server/errors.js';
import { openMailboxStore } from '../../server/mailbox/index.js';
import type { MailboxStore } from '../../server/mailbox/types.js';
import { openSealedQueue, type SealedQueue } from '../../server/queue/index.js';
import { findPlaintext } from '../helpers/privacy.js';

const TEST_KDF = { algorithm: 'argon2id', memoryKiB: 8192, iterations: 1, parallelism: 1 } as const;
const IMAP = { ip: '192.0.2.10', protocol: 'imap' } as const;
const THROTTLE_NOW = Date.parse('2026-01-01T00:00:00Z');
const ALIAS_PASSWORD = 'Quiet harbour 77 lanterns';
const ADDRESS = 'dana@example.test';

let dataDir: string;
let directory: Directory;
let mailboxes: MailboxStore;
let queue: SealedQueue;
let keyRing: KeyRing;
let accounts: Accounts;
const logs: string[] = [];

before(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  for (const sub of ['mailboxes', 'queue']) fs.mkdirSync(path.join(dataDir, sub), { mode: 0o700 });
  directory = Directory.open(path.join(dataDir, 'sealpost.db'), crypto.randomBytes(32));
  directory.addDomain('example.test');
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  mailboxes = openMailboxStore(dataDir, { logger });
  queue = openSealedQueue(dataDir, crypto.randomBytes(32));
  keyRing = new KeyRing({ onDrop: (id) => accounts.handleKeysDropped(id) });
  accounts = new Accounts({
    directory,
    mailboxes,
    keyRing,
    queue,
    logger,
    kdf: TEST_KDF,
    throttle: { freeFailures: 2, baseDelayMs: 1, maxDelayMs: 5, pairLockAfter: 5, ipLockAfter: 40, lockMs: 60_000, aliasSlowAfter: 100, exemptLoopback: true },
    throttleClock: () => THROTTLE_NOW,
    appPasswords: { maxPerAlias: 3, maxNameLength: 20 },
  });
});

after(async () => {
  keyRing.dropAll();
  await mailboxes.closeAll();
  queue.close();
  directory.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function message(subject: string): Buffer {
  return Buffer.from(`From: sender@other.test\r\nTo: ${ADDRESS}\r\nSubject: ${subject}\r\nMessage-ID: <${crypto.randomUUID()}@other.test>\r\n\r\nBody ${subject}\r\n`);
}

/** Logs in over "IMAP" with the password, reads the INBOX subjects, logs out; the mailbox is locked again after. */
async function readInbox(password: string, ip: string = IMAP.ip): Promise<string[]> {
  const session = await accounts.authenticate(ADDRESS, password, { ip, protocol: 'imap' });
  try {
    await accounts.whenDrained(session.alias.id, 30_000);
    const subjects: string[] = [];
    for (const m of session.mailbox.listMessages('INBOX')) {
      subjects.push(/^Subject: (.*)$/m.exec((await session.mailbox.readMessage('INBOX', m.uid)).toString('utf8'))?.[1]?.trim() ?? '?');
    }
    return subjects;
  } finally {
    session.release();
  }
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof UserError && error.code === code);
}

describe('app passwords', () => {
  const made: Record<string, string> = {};
  let aliasId = '';

  it('are generated with at least 128 bits, as groups of lowercase letters; dashes, spaces and case do not matter', () => {
    assert.ok(APP_PASSWORD_BITS >= 128, `${APP_PASSWORD_BITS} bits`);
    const samples = Array.from({ length: 50 }, () => generateAppPassword());
    for (const p of samples) assert.match(p, /^[a-z]{4}(-[a-z]{4}){6}$/);
    assert.equal(new Set(samples).size, samples.length);
    const p = samples[0]!;
    const canonical = p.replace(/-/g, '');
    assert.equal(canonicalAppPassword(p), canonical);
    assert.equal(canonicalAppPassword(p.replace(/-/g, ' ').toUpperCase()), canonical);
    assert.equal(canonicalAppPassword(ALIAS_PASSWORD), null, 'an ordinary password is not taken for one (no derivation spent)');
    assert.equal(canonicalAppPassword(`${p}a`), null);
    assert.equal(canonicalAppPassword('-'.repeat(100_000)), null, 'huge input is refused before any work');
  });

  it('made for an alias, each one logs in over IMAP and reads the mail while the mailbox was locked', async () => {
    const { alias } = await accounts.createAlias(ADDRESS, ALIAS_PASSWORD);
    aliasId = alias.id;
    await accounts.unlock(ADDRESS, ALIAS_PASSWORD);
    const material = keyRing.get(alias.id)!;
    for (const name of ['Phone', 'Laptop']) made[name] = (await accounts.createAppPassword(alias, name, material)).password;
    await accounts.deliverOrQueue(alias, message('first'), { receivedAt: new Date() });
    await accounts.lock(alias.id);
    assert.equal(accounts.isUnlocked(alias.id), false);
    // Locked: the mail is sealed into the queue; an app-password login unseals it (the drain follows the login).
    assert.equal((await accounts.deliverOrQueue(alias, message('sealed while locked'), { receivedAt: new Date() })).stored, 'queue');
    assert.deepEqual(await readInbox(made.Phone!), ['first', 'sealed while locked']);
    await accounts.lock(alias.id);
    assert.deepEqual(await readInbox(made.Laptop!.replace(/-/g, ' ').toUpperCase()), ['first', 'sealed while locked']);
    const listed = accounts.listAppPasswords(alias.id);
    assert.deepEqual(listed.map((a) => a.name), ['Phone', 'Laptop']);
    assert.ok(listed.every((a) => a.lastUsed !== null && a.lastIp === IMAP.ip), 'last use and client address recorded');
  });

  it('are refused for the admin unlock, for a password change and for making other app passwords', async () => {
    await accounts.lock(aliasId as never);
    await assert.rejects(accounts.unlock(ADDRESS, made.Phone!, { ip: '192.0.2.11', protocol: 'admin' }), AuthFailed);
    await assert.rejects(accounts.unlock(ADDRESS, made.Phone!, { ip: '192.0.2.11', protocol: 'cli' }), AuthFailed);
    await assert.rejects(accounts.changePassword(ADDRESS, made.Phone!, 'Another long passphrase 19'), AuthFailed);
    assert.equal(accounts.isUnlocked(aliasId as never), false);
  });

  it('keep working after the alias password changes (re-sealed without knowing them), old alias password refused', async () => {
    await accounts.changePassword(ADDRESS, ALIAS_PASSWORD, 'Brand new harbour 88 lamps');
    await accounts.lock(aliasId as never);
    assert.deepEqual(await readInbox(made.Phone!), ['first', 'sealed while locked'], 'the app password opens the re-keyed file');
    await assert.rejects(readInbox(ALIAS_PASSWORD, '192.0.2.12'), AuthFailed);
    // An admin change (no old password, the alias unlocked) re-seals too.
    await accounts.unlock(ADDRESS, 'Brand new harbour 88 lamps');
    await accounts.changePassword(ADDRESS, null, 'Third harbour 99 lamps ok');
    await accounts.lock(aliasId as never);
    assert.deepEqual(await readInbox(made.Laptop!), ['first', 'sealed while locked']);
    assert.deepEqual(await readInbox('Third harbour 99 lamps ok'), ['first', 'sealed while locked']);
  });

  it('revoked: its live sessions end at once and it is refused; the others and the alias password still work', async () => {
    const phoneId = accounts.listAppPasswords(aliasId as never).find((a) => a.name === 'Phone')!.id;
    const phone = await accounts.authenticate(ADDRESS, made.Phone!, IMAP);
    const laptop = await accounts.authenticate(ADDRESS, made.Laptop!, IMAP);
    const master = await accounts.authenticate(ADDRESS, 'Third harbour 99 lamps ok', IMAP);
    const ended: string[] = [];
    phone.onRevoked?.((reason: RevokeReason) => ended.push(`phone:${reason}`));
    laptop.onRevoked?.((reason: RevokeReason) => ended.push(`laptop:${reason}`));
    master.onRevoked?.((reason: RevokeReason) => ended.push(`master:${reason}`));
    assert.deepEqual(accounts.revokeAppPassword(aliasId as never, phoneId), { revoked: true, sessions: 1 });
    assert.deepEqual(ended, ['phone:app-password-revoked']);
    phone.release();
    laptop.release();
    master.release();
    await assert.rejects(readInbox(made.Phone!), AuthFailed);
    assert.equal((await readInbox(made.Laptop!)).length, 2);
    assert.equal((await readInbox('Third harbour 99 lamps ok')).length, 2);
    assert.deepEqual(accounts.revokeAppPassword(aliasId as never, phoneId), { revoked: false, sessions: 0 });
  });

  it('revoked while a login with it is being checked: that login is refused too (no session outlives the revocation)', async () => {
    const alias = directory.requireAlias(ADDRESS);
    await accounts.unlock(ADDRESS, 'Third harbour 99 lamps ok');
    const racing = (await accounts.createAppPassword(alias, 'Racer', keyRing.get(alias.id)!)).password;
    const id = accounts.listAppPasswords(alias.id).find((a) => a.name === 'Racer')!.id;
    const login = accounts.authenticate(ADDRESS, racing, IMAP); // its rows are read, the derivation runs
    assert.deepEqual(accounts.revokeAppPassword(alias.id, id), { revoked: true, sessions: 0 });
    await assert.rejects(login, AuthFailed);
  });

  it('over the per-alias cap, with a name in use, too long or odd: refused, nothing stored', async () => {
    const alias = directory.requireAlias(ADDRESS);
    await accounts.unlock(ADDRESS, 'Third harbour 99 lamps ok');
    const material = (): ReturnType<KeyRing['get']> & object => keyRing.get(alias.id)!;
    await expectCode(accounts.createAppPassword(alias, 'Laptop', material()), 'APP_PASSWORD_EXISTS');
    for (const bad of ['', '   ', 'x'.repeat(21), 'tab\there', 'new\nline', '<script>', '-leading', 'two  spaces', '\u202eevil', 'emoji 📱']) {
      await expectCode(accounts.createAppPassword(alias, bad, material()), 'BAD_APP_PASSWORD_NAME');
    }
    made.Tablet = (await accounts.createAppPassword(alias, "Kids' tablet (2)", material())).password;
    made.Watch = (await accounts.createAppPassword(alias, 'Montre Zoë', material())).password;
    await expectCode(accounts.createAppPassword(alias, 'Fourth', material()), 'APP_PASSWORD_LIMIT');
    assert.deepEqual(accounts.listAppPasswords(alias.id).map((a) => a.name), ['Laptop', "Kids' tablet (2)", 'Montre Zoë']);
  });

  it('the cap and name length are settings with defaults (SEALPOST_APP_PASSWORDS_MAX, SEALPOST_APP_PASSWORD_NAME_MAX)', () => {
    assert.deepEqual(appPasswordLimitsFromEnv({}), { maxPerAlias: 20, maxNameLength: 64 });
    assert.deepEqual(appPasswordLimitsFromEnv({ SEALPOST_APP_PASSWORDS_MAX: '5', SEALPOST_APP_PASSWORD_NAME_MAX: '30' }), { maxPerAlias: 5, maxNameLength: 30 });
    assert.throws(() => appPasswordLimitsFromEnv({ SEALPOST_APP_PASSWORDS_MAX: '0' }), /SEALPOST_APP_PASSWORDS_MAX/);
    assert.throws(() => appPasswordLimitsFromEnv({ SEALPOST_APP_PASSWORD_NAME_MAX: 'lots' }), /SEALPOST_APP_PASSWORD_NAME_MAX/);
  });

  it('a wrong app password is throttled like a wrong password: delays, then the pair is locked out even for the right one', async () => {
    const ip = '198.51.100.7';
    const wrong = generateAppPassword();
    for (let i = 0; i < 5; i++) await assert.rejects(accounts.authenticate(ADDRESS, wrong, { ip, protocol: 'pop3' }), AuthFailed);
    await assert.rejects(accounts.authenticate(ADDRESS, made.Laptop!, { ip, protocol: 'pop3' }), TooManyAttempts);
    await assert.rejects(accounts.authenticate(ADDRESS, made.Laptop!, { ip, protocol: 'submission' }), TooManyAttempts);
    const failed = logs.filter((l) => l.includes('"auth.failed"') && l.includes(ip));
    assert.equal(failed.length, 5, 'each failure is a security log line');
  });

  it('leave no app password or name in plaintext in the data dir or the logs', async () => {
    keyRing.dropAll();
    await mailboxes.closeAll();
    const needles = [...Object.values(made), ...Object.values(made).map((p) => p.replace(/-/g, '')), 'Laptop', 'Montre Zo', "Kids' tablet", ALIAS_PASSWORD];
    assert.deepEqual(findPlaintext(dataDir, needles, { logs }), []);
  });
});
