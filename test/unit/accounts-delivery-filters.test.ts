// The delivery filters: where a message delivered to an unlocked mailbox, or drained from the sealed queue at the
// next login, is stored. Filters run in order and see the decision before them; several folders make several
// copies, none discards, a failing filter is skipped (the mail is kept), and a retried store (same dedupe key) makes
// no second copy of any folder. Real accounts, directory, sealed queue and encrypted mailbox files.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Accounts, type DeliveryFilter } from '../../server/accounts/index.js';
import { storeDelivered } from '../../server/accounts/append.js';
import { KeyRing } from '../../server/crypto/index.js';
import { Directory, type AliasRecord } from '../../server/directory/index.js';
import { silentLogger } from '../../server/log.js';
import { openMailboxStore } from '../../server/mailbox/index.js';
import type { Mailbox, MailboxStore } from '../../server/mailbox/types.js';
import { openSealedQueue, type SealedQueue } from '../../server/queue/index.js';

const TEST_KDF = { algorithm: 'argon2id', memoryKiB: 8192, iterations: 1, parallelism: 1 } as const;
const LOCAL = { ip: '127.0.0.1', protocol: 'imap' } as const;

/** Files "[list]" mail into Lists and keeps a copy in INBOX, flagged; prepends a header saying it ran. */
const listFilter: DeliveryFilter = {
  name: 'lists',
  async apply(_input, decision) {
    const raw = Buffer.concat([Buffer.from('X-Test-Filter: lists\r\n'), decision.raw]);
    if (!decision.raw.toString('latin1').includes('Subject: [list]')) return { ...decision, raw };
    return { raw, folders: ['Lists', ...decision.folders], flags: [...decision.flags, '\\Flagged'] };
  },
};
/** Discards mail whose subject says so; throws for mail whose subject says "boom". */
const dropFilter: DeliveryFilter = {
  name: 'drop',
  async apply(_input, decision) {
    const text = decision.raw.toString('latin1');
    if (text.includes('Subject: boom')) throw new TypeError('filter bug');
    return text.includes('Subject: drop me') ? { ...decision, folders: [] } : decision;
  },
};

let dataDir: string;
let directory: Directory;
let mailboxes: MailboxStore;
let queue: SealedQueue;
let keyRing: KeyRing;
let accounts: Accounts;
let alias: AliasRecord;
let password: string;

const message = (subject: string): Buffer =>
  Buffer.from(`From: sender@other.test\r\nTo: alice@example.test\r\nSubject: ${subject}\r\nMessage-ID: <${crypto.randomUUID()}@other.test>\r\n\r\nbody\r\n`);

const subjectsIn = async (mailbox: Mailbox, folder: string): Promise<string[]> => {
  const out: string[] = [];
  for (const meta of mailbox.listMessages(folder)) out.push(/Subject: (.*)\r\n/.exec((await mailbox.readMessage(folder, meta.uid)).toString('latin1'))?.[1] ?? '');
  return out.sort();
};

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  for (const sub of ['mailboxes', 'queue']) fs.mkdirSync(path.join(dataDir, sub), { mode: 0o700 });
  directory = Directory.open(path.join(dataDir, 'sealpost.db'), crypto.randomBytes(32));
  directory.addDomain('example.test');
  mailboxes = openMailboxStore(dataDir, { logger: silentLogger() });
  queue = openSealedQueue(dataDir, crypto.randomBytes(32));
  keyRing = new KeyRing({ onDrop: (id) => accounts.handleKeysDropped(id) });
  accounts = new Accounts({ directory, mailboxes, keyRing, queue, logger: silentLogger(), kdf: TEST_KDF, deliveryFilters: [listFilter, dropFilter] });
  const created = await accounts.createAlias('alice@example.test');
  alias = created.alias;
  password = created.password ?? '';
  const session = await accounts.authenticate(alias.address, password, LOCAL);
  session.mailbox.createFolder('Lists');
  session.release();
});

after(async () => {
  keyRing.dropAll();
  await mailboxes.closeAll();
  queue.close();
  directory.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('delivery filters', () => {
  it('files an unlocked delivery where the filters decide: two copies, one discarded, a failing filter skipped', async () => {
    const session = await accounts.authenticate(alias.address, password, LOCAL);
    try {
      const listed = await accounts.deliverOrQueue(alias, message('[list] news'), { receivedAt: new Date() });
      assert.equal(listed.stored, 'mailbox');
      assert.deepEqual(listed.placed?.map((p) => p.folder), ['Lists', 'INBOX'], 'one copy per folder, in order');
      const dropped = await accounts.deliverOrQueue(alias, message('drop me'), { receivedAt: new Date() });
      assert.deepEqual(dropped.placed, [], 'discarded: nothing stored');
      assert.equal(dropped.uid, undefined);
      const boom = await accounts.deliverOrQueue(alias, message('boom'), { receivedAt: new Date() });
      assert.deepEqual(boom.placed?.map((p) => p.folder), ['INBOX'], 'a failing filter keeps the mail as decided before it');
      assert.deepEqual(await subjectsIn(session.mailbox, 'Lists'), ['[list] news']);
      assert.deepEqual(await subjectsIn(session.mailbox, 'INBOX'), ['[list] news', 'boom']);
      const [lists] = session.mailbox.listMessages('Lists');
      assert.ok(lists?.flags.includes('\\Flagged'), 'flags of the decision are set');
      const stored = (await session.mailbox.readMessage('Lists', lists!.uid)).toString('latin1');
      assert.ok(stored.startsWith('X-Test-Filter: lists\r\n'), 'the bytes a filter decided are stored');
    } finally {
      session.release();
    }
  });

  it('filters mail sealed while locked when it is drained at the next login', async () => {
    keyRing.drop(alias.id);
    const sealed = await accounts.deliverOrQueue(alias, message('[list] sealed'), { receivedAt: new Date() });
    assert.equal(sealed.stored, 'queue');
    await accounts.deliverOrQueue(alias, message('drop me too'), { receivedAt: new Date() });
    const session = await accounts.authenticate(alias.address, password, LOCAL);
    try {
      await accounts.whenDrained(alias.id);
      assert.deepEqual(await subjectsIn(session.mailbox, 'Lists'), ['[list] news', '[list] sealed']);
      assert.ok((await subjectsIn(session.mailbox, 'INBOX')).includes('[list] sealed'));
      assert.ok(!(await subjectsIn(session.mailbox, 'INBOX')).some((s) => s.startsWith('drop me')), 'discarded at drain time too');
    } finally {
      session.release();
    }
  });

  it('a retried store with the same dedupe key makes no second copy in any folder; a deleted folder falls back to INBOX', async () => {
    const session = await accounts.authenticate(alias.address, password, LOCAL);
    try {
      const target = { alias, mailbox: session.mailbox, filters: [listFilter], logger: silentLogger() };
      const raw = message('[list] retried');
      const first = await storeDelivered(target, raw, { receivedAt: new Date() }, 'queue:retry-1');
      const again = await storeDelivered(target, raw, { receivedAt: new Date() }, 'queue:retry-1');
      assert.deepEqual(again, first, 'the same copies answer the retry');
      assert.equal((await subjectsIn(session.mailbox, 'Lists')).filter((s) => s === '[list] retried').length, 1);
      assert.equal((await subjectsIn(session.mailbox, 'INBOX')).filter((s) => s === '[list] retried').length, 1);
      session.mailbox.deleteFolder('Lists');
      const fallback = await storeDelivered(target, message('[list] no folder'), { receivedAt: new Date() });
      assert.deepEqual(fallback.map((p) => p.folder), ['INBOX'], 'Lists is gone: one copy in INBOX, not two');
    } finally {
      session.release();
    }
  });
});
