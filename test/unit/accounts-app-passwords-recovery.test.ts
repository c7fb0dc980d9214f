// A password change killed (SIGKILL) part-way with app passwords in place: while the change is unresolved an
// app password is refused (it holds the keys of one side only); the first alias password used resolves it, and
// from then on every app password opens the mailbox again, whichever side won. Real child processes (the one
// the plain recovery test uses), real encrypted files, real argon2id (cheap parameters).
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

const CHILD = fileURLToPath(new URL('../helpers/accounts-recovery-child.ts', import.meta.url));
const TEST_KDF = { algorithm: 'argon2id', memoryKiB: 8192, iterations: 1, parallelism: 1 } as const;
const LOGIN = { ip: '127.0.0.1', protocol: 'imap' } as const;

interface Scenario {
  readonly crashAt: 'pending-saved' | 'rekeyed';
  readonly first: 'old' | 'new';
  readonly address: string;
  readonly oldPassword: string;
  readonly newPassword: string;
  appPassword: string;
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

function open(): Opened {
  const directory = Directory.open(path.join(dataDir, 'sealpost.db'), appKey);
  const mailboxes = openMailboxStore(dataDir, { logger: silentLogger() });
  const queue = openSealedQueue(dataDir, appKey);
  let accounts: Accounts | null = null;
  const keyRing = new KeyRing({ onDrop: (id) => accounts?.handleKeysDropped(id) });
  accounts = new Accounts({ directory, mailboxes, keyRing, queue, logger: silentLogger(), kdf: TEST_KDF });
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

function runChild(s: Scenario): Promise<{ signal: NodeJS.Signals | null; code: number | null }> {
  const job = { dataDir, appKey: appKey.toString('hex'), address: s.address, oldPassword: s.oldPassword, newPassword: s.newPassword, crashAt: s.crashAt };
  const env = { ...process.env, SEALPOST_TEST: '1', SEALPOST_TEST_CRASH_AT: s.crashAt };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(job)], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  for (const sub of ['mailboxes', 'queue']) fs.mkdirSync(path.join(dataDir, sub), { mode: 0o700 });
  const setup = open();
  try {
    setup.directory.addDomain('example.test');
    for (const crashAt of ['pending-saved', 'rekeyed'] as const) {
      for (const first of ['old', 'new'] as const) {
        const address = `${crashAt}-${first}@example.test`;
        const s: Scenario = { crashAt, first, address, oldPassword: `Old-${crypto.randomBytes(8).toString('hex')}-pw`, newPassword: `New-${crypto.randomBytes(8).toString('hex')}-pw`, appPassword: '' };
        const { alias } = await setup.accounts.createAlias(address, s.oldPassword);
        const session = await setup.accounts.authenticate(address, s.oldPassword, LOGIN);
        await session.mailbox.append('INBOX', Buffer.from(`Subject: kept\r\nMessage-ID: <${crypto.randomUUID()}@t>\r\n\r\nbody\r\n`));
        s.appPassword = (await setup.accounts.createAppPassword(alias, 'Phone', setup.keyRing.get(alias.id)!)).password;
        session.release();
        scenarios.push(s);
      }
    }
  } finally {
    await setup.close();
  }
  const results = await Promise.all(scenarios.map(runChild));
  results.forEach((r, i) => assert.equal(r.signal, 'SIGKILL', `child for ${scenarios[i]?.address} was killed (exit ${r.code})`));
});

after(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('app passwords across a password change killed part-way', () => {
  it('refused while unresolved; after the first alias password used, every app password opens the mailbox', async () => {
    const ctx = open();
    try {
      for (const s of scenarios) {
        await assert.rejects(ctx.accounts.authenticate(s.address, s.appPassword, LOGIN), AuthFailed, `${s.address}: refused while the change is unresolved`);
        const winner = s.first === 'old' ? s.oldPassword : s.newPassword;
        (await ctx.accounts.authenticate(s.address, winner, LOGIN)).release();
        await ctx.accounts.lock(ctx.directory.requireAlias(s.address).id);
        const session = await ctx.accounts.authenticate(s.address, s.appPassword, LOGIN);
        try {
          assert.equal(session.mailbox.listMessages('INBOX').length, 1, `${s.address} (${s.crashAt}, ${s.first} first): the app password opens the file`);
        } finally {
          session.release();
        }
      }
    } finally {
      await ctx.close();
    }
  });
});
