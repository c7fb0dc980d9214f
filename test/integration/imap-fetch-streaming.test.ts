// FETCH sends messages over 256 KiB in pieces read from the store, and hands its output to imap-core cut at
// CRLFs of the response itself (imap-core ends every write with CRLF). The bytes a client receives must be
// exactly the stored message, whatever the message looks like around those cuts: one 700 KB line without
// CRLF, a CRLF straddling a 64 KiB / 256 KiB boundary, a message of exactly 256 KiB, and BODY[]<partial>
// ranges across the piece boundaries; over TLS with and without COMPRESS=DEFLATE (RFC 4978).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import type { Mailbox } from '../../server/mailbox/types.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';

const KiB = 1024;
const READ_BYTES = 256 * KiB;

/** A message of exactly `size` bytes: a short header, `body(room, headLength)` of `room` characters, CRLF. */
function messageOfSize(subject: string, size: number, body: (room: number, headLength: number) => string): Buffer {
  const head = `From: <a@example.test>\r\nTo: <b@example.test>\r\nSubject: ${subject}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n`;
  const room = size - head.length - 2;
  const text = body(room, head.length);
  assert.equal(text.length, room);
  return Buffer.from(`${head}${text}\r\n`, 'latin1');
}

/** Body text whose first CRLF starts at offset `crAt` of the message, then lines of 70 characters. */
function linesWithCrAt(headLength: number, room: number, crAt: number): string {
  const before = crAt - headLength; // characters of body before the CR
  const first = 'x'.repeat(before);
  const rest = room - before - 2;
  return `${first}\r\n${'y'.repeat(70).concat('\r\n').repeat(Math.ceil(rest / 72)).slice(0, rest)}`;
}

describe('FETCH of large messages: byte-exact output around the pieces it is sent in', () => {
  let fx: ImapFixture;
  let user: { address: string; password: string };
  let mailbox: Mailbox;
  const stored = new Map<number, Buffer>();
  const clients: ImapFlow[] = [];

  const client = (compression: boolean): ImapFlow => {
    const c = new ImapFlow({
      host: fx.host,
      port: fx.securePort,
      secure: true,
      tls: { ca: [fx.tls.certificatePem()], servername: 'localhost' },
      auth: { user: user.address, pass: user.password },
      disableCompression: !compression,
      logger: false,
    });
    clients.push(c);
    return c;
  };

  before(async () => {
    fx = await startImapFixture({ logLevel: 'warn' });
    user = await fx.addUser('pieces', null);
    mailbox = await fx.mailboxOf(user.address, user.password);
    const messages = [
      messageOfSize('one long line', 700 * KiB, (room) => 'L'.repeat(room)),
      messageOfSize('CRLF across 256 KiB', 600 * KiB, (room, head) => linesWithCrAt(head, room, READ_BYTES - 1)),
      messageOfSize('CRLF across 64 KiB', 400 * KiB, (room, head) => linesWithCrAt(head, room, 64 * KiB - 1)),
      messageOfSize('exactly 256 KiB', READ_BYTES, (room) => 'e'.repeat(70).concat('\r\n').repeat(Math.ceil(room / 72)).slice(0, room)),
      messageOfSize('256 KiB and one', READ_BYTES + 1, (room) => 'f'.repeat(room)),
      messageOfSize('small', 3 * KiB, (room) => 's'.repeat(room)),
    ];
    for (const raw of messages) {
      const { uid } = await mailbox.append('INBOX', raw);
      stored.set(uid, await mailbox.readMessage('INBOX', uid));
    }
  });

  after(async () => {
    for (const c of clients) await c.logout().catch(() => c.close());
    await fx.close();
  });

  for (const compression of [false, true]) {
    it(`RFC 3501 §6.4.5: BODY[] of every message is the stored message, byte for byte${compression ? ' (COMPRESS=DEFLATE)' : ''}`, async () => {
      const c = client(compression);
      await c.connect();
      const lock = await c.getMailboxLock('INBOX');
      try {
        const seen = new Map<number, Buffer>();
        for await (const message of c.fetch('1:*', { uid: true, source: true })) seen.set(message.uid, message.source as Buffer);
        assert.equal(seen.size, stored.size);
        for (const [uid, raw] of stored) assert.ok(seen.get(uid)?.equals(raw), `message ${uid} (${raw.length} bytes) arrived unchanged`);
      } finally {
        lock.release();
      }
    });
  }

  it('RFC 3501 §6.4.5: BODY[]<start.length> ranges across the 256 KiB pieces return exactly those bytes', async () => {
    const c = client(false);
    await c.connect();
    const lock = await c.getMailboxLock('INBOX');
    try {
      const ranges: [number, number][] = [
        [0, READ_BYTES],
        [0, READ_BYTES + 1],
        [READ_BYTES - 5, 10],
        [100 * KiB, 500 * KiB],
        [READ_BYTES * 2 + 3, 1],
        [650 * KiB, 200 * KiB],
        [10 * 1024 * KiB, 5],
      ];
      for (const [uid, raw] of stored) {
        for (const [start, length] of ranges) {
          const message = await c.fetchOne(String(uid), { source: { start, maxLength: length } }, { uid: true });
          const expected = raw.subarray(Math.min(start, raw.length), Math.min(raw.length, start + length));
          assert.ok(message && (message.source ?? Buffer.alloc(0)).equals(expected), `message ${uid} <${start}.${length}>: ${message ? message.source?.length : 'none'} bytes, expected ${expected.length}`);
        }
      }
    } finally {
      lock.release();
    }
  });
});
