// The Sieve script store inside an encrypted mailbox file (schema v7): one active script at most (RFC 5804 §1.3),
// the active one not deletable (RFC 5804 §2.10), rename keeps the mark, the vacation log and its pruning, all
// surviving a close and reopen, and no script text readable in the file.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { storeFixture, type StoreFixture } from '../helpers/mailbox.js';
import { NoSuchScript, ScriptActive, ScriptExists } from '../../server/mailbox/index.js';

describe('mailbox store: Sieve scripts', () => {
  let fx: StoreFixture;
  before(() => {
    fx = storeFixture();
  });
  after(() => fx.cleanup());

  test('RFC 5804 §2.8/§2.10/§2.11: put, activate one at a time, refuse to delete the active one, rename keeps it active', async () => {
    const { mailbox: mb } = await fx.newMailbox();
    assert.deepEqual(mb.sieve.list(), []);
    assert.equal(mb.sieve.active(), null);
    mb.sieve.put('rules', 'require "fileinto";\nfileinto "Lists";\n');
    mb.sieve.put('other', 'keep;\n');
    mb.sieve.setActive('rules');
    assert.deepEqual(mb.sieve.active(), { name: 'rules', content: 'require "fileinto";\nfileinto "Lists";\n' });
    mb.sieve.setActive('other');
    assert.deepEqual(mb.sieve.list().map((s) => [s.name, s.active]), [['other', true], ['rules', false]]);
    assert.throws(() => mb.sieve.delete('other'), ScriptActive);
    assert.throws(() => mb.sieve.delete('missing'), NoSuchScript);
    assert.throws(() => mb.sieve.setActive('missing'), NoSuchScript);
    assert.throws(() => mb.sieve.rename('rules', 'other'), ScriptExists);
    mb.sieve.rename('other', 'main');
    assert.equal(mb.sieve.active()?.name, 'main');
    mb.sieve.put('main', 'discard;\n');
    assert.equal(mb.sieve.active()?.content, 'discard;\n', 'replacing the active script keeps it active');
    mb.sieve.setActive(null);
    assert.equal(mb.sieve.active(), null);
    mb.sieve.delete('main');
    assert.deepEqual(mb.sieve.list().map((s) => s.name), ['rules']);
    assert.equal(mb.sieve.totalBytes(), Buffer.byteLength('require "fileinto";\nfileinto "Lists";\n'));
  });

  test('RFC 5230 §4.2: the vacation log answers the last reply time and drops entries older than asked', async () => {
    const { mailbox: mb } = await fx.newMailbox();
    const key = Buffer.from('a'.repeat(32));
    const other = Buffer.from('b'.repeat(32));
    const day = 86_400_000;
    const now = Date.UTC(2026, 11, 7);
    assert.equal(mb.sieve.lastVacationReply(key, new Date(now - 7 * day)), null);
    mb.sieve.recordVacationReply(key, new Date(now - 2 * day));
    mb.sieve.recordVacationReply(other, new Date(now - 10 * day));
    assert.equal(mb.sieve.lastVacationReply(key, new Date(now - 7 * day))?.getTime(), now - 2 * day);
    assert.equal(mb.sieve.lastVacationReply(other, new Date(now - 7 * day)), null, 'older than the window: pruned');
    mb.sieve.recordVacationReply(key, new Date(now));
    assert.equal(mb.sieve.lastVacationReply(key, new Date(now - 7 * day))?.getTime(), now);
  });

  test('scripts survive a close and reopen, and their text is not readable in the encrypted file', async () => {
    const { mailbox: mb, id, key } = await fx.newMailbox();
    const marker = 'SieveStoreMarker7f3a';
    mb.sieve.put('secret', `if header :contains "subject" "${marker}" { discard; }\n`);
    mb.sieve.setActive('secret');
    await fx.store.close(id);
    const reopened = await fx.store.open(id, key);
    assert.equal(reopened.sieve.active()?.name, 'secret');
    assert.ok(reopened.sieve.get('secret')?.includes(marker));
    await fx.store.close(id);
    for (const suffix of ['', '-wal']) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(fx.dataDir, 'mailboxes', `${id}.sqlite${suffix}`));
      } catch {
        continue;
      }
      assert.equal(bytes.includes(marker), false, `no script text in ${suffix || 'the file'}`);
    }
  });
});
