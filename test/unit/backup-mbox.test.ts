// mboxrd: From-line quoting and unquoting is exact for CRLF and LF messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MboxWriter, MboxFormatError, readMbox, scanMbox, escapeFromLines, asctime, parseFromLineDate } from '../../server/backup/mbox.js';
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

/** Writes `text` (latin1) to a temp file and runs fn on its path. */
async function withFile<T>(text: string | Buffer, fn: (file: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  try {
    const file = path.join(dir, 'in.mbox');
    fs.writeFileSync(file, typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
    return await fn(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function readAll(file: string, unquote?: boolean): Promise<string[]> {
  const out: string[] = [];
  for await (const m of readMbox(file, unquote === undefined ? {} : { unquote })) out.push(m.raw.toString('latin1'));
  return out;
}

const SEP = 'From someone@example.com Thu Aug 10 12:34:56 2023\n';

test('mboxrd (RFC 4155 quoting): one ">" is removed from every ^>+From line; our export reads back exactly', async () => {
  await withFile(`${SEP}Subject: a\n\n>From quoted\n>>From twice\n\n${SEP}Subject: b\n\nx\n\n`, async (file) => {
    const scan = await scanMbox(file);
    assert.deepEqual(scan, { messages: 2, unquote: true });
    assert.deepEqual(await readAll(file, scan.unquote), ['Subject: a\n\nFrom quoted\n>From twice\n', 'Subject: b\n\nx\n']);
  });
});

test('mboxo written without quoting: a bare "From " body line means ">From " is text and stays; a From line without a date after a blank line is body text', async () => {
  const text = `${SEP}Subject: a\n\nFrom here on, text.\n>From a quote\n\nFrom the desk of nobody\n\n${SEP}Subject: b\n\nx\n`;
  await withFile(text, async (file) => {
    const scan = await scanMbox(file);
    assert.deepEqual(scan, { messages: 2, unquote: false });
    assert.deepEqual(await readAll(file, scan.unquote), ['Subject: a\n\nFrom here on, text.\n>From a quote\n\nFrom the desk of nobody\n', 'Subject: b\n\nx\n']);
  });
});

test('From_ dates: asctime, Thunderbird "From - ", and Google Takeout\'s zone before the year', () => {
  assert.equal(parseFromLineDate('From - Thu Aug 10 12:34:56 2023\n')?.toISOString(), '2023-08-10T12:34:56.000Z');
  assert.equal(parseFromLineDate('From 1773012912345678901@xxx Wed Mar 04 09:12:33 +0100 2020\r\n')?.toISOString(), '2020-03-04T08:12:33.000Z');
  assert.equal(parseFromLineDate('From here we go to the shop\n'), null);
});

test('malformed mbox files are refused with the line number, before any message is returned', async () => {
  const big = `${SEP}Subject: big\n\n${'x'.repeat(2000)}\n\n`;
  const cases: [string, string | Buffer, RegExp][] = [
    ['no separator at the start', 'Subject: a\n\nbody\n', /line 1 does not start with a "From " separator line/],
    ['cut mid-header, with a final newline', `${SEP}Subject: a\n\nbody\n\n${SEP}Subject: cut\nTo: x@exam\n`, /line 8 ends the file inside the header of the message that starts at line 6/],
    ['cut mid-header, no final newline', `${SEP}Subject: a\n\nbody\n\n${SEP}Subj`, /line 7 ends the file inside the header of the message that starts at line 6/],
    ['a separator alone at the end', `${SEP}Subject: a\n\nbody\n\nFrom x Thu Aug 10 12:34:56 2023`, /line 6 ends the file inside the header of the message that starts at line 6/],
    ['invalid bytes in a separator', Buffer.concat([Buffer.from(`${SEP}Subject: a\n\nbody\n\nFrom b\x00d@x Thu Aug 10 12:34:56 2023\n`, 'latin1'), Buffer.from('Subject: b\n\nx\n')]), /line 6 is a "From " separator line with bytes that are not printable ASCII/],
    ['invalid bytes in the first separator', Buffer.from('From caf\xe9@x Thu Aug 10 12:34:56 2023\nSubject: a\n\nx\n', 'latin1'), /line 1 is a "From " separator line with bytes/],
    ['a message over the size limit', `${SEP}Subject: a\n\nok\n\n${big}`, /line 6 starts a message larger than the import limit of 1024 bytes \(SEALPOST_IMPORT_MAX_MESSAGE_SIZE\)/],
    ['one line without an end, longer than the limit', `${SEP}Subject: a\n\n${'y'.repeat(5000)}`, /line 1 starts a message larger than the import limit of 1024 bytes/],
  ];
  for (const [name, text, expected] of cases) {
    await withFile(text, async (file) => {
      await assert.rejects(scanMbox(file, { maxMessageBytes: 1024 }), (e: unknown) => e instanceof MboxFormatError && expected.test(e.message) && /^in\.mbox is not a valid mbox file: line \d+ /.test(e.message), name);
    });
  }
  // An empty file is a folder without messages (the mbox export writes one for an empty folder).
  await withFile('', async (file) => assert.deepEqual(await scanMbox(file), { messages: 0, unquote: true }));
  // A last line without a newline after a complete header is body text, not a cut file.
  await withFile(`${SEP}Subject: a\n\nlast line`, async (file) => {
    assert.deepEqual(await scanMbox(file), { messages: 1, unquote: true });
    assert.deepEqual(await readAll(file), ['Subject: a\n\nlast line']);
  });
});
