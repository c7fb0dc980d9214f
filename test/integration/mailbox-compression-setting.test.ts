// SEALPOST_MAILBOX_COMPRESSION as an operator sets it: the opened appliance writes new mailbox blobs with the
// chosen codec (LZ4 by default), and a bad value stops `sealpost serve` with one sentence naming the variable.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { closeContext, openContext } from '../../server/app.js';
import { silentLogger } from '../../server/log.js';
import { openDb } from '../../server/mailbox/sqlite.js';
import type { MailboxId } from '../../server/mailbox/index.js';
import { simpleMessage } from '../helpers/mailbox.js';
import { findPlaintext } from '../helpers/privacy.js';
import { runCli, tempDataDir } from '../helpers/sealpost-cli.js';

/** Appends one message through the opened appliance's own mailbox store; returns the first byte of each stored blob. */
async function storedTags(env: NodeJS.ProcessEnv, dataDir: string, body: string): Promise<number[]> {
  const ctx = await openContext({ env }, { logger: silentLogger() });
  const id = randomUUID() as MailboxId;
  const key = randomBytes(32);
  try {
    await ctx.mailboxes.create(id, key, null);
    const mailbox = await ctx.mailboxes.open(id, key);
    const raw = simpleMessage('compression setting check', body);
    await mailbox.append('INBOX', raw);
    assert.ok((await mailbox.readMessage('INBOX', 1)).equals(raw));
  } finally {
    await closeContext(ctx);
  }
  const db = openDb(join(dataDir, 'mailboxes', `${id}.sqlite`), key, { encrypted: true, readonly: true });
  try {
    const parts = (db.prepare('SELECT data FROM body_parts').all() as { data: Buffer }[]).map((r) => r.data[0]!);
    const body = db.prepare('SELECT structure, search_body FROM bodies').get() as { structure: Buffer; search_body: Buffer };
    return [...parts, body.structure[0]!, body.search_body[0]!];
  } finally {
    db.close();
  }
}

describe('SEALPOST_MAILBOX_COMPRESSION', () => {
  let data: ReturnType<typeof tempDataDir>;
  before(() => {
    data = tempDataDir();
  });
  after(() => data.cleanup());

  const body = `${'The quarterly figures are in the attached sheet, please review them before Friday. '.repeat(60)}zq481516`;

  it('unset: new message parts are stored LZ4 (tag 3)', async () => {
    const tags = await storedTags(data.env, data.dir, body);
    assert.equal(tags[0], 3, 'body part');
    assert.equal(tags[tags.length - 1], 3, 'search text');
  });

  it('deflate: new message parts are stored deflate (tag 1), search text stays LZ4', async () => {
    const tags = await storedTags({ ...data.env, SEALPOST_MAILBOX_COMPRESSION: 'deflate' }, data.dir, body);
    assert.equal(tags[0], 1, 'body part');
    assert.equal(tags[tags.length - 1], 3, 'search text');
  });

  it('none: nothing is compressed (tag 0), the cipher alone hides the text', async () => {
    const tags = await storedTags({ ...data.env, SEALPOST_MAILBOX_COMPRESSION: 'none' }, data.dir, body);
    assert.deepEqual([...new Set(tags)], [0]);
    assert.deepEqual(findPlaintext(data.dir, ['zq481516', 'quarterly figures', 'compression setting check', 'alice@example.com']), []);
  });

  it('a bad value stops serve with a sentence naming the variable', async () => {
    const bad = await runCli(['serve', '--data', data.dir], { env: { ...data.env, SEALPOST_MAILBOX_COMPRESSION: 'zstd' } });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr + bad.stdout, /SEALPOST_MAILBOX_COMPRESSION must be one of lz4, deflate, brotli, none, not "zstd"\./);
    assert.doesNotMatch(bad.stderr + bad.stdout, /\n\s+at /, 'no stack trace');
  });
});
