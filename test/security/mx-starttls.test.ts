// STARTTLS command injection on the MX (RFC 3207 §4.2, CVE-2011-0411 class): commands a client pipelines
// behind STARTTLS in the same plaintext write must be discarded, never answered inside the TLS session.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { makeDkimKey, senderZones, startMxApp, type MxApp } from '../integration/mx-fixture.js';

/** Reads SMTP replies from a stream; next() resolves with the next complete reply. */
function replyReader(stream: NodeJS.ReadableStream): { next(): Promise<string>; pending(): string[] } {
  let buffer = '';
  const ready: string[] = [];
  const waiters: ((reply: string) => void)[] = [];
  stream.on('data', (data: Buffer | string) => {
    buffer += data.toString();
    for (;;) {
      const match = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(buffer);
      if (!match) break;
      buffer = buffer.slice(match[0].length);
      const waiter = waiters.shift();
      if (waiter) waiter(match[0].trimEnd());
      else ready.push(match[0].trimEnd());
    }
  });
  return {
    next: () => (ready.length ? Promise.resolve(ready.shift() as string) : new Promise((resolve) => waiters.push(resolve))),
    pending: () => ready,
  };
}

describe('MX STARTTLS', () => {
  let app: MxApp;
  let port: number;

  before(async () => {
    // The idle timeout stays at its 120 s default: a close within the test's time limit is the handshake timeout.
    app = await startMxApp({ zones: senderZones(makeDkimKey('good.test')), env: { SEALPOST_SMTP_HANDSHAKE_TIMEOUT_MS: '1500' } });
    port = app.port('smtp');
  });

  after(async () => {
    await app?.stop();
  });

  test('RFC 3207 §4.2: commands pipelined behind STARTTLS are discarded, not run inside TLS', async () => {
    const socket = net.connect(port, '127.0.0.1');
    const plain = replyReader(socket);
    assert.match(await plain.next(), /^220 /);
    socket.write('EHLO attacker.test\r\n');
    assert.match(await plain.next(), /^250-.*STARTTLS/s);
    // One write: STARTTLS plus commands an on-path attacker would inject.
    socket.write('STARTTLS\r\nRSET\r\nMAIL FROM:<injected@attacker.test>\r\n');
    assert.match(await plain.next(), /^220 /);
    socket.removeAllListeners('data');
    const secure = tls.connect({ socket, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    const inside = replyReader(secure);
    // The first reply inside TLS must answer our own NOOP: nothing answered RSET or the injected MAIL.
    secure.write('NOOP\r\n');
    const first = await inside.next();
    assert.match(first, /^250 /, 'NOOP answered');
    assert.doesNotMatch(first, /sender|Accepted|Flushed/i);
    secure.write('MAIL FROM:<real@good.test>\r\n');
    assert.match(await inside.next(), /^503 /, 'EHLO is required again after STARTTLS; nothing from plaintext survives');
    secure.write('EHLO client.test\r\n');
    assert.match(await inside.next(), /^250[- ]/);
    secure.write('QUIT\r\n');
    assert.match(await inside.next(), /^221 /);
    assert.deepEqual(inside.pending(), [], 'no stray replies');
    secure.destroy();
  });

  test('a client that says STARTTLS and never completes the handshake is closed by the handshake timeout, and logged', { timeout: 20_000 }, async () => {
    const socket = net.connect(port, '127.0.0.1');
    const plain = replyReader(socket);
    assert.match(await plain.next(), /^220 /);
    socket.write('EHLO staller.test\r\n');
    await plain.next();
    socket.write('STARTTLS\r\n');
    assert.match(await plain.next(), /^220 /);
    // No ClientHello: wait for the server to close.
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const logged = app.logs.filter((line) => line.includes('"msg":"security tls.failed ip=127.0.0.1 protocol=smtp reason=handshake-timeout"'));
    assert.equal(logged.length, 1);
  });
});
