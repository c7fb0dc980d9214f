// The RETR reply framing (server/pop3/retr.ts): CRLF line ends, byte-stuffed lines that start with ".", the
// terminating ".\r\n" — byte for byte what the stream encoder WildDuck's own RETR used (nodemailer's DataStream)
// sends, for messages a client may meet: dots at line starts, bare LF, a last line without a line end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import type { Transform } from 'node:stream';
import { multilineReply } from '../../server/pop3/retr.js';

const DataStream = createRequire(import.meta.url)('nodemailer/lib/smtp-connection/data-stream') as new () => Transform;

/** What WildDuck's RETR wrote: its status line, then the message through DataStream in one chunk. */
async function streamed(status: string, message: Buffer): Promise<Buffer> {
  const encoder = new DataStream();
  const out: Buffer[] = [Buffer.from(`${status}\r\n`)];
  encoder.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = new Promise((resolve) => encoder.on('end', resolve));
  encoder.end(message);
  await ended;
  return Buffer.concat(out);
}

const text = (s: string): Buffer => Buffer.from(s, 'latin1');

test('a CRLF message without leading dots goes out unchanged between the status line and ".\\r\\n"', () => {
  const message = text('From: a@example.test\r\nSubject: hi\r\n\r\nHello.\r\n');
  assert.equal(multilineReply('+OK 44 octets', message).toString('latin1'), `+OK 44 octets\r\n${message.toString('latin1')}.\r\n`);
});

test('lines that start with a dot are stuffed, including the first line and a lone "." line', () => {
  const message = text('.first\r\nmiddle\r\n.\r\n..two\r\nend.\r\n');
  assert.equal(multilineReply('+OK', message).toString('latin1'), '+OK\r\n..first\r\nmiddle\r\n..\r\n...two\r\nend.\r\n.\r\n');
});

test('bare LF becomes CRLF; a dot after a bare LF is stuffed; a lone CR is no line end', () => {
  const message = text('a\nb\r\n\n.c\rd\n');
  assert.equal(multilineReply('+OK', message).toString('latin1'), '+OK\r\na\r\nb\r\n\r\n..c\rd\r\n.\r\n');
});

test('a last line without a line end is completed before the terminator; so is one ending in CR', () => {
  assert.equal(multilineReply('+OK', text('body')).toString('latin1'), '+OK\r\nbody\r\n.\r\n');
  assert.equal(multilineReply('+OK', text('body\r')).toString('latin1'), '+OK\r\nbody\r\n.\r\n');
  assert.equal(multilineReply('+OK', text('\n')).toString('latin1'), '+OK\r\n\r\n.\r\n');
});

test('an empty message is the status line and the terminator alone', () => {
  assert.equal(multilineReply('+OK 0 octets', Buffer.alloc(0)).toString('latin1'), '+OK 0 octets\r\n.\r\n');
});

test('random messages of dots, CR, LF and text: the same bytes as the stream encoder', async () => {
  const alphabet = text('..\r\n\nab\r.x\n');
  for (let i = 0; i < 500; i++) {
    const length = 1 + crypto.randomInt(200);
    const message = Buffer.from(Array.from({ length }, () => alphabet[crypto.randomInt(alphabet.length)]!));
    const expected = await streamed('+OK', message);
    assert.deepEqual(multilineReply('+OK', message), expected, `message ${JSON.stringify(message.toString('latin1'))}`);
  }
});

test('8-bit and binary bytes pass through untouched', async () => {
  const message = Buffer.concat([text('Subject: caf'), Buffer.from([0xc3, 0xa9, 0x00, 0xff]), text('\r\n.\r\n')]);
  assert.deepEqual(multilineReply('+OK', message), await streamed('+OK', message));
});
