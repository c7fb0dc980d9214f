// The connection's writer (server/imap/engine/output.ts) and the encoder's pieces (wire/encode.ts): a FETCH
// response's message body travels from the store to the socket as the same Buffer (no copy into the line or
// the batch), the text around it is joined into few buffers, and the bytes arrive complete and in order over
// a real loopback TCP connection.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { Output } from '../../server/imap/engine/output.js';
import { encodeLine, SEPARATE_PIECE_BYTES } from '../../server/imap/wire/encode.js';

const REV1 = { utf8: false };

/** A sink that records each gathered write's chunks (writev) and each single write. */
class RecordingSink extends Writable {
  readonly writes: Buffer[][] = [];
  constructor() {
    super({ highWaterMark: 1 << 30 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (error?: Error | null) => void): void {
    this.writes.push([chunk]);
    done();
  }
  override _writev(chunks: { chunk: Buffer }[], done: (error?: Error | null) => void): void {
    this.writes.push(chunks.map((c) => c.chunk));
    done();
  }
}

/** A `* n FETCH (BODY[] {size}\r\n<body>)` response's encoded pieces. */
const fetchLine = (seq: number, body: Buffer) => encodeLine(`* ${seq} FETCH`, [[{ raw: 'BODY[]' }, { literal: body }]], REV1);

describe('IMAP output: message bodies are written without copies', () => {
  it('RFC 9051 §4.3: a large literal body is its own piece (the same Buffer), its {n} header joined with the text before it', () => {
    const body = crypto.randomBytes(SEPARATE_PIECE_BYTES + 17);
    const pieces = fetchLine(7, body);
    assert.equal(pieces.length, 3, 'text before, the body, text after');
    assert.ok(pieces[1] === body, 'the body is passed on as it is, not copied');
    assert.equal(Buffer.concat(pieces as Buffer[]).toString('latin1'), `* 7 FETCH (BODY[] {${body.length}}\r\n${body.toString('latin1')})\r\n`);
  });

  it('RFC 9051 §4.3: a small literal is joined into the line (one buffer)', () => {
    const body = Buffer.from('Subject: hi\r\n\r\nshort\r\n');
    const pieces = fetchLine(1, body);
    assert.equal(pieces.length, 1);
    assert.equal((pieces[0] as Buffer).toString('latin1'), `* 1 FETCH (BODY[] {${body.length}}\r\n${body.toString('latin1')})\r\n`);
  });

  it('one gathered write per flush: bodies go as they are, runs of small text joined, order kept', async () => {
    const sink = new RecordingSink();
    const out = new Output(sink);
    const bodies = [crypto.randomBytes(9000), crypto.randomBytes(SEPARATE_PIECE_BYTES), crypto.randomBytes(20_000)];
    const expected: Buffer[] = [];
    for (const [i, body] of bodies.entries()) {
      const pieces = fetchLine(i + 1, body);
      expected.push(...(pieces as Buffer[]));
      await out.pieces(pieces);
    }
    await out.line('A1 OK FETCH completed');
    expected.push(Buffer.from('A1 OK FETCH completed\r\n'));
    await out.flush();
    assert.equal(sink.writes.length, 1, 'the batch went out as one gathered write');
    const chunks = sink.writes[0]!;
    for (const body of bodies) assert.ok(chunks.includes(body), 'each body is written as the same Buffer');
    // Between two bodies there is exactly one joined chunk of text: ")\r\n* n FETCH (BODY[] {size}\r\n".
    assert.equal(chunks.length, 2 * bodies.length + 1);
    assert.deepEqual(Buffer.concat(chunks), Buffer.concat(expected));
  });

  it('a batch of one buffer is written as it is, and a batch larger than the write size is split across flushes, bytes intact', async () => {
    const sink = new RecordingSink();
    const out = new Output(sink);
    await out.line('* OK one');
    await out.flush();
    assert.deepEqual(sink.writes, [[Buffer.from('* OK one\r\n')]]);
    const bodies = Array.from({ length: 12 }, () => crypto.randomBytes(11_000));
    const expected: Buffer[] = [];
    for (const [i, body] of bodies.entries()) {
      const pieces = fetchLine(i + 1, body);
      expected.push(...(pieces as Buffer[]));
      await out.pieces(pieces);
    }
    await out.flush();
    assert.ok(sink.writes.length > 2, 'more than 64 KiB is written in more than one flush');
    assert.deepEqual(Buffer.concat(sink.writes.slice(1).flat()), Buffer.concat(expected));
  });

  it('over a real loopback TCP connection the client reads every byte in order', async () => {
    const received: Buffer[] = [];
    let done!: () => void;
    const closed = new Promise<void>((resolve) => (done = resolve));
    const server = net.createServer((socket) => {
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.on('end', () => done());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    try {
      const out = new Output(socket);
      const expected: Buffer[] = [];
      for (let i = 0; i < 200; i++) {
        const body = crypto.randomBytes(i % 3 === 0 ? 100 : 5000 + i * 37);
        const pieces = fetchLine(i + 1, body);
        expected.push(...(pieces as Buffer[]));
        await out.pieces(pieces);
      }
      await out.flush();
      socket.end();
      await closed;
      assert.deepEqual(Buffer.concat(received), Buffer.concat(expected));
    } finally {
      socket.destroy();
      server.close();
    }
  });
});
