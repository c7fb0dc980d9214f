// A password change killed (SIGKILL) at any point never locks the owner out: the next login with EITHER the
// old or the new password works — the first one used wins — and leaves file and directory consistent, with
// every message (including mail sealed into the queue while the change was half done). Real child processes,
// real encrypted files, real argon2id (cheap parameters).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Accounts, AuthFailed } from '../../server/accounts/index.js';
import { KeyRing } from '../../server/crypto/index.js';
import { Directory } from '../../server/directory/index.js';
import { silentLogger } from '../../server/log.js';
import { openMailboxStore } from '../../server/mailbox/index.js';
import type { MailboxStore } from '../../server/mailbox/types.js';
import { openSealedQueue, type SealedQueue } from '../../server/queue/index.js';
import { findPlaintext } from '../helpers/privacy.js';

const CHILD = fileURLToPath(new URL('../helpers/accounts-recovery-child.ts', import.meta.url));
const TEST_KDF = { algorithm: 'argon2id', memoryKiB: 8192, iterations: 1, parallelism: 1 } as const;
const THROTTLE = { freeFailures: 20, baseDelayMs: 1, maxDelayMs: 2, aliasLockAfter: 50, ipLockAfter: 500, lockMs: 60_000 };
const LOGIN = { ip: '127.0.0.1', protocol: 'imap' } as const;

/** Where the change is killed: before the re-key, inside it (store steps), after the swap, after the commit. */
const CRASH_POINTS = ['pending-saved', 'store:verified', 'rekeyed', 'committed'] as const;
type CrashPoint = (typeof CRASH_POINTS)[number];

interface Scenario {
  readonly crashAt: CrashPoint;
  readonly first: 'old' | 'new';
  readonly address: string;
  readonly oldPassword: string;
  readonly newPassword: string;
  readonly subjects: string[];
}

let dataDir: string;
const appKey = crypto.randomBytes(32);
const scenarios: Scenario[] = [];

interface Opened {
  readonly directory: Directory;
  readonly mailboxes: MailboxStore;
  readonly queue: SealedQueue;
  readonly keyRing: KeyRing;
  readonly accounts: Accounts;
  close(): Promise<void>;
}

/** This process's view of the data dir, as a freshly started server would open it. */
function open(): Opened {
  const directory = Directory.open(path.join(dataDir, 'sealpost.db'), appKey);
  const mailboxes = openMailboxStore(dataDir, { logger: silentLogger() });
  const queue = openSealedQueue(dataDir, appKey);
  let accounts: Accounts | null = null;
  const keyRing = new KeyRing({ onDrop: (id) => accounts?.handleKeysDropped(id) });
  accounts = new Accounts({ directory, mailboxes, keyRing, queue, logger: silentLogger(), kdf: TEST_KDF, throttle: THROTTLE });
  return {
    directory,
    mailboxes,
    queue,
    keyRing,
    accounts,
    async close() {
      keyRing.dropAll();
      await mailboxes.closeAll();
      queue.close();
      directory.close();
    },
  };
}

function message(to: string, subject: string): Buffer {
  return Buffer.from(`From: a@other.test\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${crypto.randomUUID()}@other.test>\r\n\r\nbody of ${subject}\r\n`);
}

function runChild(s: Scenario): Promise<{ signal: NodeJS.Signals | null; code: number | null; stdout: string }> {
  const job = { dataDir, appKey: appKey.toString('hex'), address: s.address, oldPassword: s.oldPassword, newPassword: s.newPassword, crashAt: s.crashAt };
  const env = { ...process.env, SEALPOST_TEST: '1', SEALPOST_TEST_CRASH_AT: s.crashAt };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(job)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal, stdout }));
  });
}

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  for (const sub of ['mailboxes', 'queue']) fs.mkdirSync(path.join(dataDir, sub), { mode: 0o700 });
  const setup = open();
  try {
    setup.directory.addDomain('example.test');
    for (const crashAt of CRASH_POINTS) {
      for (const first of ['old', 'new'] as const) {
        const address = `${crashAt.replace(':', '-')}-${first}@example.test`;
        const s: Scenario = { crashAt, first, address, oldPassword: `Old-${crypto.randomBytes(8).toString('hex')}-pw`, newPassword: `New-${crypto.randomBytes(8).toString('hex')}-pw`, subjects: [] };
        await setup.accounts.createAlias(address, s.oldPassword);
        const session = await setup.accounts.authenticate(address, s.oldPassword, LOGIN);
        for (let i = 0; i < 3; i++) {
          const subject = `msg ${i} of ${address}`;
          await session.mailbox.append('INBOX', message(address, subject));
          s.subjects.push(subject);
        }
        session.release();
        scenarios.push(s);
      }
    }
  } finally {
    await setup.close(); // every mailbox closed: the children re-key them
  }
  // Every change is killed at its point, all at once.
  const results = await Promise.all(scenarios.map(runChild));
  results.forEach((r, i) => assert.equal(r.signal, 'SIGKILL', `child for ${scenarios[i]?.address} was killed at ${scenarios[i]?.crashAt} (exit ${r.code}, ${r.stdout})`));
});

after(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('password change killed part-way', () => {
  it('the first password used afterwards wins, the other stops working, no message is lost and no record is left', async () => {
    const ctx = open();
    try {
      // Recovery records are left exactly where the change was cut before its commit.
      const pending = new Set(ctx.accounts.pendingPasswordChanges());
      for (const s of scenarios) {
        const alias = ctx.directory.requireAlias(s.address);
        assert.equal(pending.has(alias.id), s.crashAt !== 'committed', `${s.address}: recovery record present`);
        // Mail arriving meanwhile (locked alias): sealed to the unchanged public key.
        await ctx.accounts.deliverOrQueue(alias, message(s.address, `late ${s.address}`), { receivedAt: new Date() });
      }
      for (const s of scenarios) {
        // After a completed commit the change simply happened; before it, the first password used wins.
        const winner = s.crashAt === 'committed' ? 'new' : s.first;
        const [winPassword, losePassword] = winner === 'old' ? [s.oldPassword, s.newPassword] : [s.newPassword, s.oldPassword];
        const firstPassword = s.first === 'old' ? s.oldPassword : s.newPassword;
        if (firstPassword !== winPassword) await assert.rejects(ctx.accounts.authenticate(s.address, firstPassword, LOGIN), AuthFailed);
        const session = await ctx.accounts.authenticate(s.address, winPassword, LOGIN);
        assert.equal(await ctx.accounts.whenDrained(session.alias.id, 30_000), true, 'the queued message drains after the login');
        const subjects = session.mailbox.listMessages('INBOX').length;
        session.release();
        assert.equal(subjects, 4, `${s.address} (${s.crashAt}, ${s.first} first): 3 old messages + 1 queued`);
        await assert.rejects(ctx.accounts.authenticate(s.address, losePassword, LOGIN), AuthFailed, `${s.address}: the other password no longer works`);
      }
      assert.deepEqual(ctx.accounts.pendingPasswordChanges(), [], 'every record resolved');
    } finally {
      await ctx.close();
    }
    // A fresh start (nothing cached): the winners still open their mailboxes with every message intact.
    const again = open();
    try {
      for (const s of scenarios) {
        const winner = s.crashAt === 'committed' ? s.newPassword : s.first === 'old' ? s.oldPassword : s.newPassword;
        const session = await again.accounts.authenticate(s.address, winner, LOGIN);
        assert.equal(await again.accounts.whenDrained(session.alias.id, 30_000), true);
        const found = session.mailbox.listMessages('INBOX').length;
        session.release();
        assert.equal(found, 4, s.address);
      }
      const leftovers = fs.readdirSync(path.join(dataDir, 'mailboxes')).filter((f) => f.includes('.rekey'));
      assert.deepEqual(leftovers, [], 'no half-made re-key copies left behind');
    } finally {
      await again.close();
    }
  });

  it('the recovery record holds no password and no raw key (privacy)', () => {
    const secrets = scenarios.flatMap((s) => [s.oldPassword, s.newPassword, s.address, ...s.subjects]);
    // Only the start of a secret in the message: the report itself must not print a password in full.
    assert.deepEqual(findPlaintext(dataDir, secrets).map((leak) => leak.slice(0, leak.indexOf(': ') + 14)), []);
  });
});
