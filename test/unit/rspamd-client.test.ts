// The rspamd hand-off's own parts against hostile input: the URL rule (server/net.ts address classes), the settings,
// the /checkv2 answer parser, the header the junk filter trusts, and the HTTP client against misbehaving peers on
// real loopback sockets (silent, huge, failing, refusing). A real rspamd is in test/integration/rspamd-junk.test.ts.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { after, test } from 'node:test';
import { rspamdHeaderLine, stripRspamdHeaders, trustedRspamdAction } from '../../server/junk/index.js';
import { loadMxSettings } from '../../server/smtp/mx/settings.js';
import { MAX_RSPAMD_ANSWER_BYTES, parseRspamdAnswer, parseRspamdUrl, rspamdCheck, rspamdFailure, type RspamdEnvelope } from '../../server/smtp/mx/rspamd.js';
import { freePort } from '../helpers/ports.js';

const servers: http.Server[] = [];
after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A peer on a free loopback port answering each request with `handler`; resolves with its base URL. */
async function peer(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

const envelope: RspamdEnvelope = { ip: '::ffff:192.0.2.7', helo: 'mail.example\r\nX-Injected: 1', from: 'ann@example.org', recipients: ['a@sealpost.test', 'b@sealpost.test'], queueId: 'q1' };
const settings = (url: string, timeoutMs = 5000) => ({ url, password: null, timeoutMs });

test('the rspamd URL: loopback, LAN and public IPs and localhost are accepted; metadata, multicast, unspecified, names and credentials are refused with a sentence', () => {
  for (const [text, url] of [
    ['http://127.0.0.1:11333', 'http://127.0.0.1:11333'],
    ['http://127.0.0.1:11333/', 'http://127.0.0.1:11333'],
    ['http://[::1]:11333', 'http://[::1]:11333'],
    ['http://10.1.2.3:11333', 'http://10.1.2.3:11333'],
    ['https://192.168.0.9:11333', 'https://192.168.0.9:11333'],
    ['http://localhost:11333', 'http://localhost:11333'],
    ['http://8.8.8.8:11333', 'http://8.8.8.8:11333'],
  ]) assert.equal(parseRspamdUrl(text!), url);
  for (const [text, why] of [
    ['http://169.254.169.254/', /link-local/],
    ['http://[fe80::1]:11333', /link-local/],
    ['http://0.0.0.0:11333', /unspecified/],
    ['http://224.0.0.1:11333', /multicast/],
    ['http://rspamd.lan:11333', /by IP address/],
    ['ftp://127.0.0.1/', /http:\/\/ or https:\/\//],
    ['http://user:pw@127.0.0.1:11333', /SEALPOST_RSPAMD_PASSWORD/],
    ['http://127.0.0.1:11333/?a=1', /query/],
    ['not a url', /must be an http/],
  ] as const) assert.throws(() => parseRspamdUrl(text), why, text);
});

test('settings: off unless SEALPOST_RSPAMD_URL or the saved rspamdUrl names it; the variable wins; timeout 5000 ms by default', () => {
  assert.equal(loadMxSettings({}).rspamd, null);
  assert.deepEqual(loadMxSettings({ SEALPOST_RSPAMD_URL: 'http://127.0.0.1:11333' }).rspamd, { url: 'http://127.0.0.1:11333', password: null, timeoutMs: 5000 });
  assert.equal(loadMxSettings({}, { rspamdUrl: 'http://10.0.0.2:11333' }).rspamd?.url, 'http://10.0.0.2:11333');
  assert.equal(loadMxSettings({ SEALPOST_RSPAMD_URL: 'http://127.0.0.1:1' }, { rspamdUrl: 'http://10.0.0.2:11333' }).rspamd?.url, 'http://127.0.0.1:1');
  const full = loadMxSettings({ SEALPOST_RSPAMD_URL: 'http://127.0.0.1:1', SEALPOST_RSPAMD_PASSWORD: 's3cret', SEALPOST_RSPAMD_TIMEOUT_MS: '800' }).rspamd;
  assert.deepEqual(full, { url: 'http://127.0.0.1:1', password: 's3cret', timeoutMs: 800 });
  assert.throws(() => loadMxSettings({ SEALPOST_RSPAMD_URL: 'http://127.0.0.1:1', SEALPOST_RSPAMD_TIMEOUT_MS: '5s' }), /SEALPOST_RSPAMD_TIMEOUT_MS/);
  assert.throws(() => loadMxSettings({ SEALPOST_RSPAMD_URL: 'http://127.0.0.1:1', SEALPOST_RSPAMD_TIMEOUT_MS: '10' }), /SEALPOST_RSPAMD_TIMEOUT_MS/);
  assert.throws(() => loadMxSettings({}, { rspamdUrl: 'http://169.254.169.254' }), /saved setting rspamdUrl names a link-local address/);
});

test('the /checkv2 answer: only a known action counts; hostile JSON (garbage, deep nesting, odd types, huge numbers) is an error, never a verdict', () => {
  assert.deepEqual(parseRspamdAnswer('{"action":"add header","score":7.5,"required_score":15}'), { action: 'add header', score: 7.5, required: 15 });
  assert.deepEqual(parseRspamdAnswer('{"action":"no action"}'), { action: 'no action' });
  assert.deepEqual(parseRspamdAnswer('{"action":"reject","score":1e300,"required_score":15}'), { action: 'reject' });
  for (const text of ['', 'null', '[]', '"reject"', '{"action":"error"}', '{"action":"spam"}', '{"action":["reject"]}', '{"action":"reject\\r\\nX: y"}', '['.repeat(200_000), `{"a":"${'x'.repeat(1_000_000)}"}`]) {
    assert.throws(() => parseRspamdAnswer(text), Error, text.slice(0, 40));
  }
});

test('the trusted field: only our MX\'s X-Sealpost-Rspamd above the first Received decides; a sender\'s below it, or an unknown action, decides nothing', () => {
  const line = rspamdHeaderLine({ action: 'add header', score: 7.5, required: 15 });
  assert.equal(line, 'X-Sealpost-Rspamd: action=add header; score=7.50; required=15.00\r\n');
  assert.equal(rspamdHeaderLine({ action: 'error', score: 1, required: 2 }), 'X-Sealpost-Rspamd: action=error\r\n');
  const body = 'Received: from x by y; Mon, 7 Dec 2026 00:00:00 +0000\r\nX-Sealpost-Rspamd: action=reject\r\nSubject: s\r\n\r\nbody\r\n';
  assert.equal(trustedRspamdAction(Buffer.from(`Return-Path: <>\r\n${line}${body}`)), 'add header');
  assert.equal(trustedRspamdAction(Buffer.from(`X-Sealpost-Rspamd:\r\n action=no action\r\n${body}`)), 'no action', 'a folded field');
  assert.equal(trustedRspamdAction(Buffer.from(body)), null, 'below Received: the sender\'s');
  assert.equal(trustedRspamdAction(Buffer.from(`X-Sealpost-Rspamd: action=delete everything\r\n${body}`)), null);
  assert.equal(trustedRspamdAction(Buffer.from('Subject: s\r\n\r\nX-Sealpost-Rspamd: action=reject\r\n')), null, 'in the body');
  // A flood of 50,000 forged fields is removed in one pass and nothing is left to decide.
  const flood = Buffer.from(`${'X-Sealpost-Rspamd: action=reject\r\n'.repeat(50_000)}Subject: s\r\n\r\nbody\r\n`);
  const stripped = stripRspamdHeaders(flood);
  assert.equal(stripped.toString(), 'Subject: s\r\n\r\nbody\r\n');
  assert.equal(trustedRspamdAction(stripped), null);
});

test('the client sends the message with IP, Helo, From, one Rcpt per recipient and Queue-Id, with no header injection', async () => {
  type Seen = { headers: http.IncomingHttpHeaders; rawHeaders: string[]; body: string; path: string };
  const seen: Seen[] = [];
  const url = await peer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString(), path: req.url ?? '' });
      res.end('{"action":"greylist","score":4,"required_score":15}');
    });
  });
  const answer = await rspamdCheck(Buffer.from('Subject: hi\r\n\r\nbody\r\n'), envelope, { ...settings(url), password: 'pw' });
  assert.deepEqual(answer, { action: 'greylist', score: 4, required: 15 });
  assert.equal(seen.length, 1);
  const got = seen[0]!;
  assert.equal(got.path, '/checkv2');
  assert.equal(got.body, 'Subject: hi\r\n\r\nbody\r\n');
  assert.equal(got.headers.ip, '192.0.2.7');
  assert.equal(got.headers.helo, 'mail.exampleX-Injected: 1');
  assert.equal(got.headers['x-injected'], undefined);
  assert.equal(got.headers.from, 'ann@example.org');
  assert.equal(got.headers['queue-id'], 'q1');
  assert.equal(got.headers.password, 'pw');
  const rcpts = got.rawHeaders.filter((name, i) => i % 2 === 0 && name.toLowerCase() === 'rcpt').length;
  assert.equal(rcpts, 2);
});

test('hostile peers: silent past the timeout, a 2 MiB answer, HTTP 500 and a closed port are each an error with a short reason', async () => {
  const silent = await peer(() => undefined);
  await assert.rejects(rspamdCheck(Buffer.from('x'), envelope, settings(silent, 200)), (e) => rspamdFailure(e) === 'timeout');
  const huge = await peer((_req, res) => res.end(`{"action":"reject","pad":"${'x'.repeat(MAX_RSPAMD_ANSWER_BYTES * 2)}"}`));
  await assert.rejects(rspamdCheck(Buffer.from('x'), envelope, settings(huge)), (e) => rspamdFailure(e) === 'answer too large');
  const failing = await peer((_req, res) => {
    res.statusCode = 500;
    res.end('{"action":"reject"}');
  });
  await assert.rejects(rspamdCheck(Buffer.from('x'), envelope, settings(failing)), (e) => rspamdFailure(e) === 'HTTP 500');
  const closed = `http://127.0.0.1:${await freePort()}`;
  await assert.rejects(rspamdCheck(Buffer.from('x'), envelope, settings(closed)), (e) => rspamdFailure(e) === 'ECONNREFUSED');
});
