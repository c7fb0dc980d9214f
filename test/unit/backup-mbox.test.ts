// mboxrd: From-line quoting and unquoting is exact for CRLF and LF messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MboxWriter, readMbox, escapeFromLines, asctime, parseFromLineDate } from '../../server/backup/mbox.js';
import { messageIdOf } from '../../server/backup/transfer.js';

test('messages with From lines, >From lines, CRLF and LF survive an mboxrd round trip byte for byte', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  try {
    const messages = [
      Buffer.from('From: a@example.com\r\nSubject: one\r\n\r\nFrom the start\r\n>From quoted\r\n>>From twice\r\nend\r\n'),
      Buffer.from('Subject: lf\n\nFrom lf body\n\n'),
      Buffer.from('Subject: blank end\r\n\r\nbody\r\n\r\n'),
    ];
    const file = path.join(dir, 'x.mbox');
    const w = new MboxWriter(file);
    const date = new Date('2024-03-05T07:08:09Z');
    for (const m of messages) w.write(m, date);
    w.close();
    const text = fs.readFileSync(file, 'latin1');
    assert.equal(text.split('\n').filter((l) => l.startsWith('From ')).length, 3, 'only separators start with "From "');
    const back = [];
    for await (const m of readMbox(file)) back.push(m);
    assert.deepEqual(back.map((m) => m.raw.toString('latin1')), messages.map((m) => m.toString('latin1')));
    assert.ok(back.every((m) => m.internalDate?.getTime() === date.getTime()));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('From-line helpers', () => {
  assert.equal(escapeFromLines(Buffer.from('a\nFrom x\n>From y\n')).toString(), 'a\n>From x\n>>From y\n');
  assert.equal(asctime(new Date('2024-01-02T03:04:05Z')), 'Tue Jan  2 03:04:05 2024');
  assert.equal(parseFromLineDate('From MAILER-DAEMON Tue Jan  2 03:04:05 2024\n')?.toISOString(), '2024-01-02T03:04:05.000Z');
  assert.equal(messageIdOf(Buffer.from('Subject: x\r\nMessage-ID:\r\n <a@b>\r\n\r\nMessage-ID: <body@x>\r\n')), '<a@b>');
  assert.equal(messageIdOf(Buffer.from('Subject: x\r\n\r\nMessage-ID: <body@x>\r\n')), null);
});
