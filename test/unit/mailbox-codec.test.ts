// The codec of stored mailbox blobs: every tag (0 raw, 1 deflate, 2 brotli, 3 LZ4 with its size prefix) reads back
// what was written, incompressible data stays raw, and a damaged or over-claiming blob is refused with an Error
// before its claimed size is allocated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import lz4 from 'lz4-napi';
import {
  CHUNK_BYTES,
  COMPRESSION_METHODS,
  compressAsync,
  compressSync,
  decompress,
  MAX_STORED_TEXT_BYTES,
  methodOf,
  prepareParts,
  type Compression,
} from '../../server/mailbox/codec.js';
import { mailboxCompressionFromEnv } from '../../server/mailbox/settings.js';
import { ConfigError } from '../../server/config/errors.js';

const TAG = { none: 0, deflate: 1, brotli: 2, lz4: 3 } as const satisfies Record<Compression, number>;

/** Mail-like text: compresses well under every method. */
function mailText(bytes: number): Buffer {
  const lines: string[] = [];
  for (let i = 0, n = 0; n < bytes; i++) n += lines[lines.push(`Line ${i}: the quarterly report is attached, regards, Alice ${i % 17}\r\n`) - 1]!.length;
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

const INPUTS: readonly [string, Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['one byte', Buffer.of(0x41)],
  ['63 bytes (below the compression floor)', mailText(63)],
  ['64 bytes', mailText(64)],
  ['a 10 KB message', mailText(10_000)],
  ['a full chunk of text', mailText(CHUNK_BYTES)],
  ['a full chunk of random bytes (incompressible)', randomBytes(CHUNK_BYTES)],
  ['1 KB of zeros', Buffer.alloc(1024)],
];

test('every method round-trips every input byte for byte, sync and async alike', async () => {
  for (const method of COMPRESSION_METHODS) {
    for (const [name, input] of INPUTS) {
      const sync = compressSync(input, method);
      const viaPool = await compressAsync(input, method);
      assert.ok(sync.equals(viaPool), `${method}/${name}: the thread-pool path writes the same bytes`);
      assert.ok(decompress(sync).equals(input), `${method}/${name}: reads back`);
      assert.ok(decompress(sync, input.length).equals(input), `${method}/${name}: reads back within its exact size`);
    }
  }
});

test('each method writes its own tag; tiny and incompressible inputs are kept raw (tag 0)', () => {
  const text = mailText(10_000);
  for (const method of COMPRESSION_METHODS) {
    assert.equal(compressSync(text, method)[0], TAG[method], `${method} tags compressible text`);
    assert.equal(methodOf(compressSync(text, method)), method);
    assert.equal(compressSync(mailText(63), method)[0], 0, `${method}: below 64 bytes stays raw`);
    const noise = randomBytes(CHUNK_BYTES);
    const stored = compressSync(noise, method);
    assert.equal(stored[0], 0, `${method}: incompressible data is never stored bigger`);
    assert.equal(stored.length, noise.length + 1);
  }
});

test('an LZ4 blob is the tag, the 4-byte little-endian size and the block lz4-napi reads', () => {
  const text = mailText(10_000);
  const stored = compressSync(text, 'lz4');
  assert.equal(stored.readUInt32LE(1), text.length);
  assert.ok(lz4.uncompressSync(stored.subarray(1)).equals(text));
  assert.ok(stored.length < text.length * 0.6, 'mail text does compress');
});

test('prepareParts stores a large message as LZ4 chunks and attachment chunks that read back', async () => {
  const attachment = randomBytes(150_000);
  const raw = Buffer.concat([mailText(300_000), attachment, mailText(5_000)]);
  const parts = await prepareParts(raw, [[300_000, 450_000]], 'lz4');
  const back: Buffer[] = [];
  for (const p of parts) {
    if (p.kind === 'inline') back.push(decompress(p.data, p.rawLen));
    else back.push(...p.chunks.map((c) => decompress(c, CHUNK_BYTES)));
  }
  assert.ok(Buffer.concat(back).equals(raw));
  assert.deepEqual(
    parts.map((p) => p.kind),
    ['inline', 'inline', 'inline', 'inline', 'inline', 'attachment', 'inline'],
  );
  assert.equal(parts[0]!.kind === 'inline' && parts[0]!.data[0], TAG.lz4, 'text chunks are LZ4');
  const att = parts[5]!;
  assert.ok(att.kind === 'attachment' && att.chunks.every((c) => c[0] === 0), 'random attachment chunks stay raw');
});

test('a large message yields to the event loop while it is compressed; a small one is done in one go', async () => {
  const ranDuring = async (raw: Buffer, method: Compression): Promise<boolean> => {
    let ran = false;
    setImmediate(() => (ran = true));
    await prepareParts(raw, [], method);
    return ran;
  };
  assert.equal(await ranDuring(mailText(4 * 1024 * 1024), 'lz4'), true, '4 MiB under lz4');
  assert.equal(await ranDuring(mailText(4 * 1024 * 1024), 'deflate'), true, '4 MiB under deflate (thread pool)');
  assert.equal(await ranDuring(mailText(100_000), 'lz4'), false, '100 KB under lz4');
});

test('hostile: a truncated LZ4 blob is refused with an Error, not a crash', () => {
  const stored = compressSync(mailText(10_000), 'lz4');
  assert.throws(() => decompress(Buffer.of(3)), /truncated/);
  assert.throws(() => decompress(Buffer.of(3, 0x10, 0x27)), /truncated/);
  assert.throws(() => decompress(stored.subarray(0, 5)), /lz4/);
  assert.throws(() => decompress(stored.subarray(0, stored.length >> 1)), /lz4/);
  assert.throws(() => decompress(stored.subarray(0, stored.length - 1)), /lz4/);
});

test('hostile: an LZ4 size prefix above what the caller expects is refused before it is allocated', () => {
  // 4 GiB - 1 claimed by a 9-byte blob: decompress must say no from the prefix alone.
  const claimsFourGiB = Buffer.of(3, 0xff, 0xff, 0xff, 0xff, 0x10, 0x41, 0x00, 0x00);
  assert.throws(() => decompress(claimsFourGiB), new RegExp(`claims 4294967295 bytes, more than the ${MAX_STORED_TEXT_BYTES} expected`));
  const chunk = compressSync(mailText(CHUNK_BYTES), 'lz4');
  assert.throws(() => decompress(chunk, CHUNK_BYTES - 1), /more than the 65535 expected/);
  // A prefix that lies the other way (smaller than the block's output) is refused too.
  const shrunk = Buffer.from(chunk);
  shrunk.writeUInt32LE(100, 1);
  assert.throws(() => decompress(shrunk, CHUNK_BYTES), /lz4/);
});

test('hostile: garbage after a plausible LZ4 prefix is refused with an Error', () => {
  for (let i = 0; i < 200; i++) {
    const body = randomBytes(1 + (i % 64));
    const blob = Buffer.concat([Buffer.of(3), Buffer.alloc(4), body]);
    blob.writeUInt32LE(1 + (i * 997) % 4096, 1);
    try {
      const out = decompress(blob, 4096);
      // Random bytes can happen to be a valid block: then it must be exactly the size it claims.
      assert.equal(out.length, blob.readUInt32LE(1));
    } catch (err) {
      assert.ok(err instanceof Error && /lz4/.test(err.message), String(err));
    }
  }
});

test('hostile: deflate and brotli blobs honour the same bound, and unknown tags are refused', () => {
  const big = mailText(CHUNK_BYTES);
  for (const method of ['deflate', 'brotli'] as const) {
    const stored = compressSync(big, method);
    assert.ok(decompress(stored, CHUNK_BYTES).equals(big));
    assert.throws(() => decompress(stored, 1000), new RegExp(`stored ${method} blob is unreadable or larger than 1000 bytes`));
    assert.throws(() => decompress(Buffer.concat([stored.subarray(0, 1), randomBytes(40)])), new RegExp(`stored ${method} blob`));
  }
  assert.throws(() => decompress(Buffer.of(0, 1, 2, 3), 2), /holds 3 bytes, more than the 2 expected/);
  assert.throws(() => decompress(Buffer.of(4, 1, 2)), /unknown blob encoding 4/);
  assert.throws(() => decompress(Buffer.of(0xff)), /unknown blob encoding 255/);
});

test('SEALPOST_MAILBOX_COMPRESSION: default lz4, each method by name, anything else one sentence naming the variable', () => {
  assert.equal(mailboxCompressionFromEnv({}), 'lz4');
  assert.equal(mailboxCompressionFromEnv({ SEALPOST_MAILBOX_COMPRESSION: ' ' }), 'lz4');
  for (const method of COMPRESSION_METHODS) assert.equal(mailboxCompressionFromEnv({ SEALPOST_MAILBOX_COMPRESSION: method.toUpperCase() }), method);
  for (const bad of ['zstd', 'gzip', 'lz4,deflate', '3', 'x'.repeat(10_000)]) {
    assert.throws(
      () => mailboxCompressionFromEnv({ SEALPOST_MAILBOX_COMPRESSION: bad }),
      (err: unknown) => err instanceof ConfigError && /^SEALPOST_MAILBOX_COMPRESSION must be one of lz4, deflate, brotli, none, not /.test(err.message),
    );
  }
});
