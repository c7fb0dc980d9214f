// The shared corpus generator (../shared/bench/gen-corpus.py, or $SEALPOST_SHARED_DIR/bench) checked end to end:
// every message it writes parses with server/mime, goes into a real mailbox over IMAP (APPEND) and comes back
// byte for byte (FETCH BODY[]), and SEARCH for each message's unique token finds exactly that message.
// A missing shared folder fails this test with what to do; SEALPOST_SHARED_DIR=none skips it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { parseMessage, toCrlf } from '../../server/mime/index.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';
import { findPlaintext } from '../helpers/privacy.js';
import { sharedDirOptOut, sharedPath } from '../helpers/shared-dir.js';

/** One record of the generator's index.json. */
interface CorpusRecord {
  readonly n: number;
  readonly message_id: string;
  readonly subject: string;
  readonly token: string;
  readonly size: number;
  readonly kind: string;
}

const COUNT = 60;
const SEED = 20261206;
const optOut = sharedDirOptOut();

let fx: ImapFixture;
let client: ImapFlow;
let outDir: string;
const messages: { record: CorpusRecord; raw: Buffer }[] = [];
const uidOf = new Map<string, number>();

before(async () => {
  if (optOut) return;
  const generator = sharedPath('bench/gen-corpus.py');
  outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-corpus-'));
  const corpusDir = path.join(outDir, 'eml');
  // Async: the IMAP server below runs in this process (a synchronous child would block it; here it is not up yet).
  await promisify(execFile)('python3', [generator, String(COUNT), corpusDir, '--format', 'eml', '--seed', String(SEED)]);
  const index = JSON.parse(fs.readFileSync(path.join(corpusDir, 'index.json'), 'utf8')) as CorpusRecord[];
  for (const record of index) messages.push({ record, raw: fs.readFileSync(path.join(corpusDir, `${String(record.n).padStart(6, '0')}.eml`)) });
  fx = await startImapFixture();
  const alice = await fx.addUser('alice', 200 * 1024 * 1024);
  client = new ImapFlow({
    host: fx.host,
    port: fx.securePort,
    secure: true,
    tls: { ca: [fx.tls.certificatePem()], servername: 'localhost' },
    auth: { user: alice.address, pass: alice.password },
    logger: false,
  });
  await client.connect();
});

after(async () => {
  await client?.logout().catch(() => client.close());
  await fx?.close();
  if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
});

describe('the shared corpus (gen-corpus.py) through server/mime and a real mailbox', { skip: optOut ?? false }, () => {
  it(`writes ${COUNT} messages with an index, one unique token each, as its usage says`, (t) => {
    assert.equal(messages.length, COUNT);
    assert.equal(new Set(messages.map((m) => m.record.token)).size, COUNT, 'tokens are unique');
    const bareLf: number[] = [];
    for (const { record, raw } of messages) {
      assert.equal(raw.length, record.size, `${record.n}: size in the index`);
      // The usage promises CRLF (RFC 5322 §2.1), but the generator folds long encoded Subjects with a bare LF
      // ("?=\n =?utf-8?…"). That is the only deviation allowed here; the store turns it into CRLF (below).
      const text = raw.toString('latin1');
      if (/(?<!\r)\n/.test(text)) {
        bareLf.push(record.n);
        assert.ok(!/(?<!\r)\n(?![ \t])/.test(text), `${record.n}: a bare LF only where a header line is folded`);
      }
    }
    t.diagnostic(`messages with a bare LF in a folded header: ${bareLf.join(', ') || 'none'}`);
    assert.ok(new Set(messages.map((m) => m.record.kind)).size >= 3, 'several kinds of message');
  });

  it('every message parses with server/mime: no fallback, its Message-ID, and its token in the decoded body text', () => {
    for (const { record, raw } of messages) {
      const parsed = parseMessage(raw);
      assert.equal(parsed.mimeFallback, undefined, `${record.n} (${record.kind}) parses as MIME`);
      assert.equal(parsed.mimeTruncated, undefined, `${record.n}: within the MIME limits`);
      assert.equal(parsed.messageId, record.message_id, `${record.n}: Message-ID`);
      // The index holds the subject's words without the non-ASCII tail some subjects carry.
      assert.ok(parsed.search.subject.startsWith(record.subject), `${record.n}: decoded subject ${parsed.search.subject}`);
      assert.ok(parsed.search.body.includes(record.token), `${record.n}: token ${record.token} in the body text`);
      assert.ok(!parsed.search.body.includes('zq000000'), 'the never-used token appears nowhere');
    }
  });

  it('RFC 3501 §6.3.11 APPEND then §6.4.5 FETCH BODY[]: every message comes back byte for byte (CRLF messages as sent, bare LF as CRLF)', async () => {
    for (const { record, raw } of messages) {
      const appended = await client.append('INBOX', raw, ['\\Seen']);
      assert.ok(appended && typeof appended.uid === 'number', `${record.n}: APPENDUID`);
      uidOf.set(record.token, appended.uid);
    }
    await client.mailboxOpen('INBOX');
    for (const { record, raw } of messages) {
      const uid = uidOf.get(record.token);
      const fetched = await client.fetchOne(String(uid), { source: true, size: true }, { uid: true });
      assert.ok(fetched && fetched.source, `${record.n}: fetched`);
      // IMAP messages are CRLF (RFC 3501 §2.3.1 sizes count CRLF): a bare LF is stored as CRLF, nothing else changes.
      const stored = toCrlf(raw);
      assert.equal(stored === raw, !/(?<!\r)\n/.test(raw.toString('latin1')), `${record.n}: only bare-LF messages are rewritten`);
      assert.ok(fetched.source.equals(stored), `${record.n} (${record.kind}): BODY[] is byte-identical`);
      assert.equal(fetched.size, stored.length, `${record.n}: RFC822.SIZE`);
    }
  });

  it('RFC 3501 §6.4.4 SEARCH BODY <token> finds exactly the message that carries it, and TEXT does too', async () => {
    for (const { record } of messages) {
      const uid = uidOf.get(record.token);
      assert.deepEqual(await client.search({ body: record.token }, { uid: true }), [uid], `${record.n}: BODY ${record.token}`);
    }
    for (const { record } of messages.slice(0, 10)) {
      assert.deepEqual(await client.search({ text: record.token }, { uid: true }), [uidOf.get(record.token)], `${record.n}: TEXT ${record.token}`);
    }
    assert.deepEqual(await client.search({ body: 'zq000000' }, { uid: true }), [], 'the token no message carries finds nothing');
  });

  it('no token or subject is stored in plaintext', () => {
    const needles = messages.slice(0, 10).flatMap((m) => [m.record.token, m.record.subject]);
    assert.deepEqual(findPlaintext(fx.dataDir, needles), []);
  });
});
