// Large messages parse in a worker thread: same result as on the main thread, Buffers intact,
// and the event loop keeps turning while they parse; small ones shaped to be slow go there too.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, parseMessageAsync, closeMimeWorkers, mimeLimits, mimeWorkerStats, WORKER_THRESHOLD } from '../../server/mime/index.js';
import { parseMessageSync } from '../../server/mime/parse.js';
import { mimeShape, needsCappedParse, structureHeavy } from '../../server/mime/limits.js';
import { generateCorpus } from '../helpers/corpus.js';
import { hugeHeaderMessage, manyPartsMessage, nestedMessage } from '../helpers/mime-bombs.js';

after(() => closeMimeWorkers());

function bigMessage(n: number, mb: number): Buffer {
  const base = generateCorpus(1, 100 + n)[0];
  assert.ok(base);
  const payload = Buffer.alloc(mb * 1024 * 1024);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + n) & 0xff;
  const b64 = (payload.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
  return Buffer.from(
    `From: Big Sender <big${n}@example.com>\r\nTo: you@example.org\r\nSubject: =?UTF-8?B?${Buffer.from(`Größe ${n}`).toString('base64')}?=\r\n` +
      `Message-ID: <big.${n}@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="big"\r\n\r\n` +
      `--big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee attached zq90000${n}\r\n` +
      `--big\r\nContent-Type: application/octet-stream; name="blob${n}.bin"\r\nContent-Transfer-Encoding: base64\r\n` +
      `Content-Disposition: attachment; filename="blob${n}.bin"\r\n\r\n${b64}\r\n--big--\r\n`,
  );
}

test('a multi-megabyte message parsed in a worker equals the main-thread parse', async () => {
  const raw = bigMessage(1, 3);
  assert.ok(raw.length > WORKER_THRESHOLD);
  const before = mimeWorkerStats().parsed;
  const inWorker = await parseMessageAsync(raw);
  assert.equal(mimeWorkerStats().parsed, before + 1, 'parsed by a worker, not the fallback');
  const local = parseMessage(raw);
  assert.deepStrictEqual(inWorker, local);
  assert.ok(Buffer.isBuffer((inWorker.structure.envelope as unknown[])[1]), 'envelope subject is a Buffer after the thread hop');
  assert.equal(inWorker.search.subject, 'Größe 1');
  assert.ok(inWorker.search.body.includes('zq900001'));
  assert.equal(inWorker.attachmentRanges.length, 1);
  assert.ok(inWorker.date === null || inWorker.date instanceof Date);
});

test('the event loop keeps running while large messages parse, and parallel parses all resolve', async () => {
  const raws = [2, 3, 4, 5].map((n) => bigMessage(n, 2));
  let ticks = 0;
  let spinning = true;
  const spin = (): void => {
    if (!spinning) return;
    ticks++;
    setImmediate(spin);
  };
  setImmediate(spin);
  const results = await Promise.all(raws.map((r) => parseMessageAsync(r)));
  spinning = false;
  assert.ok(ticks > 0, 'timers ran during the parse');
  results.forEach((r, i) => assert.equal(r.messageId, `<big.${i + 2}@example.com>`));
  assert.equal(mimeWorkerStats().failed, 0);
});

test('small messages skip the worker, and the pool restarts after being closed', async () => {
  const small = generateCorpus(1, 9)[0];
  assert.ok(small);
  const before = mimeWorkerStats().parsed;
  assert.deepStrictEqual(await parseMessageAsync(small.raw), parseMessage(small.raw));
  assert.equal(mimeWorkerStats().parsed, before, 'no worker for a small message');
  await closeMimeWorkers();
  const raw = bigMessage(6, 2);
  assert.equal((await parseMessageAsync(raw)).messageId, '<big.6@example.com>');
  assert.equal(mimeWorkerStats().parsed, before + 1, 'a new worker parsed it');
});

test('small messages shaped for a worker or for the capped parse are described exactly as parseMessage does, scanned once on the way', async () => {
  const heavy: [string, Buffer][] = [
    ['300 parts', manyPartsMessage(300)],
    ['20 levels', nestedMessage(20)],
    ['a 20 KB header field', hugeHeaderMessage(20_000)],
    ['a run of 300 lone CRs', Buffer.from(`Subject: crs\r\n\r\na${'\r'.repeat(300)}b\r\n`)],
  ];
  for (const [label, raw] of heavy) {
    assert.ok(raw.length < WORKER_THRESHOLD, label);
    const before = mimeWorkerStats().parsed;
    assert.deepStrictEqual(await parseMessageAsync(raw), parseMessage(raw), `${label}: worker = this thread`);
    assert.equal(mimeWorkerStats().parsed, before + 1, `${label}: parsed by a worker`);
  }
  // Past HEADER_PARSE_BYTES in short fields: not worth a worker, but parsed capped on this thread.
  const longHeader = Buffer.from(`${'X-Field: value\r\n'.repeat(5000)}Subject: long header\r\n\r\nbody\r\n`);
  assert.ok(needsCappedParse(mimeShape(longHeader), mimeLimits()) && !structureHeavy(mimeShape(longHeader)));
  const before = mimeWorkerStats().parsed;
  const parsed = await parseMessageAsync(longHeader);
  assert.equal(mimeWorkerStats().parsed, before, 'no worker for it');
  assert.deepStrictEqual(parsed, parseMessage(longHeader));
  assert.deepStrictEqual(parsed, parseMessageSync(longHeader, mimeLimits(), mimeShape(longHeader)));
});
