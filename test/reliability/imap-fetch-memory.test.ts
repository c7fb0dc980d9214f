// FETCH of a whole 10,000-message mailbox from `bin/sealpost serve` in a child process: the server's resident
// memory high-water mark (/proc/<pid>/status VmHWM) stays far below what the mailbox holds, for a client that
// reads as fast as it can and for one that sends FETCH 1:* BODY[] and stops reading. RFC 3501 §5.5 lets
// commands proceed "subject to ... flow control constraints on the underlying data stream": a FETCH whose
// client does not read waits for it, while other sessions are served.
//
// The mailbox: 20 messages of ~8 MB (a PDF-like base64 attachment) first, then 9,980 corpus messages of
// 1–50 KB, ~280 MB in all, appended through the store API into the real encrypted mailbox file before the
// server starts. The large ones lead so that a FETCH which queues responses ahead of its client shows it:
// imap-core's output stream queues 16 responses whatever their size, which held 16 × 8 MB before FETCH had
// its own byte high-water mark. Bounds (peak growth over the resident size right before the command):
// - a whole FETCH to a reading client: 96 MiB. Garbage collection lets tens of MB of freed buffers linger
//   (V8 collects when external memory has grown by ~64 MB); measured 2-52 MB. (FETCH 1:* (ENVELOPE
//   BODYSTRUCTURE) is left to the bench: its peak, 15-100 MB before and after this change, is V8 sizing its heap.)
// - while a client does not read: 32 MiB. The old code queued up to 16 × 8 MB: 80-290 MB measured (a 5 s
//   pause; two stalled sessions); the new code 1-12 MB.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import zlib from 'node:zlib';
import { ImapFlow } from 'imapflow';
import { createBigMailbox, memoryOf, resetPeak, StreamingImap, type BigMailbox } from '../helpers/imap-fetch-memory.js';
import { sleep, until } from '../helpers/reliability-harness.js';

const MESSAGES = 10_000;
const LARGE = 20;
const LARGE_BYTES = 8_000_000;
const MiB = 1024 * 1024;
const READING_CLIENT_BOUND = 96 * MiB;
const STALLED_CLIENT_BOUND = 32 * MiB;
/** The server closes a connection without traffic after this long (SEALPOST_IMAP_TIMEOUT_MS). */
const INACTIVITY_MS = 8000;

describe('FETCH of a 10,000-message mailbox: server memory does not grow with the mailbox', () => {
  let big: BigMailbox | null = null;
  let pid = 0;
  let port = 0;

  before(async () => {
    big = await createBigMailbox({ INBOX: { messages: MESSAGES, large: LARGE, largeBytes: LARGE_BYTES } }, { SEALPOST_IMAP_TIMEOUT_MS: String(INACTIVITY_MS) });
    const child = await big.instance.start();
    pid = child.pid as number;
    port = big.instance.ports.imap;
    // Warm-up: the first login derives the key and opens the mailbox; code paths get compiled.
    const warm = await StreamingImap.connect(port);
    await warm.command(`LOGIN "${big.address}" "${big.password}"`);
    await warm.command('SELECT INBOX');
    await warm.command('FETCH 1:50 (FLAGS BODY.PEEK[])');
    await warm.command('LOGOUT').catch(() => undefined);
    warm.close();
  });

  after(async () => {
    await big?.instance.cleanup();
  });

  test('RFC 3501 §6.4.5/§7.4.2: a client fetches 1:* BODY[] of 10,000 messages (~280 MB), stopping to read for 5 s on the way: every message arrives, the server grows by less than 32 MiB until the pause ends and 96 MiB in all', async () => {
    const mailbox = big as BigMailbox;
    const inbox = mailbox.folders.get('INBOX')!;
    assert.ok(inbox.bytes > 250_000_000, 'the mailbox holds far more than the bound');
    const client = await StreamingImap.connect(port);
    try {
      await client.command(`LOGIN "${mailbox.address}" "${mailbox.password}"`);
      await client.command('SELECT INBOX');
      resetPeak(pid);
      const before = memoryOf(pid);
      // A client busy for a while (writing what it got to its local store) after the first 32 MB: the server
      // is serving the large messages then, and a FETCH that queues ahead of its client shows it.
      let pausedGrowth = NaN;
      client.pauseAfter(32_000_000, 5000, () => (pausedGrowth = memoryOf(pid).peak - before.rss));
      const reply = await client.command('FETCH 1:* (BODY.PEEK[])');
      const growth = memoryOf(pid).peak - before.rss;
      process.stdout.write(
        `# BODY[] of ${reply.untagged} messages (${reply.literalBytes} bytes) with a 5 s pause: server peak growth ${(pausedGrowth / MiB).toFixed(1)} MiB until the pause ended, ${(growth / MiB).toFixed(1)} MiB in all\n`,
      );
      assert.match(reply.tagged, /^m\d+ OK/);
      assert.equal(reply.untagged, MESSAGES, 'one FETCH response per message');
      assert.equal(reply.literalBytes, inbox.bytes, 'every byte of every message arrived');
      assert.ok(pausedGrowth < STALLED_CLIENT_BOUND, `server peak growth ${(pausedGrowth / MiB).toFixed(1)} MiB while the client paused stays below ${STALLED_CLIENT_BOUND / MiB} MiB`);
      assert.ok(growth < READING_CLIENT_BOUND, `server peak growth ${(growth / MiB).toFixed(1)} MiB stays below ${READING_CLIENT_BOUND / MiB} MiB`);
    } finally {
      client.close();
    }
  });

  test('RFC 3501 §6.4.5/§7.4.2: imapflow fetches 1:* BODY[] of 10,000 messages byte for byte while the server grows by less than 96 MiB', async () => {
    const mailbox = big as BigMailbox;
    const inbox = mailbox.folders.get('INBOX')!;
    const client = new ImapFlow({
      host: '127.0.0.1',
      port,
      secure: false,
      doSTARTTLS: false,
      disableCompression: true,
      auth: { user: mailbox.address, pass: mailbox.password },
      logger: false,
    });
    await client.connect();
    try {
      const lock = await client.getMailboxLock('INBOX');
      try {
        resetPeak(pid);
        const before = memoryOf(pid);
        let count = 0;
        let bytes = 0;
        const largeSha256: string[] = [];
        for await (const message of client.fetch('1:*', { uid: true, source: true })) {
          count++;
          bytes += message.source?.length ?? 0;
          if (count <= LARGE) largeSha256.push(crypto.createHash('sha256').update(message.source ?? Buffer.alloc(0)).digest('hex'));
        }
        const growth = memoryOf(pid).peak - before.rss;
        process.stdout.write(`# imapflow: BODY[] of ${count} messages (${bytes} bytes): server peak growth ${(growth / MiB).toFixed(1)} MiB\n`);
        assert.equal(count, MESSAGES, 'every message was fetched');
        assert.equal(bytes, inbox.bytes, 'every byte of every message arrived');
        assert.deepEqual(largeSha256, inbox.largeSha256, 'the large messages (read and sent in pieces) arrived unchanged');
        assert.ok(growth < READING_CLIENT_BOUND, `server peak growth ${(growth / MiB).toFixed(1)} MiB stays below ${READING_CLIENT_BOUND / MiB} MiB`);
      } finally {
        lock.release();
      }
    } finally {
      await client.logout().catch(() => client.close());
    }
  });

  test('RFC 3501 §5.5: a client that sends FETCH 1:* BODY[] and stops reading (plain and COMPRESS=DEFLATE) pauses its FETCH: the server grows by less than 32 MiB, another session gets NOOP answered, the inactivity timeout closes the stalled connection', async () => {
    const mailbox = big as BigMailbox;
    const other = await StreamingImap.connect(port);
    const stalled = await StreamingImap.connect(port);
    let compressed: net.Socket | null = null;
    try {
      await other.command(`LOGIN "${mailbox.address}" "${mailbox.password}"`);
      await other.command('SELECT INBOX');
      assert.match((await stalled.command(`LOGIN "${mailbox.address}" "${mailbox.password}"`)).tagged, /OK/);
      assert.match((await stalled.command('SELECT INBOX')).tagged, /OK/);
      compressed = await compressedSession(port, mailbox.address, mailbox.password);

      resetPeak(pid);
      const before = memoryOf(pid);
      stalled.pause();
      stalled.send('FETCH 1:* (BODY.PEEK[])');
      compressed.pause();
      deflated(compressed, 'c1 FETCH 1:* (BODY.PEEK[])\r\n');
      // The server works on both FETCHes until their output backs up; each NOOP on the other session must be
      // answered meanwhile. Several rounds, so a server that keeps queueing has time to show it.
      for (let round = 0; round < 6; round++) {
        await sleep(1000);
        const noop = await other.command('NOOP');
        assert.match(noop.tagged, /^m\d+ OK/, 'NOOP on another session is answered while the FETCHes wait');
      }
      const growth = memoryOf(pid).peak - before.rss;
      process.stdout.write(`# two FETCH 1:* BODY[] whose clients do not read: server peak growth ${(growth / MiB).toFixed(1)} MiB\n`);
      assert.ok(growth < STALLED_CLIENT_BOUND, `server peak growth ${(growth / MiB).toFixed(1)} MiB stays below ${STALLED_CLIENT_BOUND / MiB} MiB`);
      assert.ok(!stalled.isClosed, 'the stalled connection is still open before its inactivity timeout');

      // Nothing moves on the stalled connections: the server's inactivity timeout ends them. The client then
      // reads what was in flight and meets the end of the connection, never the FETCH's tagged reply.
      const ended = Promise.all([
        new Promise<void>((resolve) => (stalled.isClosed ? resolve() : stalled.onClose(resolve))),
        new Promise<void>((resolve) => compressed!.once('close', () => resolve())),
      ]);
      // Keep the other session busy meanwhile: it must not be closed.
      for (let i = 0; i < Math.ceil((INACTIVITY_MS * 2) / 1000); i++) {
        await sleep(1000);
        assert.match((await other.command('NOOP')).tagged, /OK/);
      }
      stalled.resume();
      compressed.resume();
      compressed.on('data', () => undefined);
      await ended;
      assert.ok(stalled.received < mailbox.folders.get('INBOX')!.bytes / 4, `the stalled client received ${stalled.received} bytes, a fraction of the mailbox`);
      assert.ok(!stalled.recent.some((line) => /^s\d+ OK/.test(line)), 'the stalled FETCH never completed');
      assert.ok(!other.isClosed, 'the active session stayed open');
    } finally {
      stalled.close();
      other.close();
      compressed?.destroy();
    }
  });

  // Runs last: it expunges the large messages.
  test('RFC 3501 §4.3: a message expunged by another session while its literal is half sent ends the connection (the announced octet count cannot be honoured); the server and other sessions carry on', async () => {
    const mailbox = big as BigMailbox;
    const other = await StreamingImap.connect(port);
    const stalled = await StreamingImap.connect(port);
    try {
      await other.command(`LOGIN "${mailbox.address}" "${mailbox.password}"`);
      await other.command('SELECT INBOX');
      await stalled.command(`LOGIN "${mailbox.address}" "${mailbox.password}"`);
      await stalled.command('SELECT INBOX');
      stalled.pause();
      stalled.send('FETCH 1:* (BODY.PEEK[])');
      // The FETCH stops inside the literal of one of the leading 8 MB messages (1 MiB high-water mark).
      await sleep(2000);
      assert.match((await other.command(`UID STORE 1:${LARGE} +FLAGS.SILENT (\\Deleted)`)).tagged, /OK/);
      assert.match((await other.command('EXPUNGE')).tagged, /OK/);
      const ended = new Promise<void>((resolve) => (stalled.isClosed ? resolve() : stalled.onClose(resolve)));
      stalled.resume();
      await ended;
      assert.ok(!stalled.recent.some((line) => /^s\d+ OK/.test(line)), 'the FETCH did not claim success');
      assert.ok(stalled.received < LARGE * LARGE_BYTES, `the client got ${stalled.received} bytes: the expunged messages were not sent in full`);
      assert.match((await other.command('NOOP')).tagged, /OK/, 'another session carries on');
      const status = await other.command('STATUS INBOX (MESSAGES)');
      assert.match(status.tagged, /OK/);
      await until('the warning in the server log', () => mailbox.instance.logs.some((line) => line.includes('could not finish a message literal')), 10_000);
    } finally {
      stalled.close();
      other.close();
    }
  });
});

/** A logged-in session with INBOX selected and COMPRESS=DEFLATE (RFC 4978) active; the caller writes through deflated(). */
async function compressedSession(port: number, address: string, password: string): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  const onData = (chunk: Buffer): void => {
    text += chunk.toString('latin1');
  };
  socket.on('data', onData);
  const until = async (pattern: RegExp): Promise<void> => {
    for (let i = 0; i < 3000 && !pattern.test(text); i++) await sleep(10);
    assert.match(text, pattern);
  };
  await until(/^\* OK/m);
  socket.write(`a LOGIN "${address}" "${password}"\r\n`);
  await until(/^a OK/m);
  socket.write('b SELECT INBOX\r\n');
  await until(/^b OK/m);
  socket.write('c COMPRESS DEFLATE\r\n');
  await until(/^c OK/m);
  socket.off('data', onData);
  return socket;
}

const deflaters = new WeakMap<net.Socket, zlib.DeflateRaw>();

/** Writes a command through the session's DEFLATE stream (one per socket). */
function deflated(socket: net.Socket, text: string): void {
  let deflate = deflaters.get(socket);
  if (!deflate) {
    deflate = zlib.createDeflateRaw();
    deflate.pipe(socket);
    deflaters.set(socket, deflate);
  }
  deflate.write(text);
  deflate.flush();
}
