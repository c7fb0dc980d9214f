// FETCH of whole messages (BODY[], BODY.PEEK[], RFC822, with or without <partial>) reads the bodies a batch
// ahead in the store's reader thread while the event loop writes the current ones. What the client gets must be
// exactly what it got before: every byte as appended, \Seen set and reported for non-PEEK, the large message
// streamed, and a FETCH racing an EXPUNGE of everything still ends OK with whole responses. Real server, real
// sockets, real encrypted mailbox files, a real worker thread.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { readerStats } from '../../server/mailbox/index.js';
import { READ_AHEAD_MIN_MESSAGES } from '../../server/imap/commands/fetch-prefetch.js';
import { generateCorpus, loadSharedCorpus } from '../helpers/corpus.js';
import { crlf, fetchRacingExpungeAll, fetchResponses, isAtom, status, startFetchFixture, type FetchFixture } from './fetch-helpers.js';

let f: FetchFixture;
before(async () => {
  f = await startFetchFixture();
});
after(() => f.close());

/** A message of about `bytes` bytes of base64 text (above READ_BYTES it is streamed, not read ahead). */
function sized(bytes: number): Buffer {
  const body = randomBytes(Math.ceil((bytes * 3) / 4)).toString('base64').replace(/.{76}/g, '$&\r\n');
  return crlf('From: big@example.com', 'To: b@example.org', `Subject: ${bytes} bytes`, 'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64', '', body, '');
}

function messagesForTest(): Buffer[] {
  return [
    ...generateCorpus(70, 21).map((m) => m.raw),
    ...loadSharedCorpus().map((m) => m.raw),
    crlf('Subject: headers only'),
    crlf('', 'an empty header'),
    sized(200 * 1024),
    sized(2 * 1024 * 1024),
    sized(300),
  ];
}

describe('FETCH of whole messages, read ahead', () => {
  test('RFC 9051 §6.4.5: BODY.PEEK[], RFC822 and BODY[]<partial> of every message are the appended bytes; the reader thread answered', async () => {
    const u = await f.user();
    const appended = messagesForTest();
    for (const raw of appended) await u.mailbox.append('INBOX', raw);
    // The store keeps bare-LF messages (the shared corpus) with CRLF line ends: the reference is what readMessage
    // reads on the event loop, which for every CRLF message is the appended bytes.
    const messages = await Promise.all(appended.map((_, i) => u.mailbox.readMessage('INBOX', i + 1)));
    const hasBareLf = (raw: Buffer): boolean => /(^|[^\r])\n/.test(raw.toString('latin1'));
    for (const [i, raw] of appended.entries()) if (!hasBareLf(raw)) assert.ok(messages[i]!.equals(raw), `message ${i + 1} stored as appended`);
    await u.imap.command('SELECT INBOX');
    const before = readerStats(f.fx.store)!;
    const whole = await u.imap.command('FETCH 1:* (UID BODY.PEEK[])', 120_000);
    assert.equal(status(whole.tagged), 'OK', whole.tagged);
    const responses = fetchResponses(whole.lines);
    assert.deepEqual(
      responses.map((r) => r.seq),
      messages.map((_, i) => i + 1),
    );
    for (const r of responses) assert.ok((r.items.get('BODY[]') as Buffer).equals(messages[r.seq - 1]!), `message ${r.seq}`);
    const stats = readerStats(f.fx.store)!;
    assert.ok(stats.read > before.read, 'bodies were read in the reader thread');
    assert.equal(stats.failed, before.failed);

    const partial = await u.imap.command('FETCH 1:* (BODY.PEEK[]<5.1000> RFC822.SIZE)', 120_000);
    assert.equal(status(partial.tagged), 'OK', partial.tagged);
    for (const r of fetchResponses(partial.lines)) {
      const raw = messages[r.seq - 1]!;
      assert.ok((r.items.get('BODY[]<5>') as Buffer).equals(raw.subarray(5, 1005)), `message ${r.seq} <5.1000>`);
      assert.equal((r.items.get('RFC822.SIZE') as { atom: string }).atom, String(raw.length));
    }
    const rfc822 = await u.imap.command('FETCH 1:20 (RFC822.PEEK)', 60_000);
    // RFC822.PEEK is not an item: BAD, and the session goes on.
    assert.equal(status(rfc822.tagged), 'BAD', rfc822.tagged);
    const plain = await u.imap.command('FETCH 1:20 (RFC822)', 60_000);
    assert.equal(status(plain.tagged), 'OK', plain.tagged);
    for (const r of fetchResponses(plain.lines)) assert.ok((r.items.get('RFC822') as Buffer).equals(messages[r.seq - 1]!), `RFC822 of ${r.seq}`);
  });

  test('RFC 9051 §6.4.5: a FETCH of a few bodies reads them on the event loop, not in the reader thread, with the same bytes', async () => {
    const u = await f.user();
    const messages = generateCorpus(READ_AHEAD_MIN_MESSAGES + 2, 24).map((m) => m.raw);
    for (const raw of messages) await u.mailbox.append('INBOX', raw);
    await u.imap.command('SELECT INBOX');
    const before = readerStats(f.fx.store)!;
    const few = await u.imap.command(`FETCH 1:${READ_AHEAD_MIN_MESSAGES - 1} (BODY.PEEK[])`);
    assert.equal(status(few.tagged), 'OK', few.tagged);
    const responses = fetchResponses(few.lines);
    assert.equal(responses.length, READ_AHEAD_MIN_MESSAGES - 1);
    for (const r of responses) assert.ok((r.items.get('BODY[]') as Buffer).equals(messages[r.seq - 1]!), `message ${r.seq}`);
    assert.equal(readerStats(f.fx.store)!.read, before.read, 'no batch went to the reader thread');
    const all = await u.imap.command('FETCH 1:* (BODY.PEEK[])');
    assert.equal(fetchResponses(all.lines).length, messages.length);
    assert.ok(readerStats(f.fx.store)!.read > before.read, `${messages.length} bodies are read ahead`);
  });

  test('RFC 9051 §6.4.5: BODY[] (not PEEK) sets \\Seen and reports FLAGS with each body read ahead', async () => {
    const u = await f.user();
    const messages = generateCorpus(50, 22).map((m) => m.raw);
    for (const raw of messages) await u.mailbox.append('INBOX', raw);
    await u.imap.command('SELECT INBOX');
    const r = await u.imap.command('FETCH 1:* (BODY[])', 60_000);
    assert.equal(status(r.tagged), 'OK', r.tagged);
    const responses = fetchResponses(r.lines);
    assert.equal(responses.length, messages.length);
    for (const x of responses) {
      assert.ok((x.items.get('BODY[]') as Buffer).equals(messages[x.seq - 1]!), `message ${x.seq}`);
      const flags = x.items.get('FLAGS');
      assert.ok(Array.isArray(flags) && flags.some((flag) => isAtom(flag) && flag.atom === '\\Seen'), `message ${x.seq} reports \\Seen`);
    }
    const listed = u.mailbox.listFlags('INBOX', [[1, messages.length]]);
    assert.ok(listed.every((m) => m.flags.includes('\\Seen')));
  });

  test('RFC 9051 §7.5.1: FETCH 1:* BODY.PEEK[] racing another session that expunges everything answers OK with whole, correct responses', async () => {
    const u = await f.user();
    const messages = generateCorpus(600, 23).map((m) => m.raw);
    for (const raw of messages) await u.mailbox.append('INBOX', raw);
    const { fetched } = await fetchRacingExpungeAll(u, 'FETCH 1:* (BODY.PEEK[] RFC822.SIZE)');
    const responses = fetchResponses(fetched.lines);
    process.stdout.write(`# ${responses.length} of ${messages.length} answered while the other session expunged\n`);
    // This session has not been told of the expunges: its sequence numbers still name the appended messages.
    for (const r of responses) {
      const raw = messages[r.seq - 1]!;
      assert.ok((r.items.get('BODY[]') as Buffer).equals(raw), `message ${r.seq}`);
      assert.equal((r.items.get('RFC822.SIZE') as { atom: string }).atom, String(raw.length));
    }
    const noop = await u.imap.command('NOOP');
    assert.equal(status(noop.tagged), 'OK');
    assert.equal(u.mailbox.status('INBOX').messages, 0);
  });
});
