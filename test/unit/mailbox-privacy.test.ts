// After the corpus is appended, no subject, address or body token can be found in any byte under the
// data dir: not in the mailbox file, not in its WAL, not in a re-key leftover.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { storeFixture } from '../helpers/mailbox.js';
import { findPlaintext, regularFilesUnder } from '../helpers/privacy.js';
import { generateCorpus, type CorpusMessage } from '../helpers/corpus.js';
import type { MailboxStoreOptions } from '../../server/mailbox/index.js';

const corpus = generateCorpus(40, 21);

/** Plaintext a reader of the disk must never find: subjects, addresses, names, tokens (as sent and as folded for search). */
function secretsOf(messages: readonly CorpusMessage[]): string[] {
  const out = new Set<string>();
  for (const m of messages) {
    for (const s of [m.token, m.from, m.to, m.subject, m.subject.toLowerCase(), m.fromName, m.fromName.toLowerCase()]) {
      if (s.length >= 6) out.add(s);
    }
  }
  return [...out];
}

async function fill(options: MailboxStoreOptions): Promise<{ leaksOpen: string[]; leaksClosed: string[]; leaksRekeyed: string[]; files: string[] }> {
  const fx = storeFixture(options);
  try {
    const { id, key, mailbox } = await fx.newMailbox();
    for (const m of corpus) await mailbox.append('INBOX', m.raw, { flags: ['$Secretkeyword'] });
    mailbox.copy('INBOX', [[1, 10]], 'Archive');
    const secrets = secretsOf(corpus);
    const leaksOpen = findPlaintext(fx.dataDir, secrets); // WAL present and unchekpointed
    const files = regularFilesUnder(fx.dataDir).map((f) => f.slice(fx.dataDir.length));
    await fx.store.close(id);
    const leaksClosed = findPlaintext(fx.dataDir, secrets);
    let leaksRekeyed: string[] = [];
    if (options.unencryptedForBenchmarks !== true) {
      await fx.store.rekey(id, key, randomBytes(32));
      leaksRekeyed = findPlaintext(fx.dataDir, secrets);
    }
    return { leaksOpen, leaksClosed, leaksRekeyed, files };
  } finally {
    await fx.cleanup();
  }
}

test('no subject, address or body token is findable in the mailbox file, its WAL or the data dir', async () => {
  // Compression off: the cipher alone must hide everything (compression would mask a leak).
  for (const compression of ['none', 'lz4', 'deflate'] as const) {
    const r = await fill({ compression });
    assert.ok(r.files.some((f) => f.endsWith('.sqlite-wal')), 'the WAL was checked while present');
    assert.deepEqual(r.leaksOpen, [], `${compression}: open`);
    assert.deepEqual(r.leaksClosed, [], `${compression}: closed`);
    assert.deepEqual(r.leaksRekeyed, [], `${compression}: re-keyed`);
  }
});

test('control: the same scan does find the plaintext when the cipher is off (the check can see leaks)', async () => {
  const r = await fill({ compression: 'none', unencryptedForBenchmarks: true });
  assert.ok(r.leaksOpen.length > 0 || r.leaksClosed.length > 0);
});
