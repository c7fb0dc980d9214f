// The public HTTP and HTTPS listeners (server/certs/web.ts) over real sockets: our MTA-STS policy is served
// for mta-sts.<domain> exactly as the DNS helper's TXT record announces it, everything else is a 404 or
// 405, and hostile input (huge headers, odd paths, one address opening many connections) is refused in
// HTTP's own words without harming the next client.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { parsePolicy } from 'mailauth/lib/mta-sts.js';
import { closeContext, openContext } from '../../server/app.js';
import { recordsFor } from '../../server/admin/dns-records.js';
import { createCertificatesService } from '../../server/certs/index.js';
import type { AppContext, Listener } from '../../server/context.js';
import { silentLogger } from '../../server/log.js';
import { ADMIN_TEST_KDF } from '../helpers/admin-http.js';
import { freePorts, listenerPort, listenerPortsEnv } from '../helpers/ports.js';

const HOST = 'mx.web-listeners.test';
const DOMAIN = 'sts-example.test';
const STS_HOST = `mta-sts.${DOMAIN}`;
const PER_IP = 4;

let dir: string;
let ctx: AppContext;
let service: ReturnType<typeof createCertificatesService>;
let listeners: Listener[] = [];
let httpPort = 0;
let httpsPort = 0;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-web-'));
  const [p1, p2] = await freePorts(2);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SEALPOST_DATA: dir,
    SEALPOST_KEYCHAIN: 'off',
    SEALPOST_APP_KEY: crypto.randomBytes(32).toString('hex'),
    SEALPOST_HOSTNAME: HOST,
    SEALPOST_LOG_LEVEL: 'silent',
    ...listenerPortsEnv(['http', 'https'], [p1!, p2!]),
    // what the autoconfig answer names (only the web listeners are opened here)
    SEALPOST_IMAPS_PORT: '1993',
    SEALPOST_SUBMISSIONS_PORT: '1465',
    SEALPOST_MTA_STS_MODE: 'enforce',
    SEALPOST_MTA_STS_MAX_AGE: '86400',
    SEALPOST_WEB_MAX_CONNECTIONS_PER_IP: String(PER_IP),
    SEALPOST_WEB_MAX_HEADER_BYTES: '4096',
    SEALPOST_WEB_HEADERS_TIMEOUT_MS: '1000',
  };
  ctx = await openContext({ env }, { logger: silentLogger(), kdf: ADMIN_TEST_KDF });
  ctx.directory.addDomain(DOMAIN);
  service = createCertificatesService(ctx);
  listeners = await service.start();
  httpPort = listenerPort({ listeners }, 'http');
  httpsPort = listenerPort({ listeners }, 'https');
});

after(async () => {
  await service?.stop();
  if (ctx) await closeContext(ctx);
  fs.rmSync(dir, { recursive: true, force: true });
});

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Writes one raw request and reads the answer until the server closes (Connection: close). */
function exchange(socket: net.Socket, request: string | Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('error', reject);
    socket.once('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body: rest.join('\r\n\r\n') });
    });
    socket.write(request);
  });
}

function httpRaw(request: string | Buffer): Promise<RawResponse> {
  return exchange(net.connect(httpPort, '127.0.0.1'), request);
}

function httpsRaw(request: string | Buffer, servername: string | null = STS_HOST): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: httpsPort, ...(servername ? { servername } : {}), rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      exchange(socket, request).then(resolve, reject);
    });
    socket.once('error', reject);
  });
}

const get = (target: string, host: string, method = 'GET', extra = ''): string => `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`;

describe('MTA-STS policy over HTTPS', () => {
  it('RFC 8461 §3.3: GET https://mta-sts.<domain>/.well-known/mta-sts.txt returns our policy as text/plain, and the DNS helper announces its id', async () => {
    const response = await httpsRaw(get('/.well-known/mta-sts.txt', STS_HOST));
    assert.equal(response.status, 200);
    assert.match(response.headers['content-type'] ?? '', /^text\/plain/);
    assert.equal(response.body, `version: STSv1\r\nmode: enforce\r\nmx: ${HOST}\r\nmax_age: 86400\r\n`);
    // What a sending MTA's parser (mailauth, our own outbound's) makes of it.
    const parsed = parsePolicy(response.body) as { mode: string; mx: string[]; maxAge: number };
    assert.deepEqual([parsed.mode, parsed.mx, parsed.maxAge], ['enforce', [HOST], 86400]);
    const records = recordsFor(DOMAIN, ctx.config, []);
    const txt = records.find((r) => r.purpose === 'MTA-STS' && r.type === 'TXT');
    assert.equal(txt?.name, `_mta-sts.${DOMAIN}`);
    const id = /^v=STSv1; id=([A-Za-z0-9]{1,32})$/.exec(txt?.value ?? '')?.[1];
    assert.equal(id, crypto.createHash('sha256').update(response.body).digest('hex').slice(0, 20), 'the TXT id is derived from the served text');
    assert.deepEqual(
      records.filter((r) => r.purpose === 'TLSRPT').map((r) => [r.name, r.value]),
      [[`_smtp._tls.${DOMAIN}`, `v=TLSRPTv1; rua=mailto:aggregate-reports@${DOMAIN}`]],
    );
    const head = await httpsRaw(get('/.well-known/mta-sts.txt', STS_HOST, 'HEAD'));
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('answers 404 for another host, an unknown domain, a mismatching SNI and odd paths; 405 for other methods', async () => {
    const cases: [string, string, string | null, number][] = [
      ['/.well-known/mta-sts.txt', HOST, HOST, 404],
      ['/.well-known/mta-sts.txt', 'mta-sts.unknown.test', 'mta-sts.unknown.test', 404],
      ['/.well-known/mta-sts.txt', STS_HOST, 'mta-sts.other.test', 404],
      ['/.well-known/mta-sts.txt', `${STS_HOST}:443`, STS_HOST, 200],
      ['/.well-known/mta-sts.txt?x=1', STS_HOST, STS_HOST, 404],
      ['/.well-known/MTA-STS.TXT', STS_HOST, STS_HOST, 404],
      ['/.well-known/%6dta-sts.txt', STS_HOST, STS_HOST, 404],
      ['/.well-known/../.well-known/mta-sts.txt', STS_HOST, STS_HOST, 404],
      ['//.well-known/mta-sts.txt', STS_HOST, STS_HOST, 404],
      ['/', STS_HOST, STS_HOST, 404],
      ['*', STS_HOST, STS_HOST, 404],
      [`/${'a/'.repeat(1500)}`, STS_HOST, STS_HOST, 404],
    ];
    for (const [target, host, sni, status] of cases) {
      const response = await httpsRaw(get(target, host), sni);
      assert.equal(response.status, status, `${target.slice(0, 40)} Host ${host} SNI ${sni}`);
    }
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']) {
      const response = await httpsRaw(get('/.well-known/mta-sts.txt', STS_HOST, method));
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.allow, 'GET, HEAD');
    }
  });

  it('refuses a Host-less request and a huge header block with 400/431, then serves the next client', async () => {
    assert.equal((await httpsRaw('GET /.well-known/mta-sts.txt HTTP/1.1\r\nConnection: close\r\n\r\n')).status, 400);
    const huge = get('/.well-known/mta-sts.txt', STS_HOST, 'GET', `X-Fill: ${'x'.repeat(64 * 1024)}\r\n`);
    assert.equal((await httpsRaw(huge)).status, 431);
    const many = get('/.well-known/mta-sts.txt', STS_HOST, 'GET', Array.from({ length: 2000 }, (_, i) => `X-H${i}: y\r\n`).join(''));
    assert.equal((await httpsRaw(many)).status, 431);
    assert.equal((await httpsRaw(get('/.well-known/mta-sts.txt', STS_HOST))).status, 200);
  });
});

describe('Thunderbird autoconfig over HTTPS', () => {
  const AUTOCONFIG_HOST = `autoconfig.${DOMAIN}`;
  it('GET https://autoconfig.<domain>/mail/config-v1.1.xml (and the .well-known path, with ?emailaddress=) answers our servers for the domain', async () => {
    for (const target of ['/mail/config-v1.1.xml', `/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=someone%40${DOMAIN}`]) {
      const response = await httpsRaw(get(target, AUTOCONFIG_HOST), AUTOCONFIG_HOST);
      assert.equal(response.status, 200, target);
      assert.match(response.headers['content-type'] ?? '', /^application\/xml/);
      assert.match(response.body, new RegExp(`<domain>${DOMAIN.replace('.', '\\.')}</domain>`));
      assert.match(response.body, new RegExp(`<incomingServer type="imap">\\s*<hostname>${HOST.replace(/\./g, '\\.')}</hostname>\\s*<port>1993</port>`));
    }
  });

  it('answers nothing for an unknown domain, another name, a mismatching SNI or another path', async () => {
    const cases: [string, string, string | null][] = [
      ['/mail/config-v1.1.xml', 'autoconfig.unknown.test', 'autoconfig.unknown.test'],
      ['/mail/config-v1.1.xml', STS_HOST, STS_HOST],
      ['/mail/config-v1.1.xml', AUTOCONFIG_HOST, STS_HOST],
      ['/mail/config-v1.1.xml/../x', AUTOCONFIG_HOST, AUTOCONFIG_HOST],
      ['/.well-known/mta-sts.txt', AUTOCONFIG_HOST, AUTOCONFIG_HOST],
    ];
    for (const [target, host, sni] of cases) assert.equal((await httpsRaw(get(target, host), sni)).status, 404, `${target} Host ${host} SNI ${sni}`);
    assert.equal((await httpsRaw(get('/mail/config-v1.1.xml', AUTOCONFIG_HOST, 'POST'), AUTOCONFIG_HOST)).status, 405);
  });
});

describe('TLS-ALPN-01 on the HTTPS listener (RFC 8737 §3)', () => {
  it('refuses an acme-tls/1 handshake for a name with no open challenge, and still serves http/1.1', async () => {
    for (const servername of [HOST, STS_HOST, 'other.example']) {
      const outcome = await new Promise<string>((resolve) => {
        const socket = tls.connect({ host: '127.0.0.1', port: httpsPort, servername, ALPNProtocols: ['acme-tls/1'], rejectUnauthorized: false }, () => {
          resolve(`handshake ${socket.alpnProtocol}`);
          socket.destroy();
        });
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });
      assert.match(outcome, /ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL|ECONNRESET/, servername);
    }
    assert.equal((await httpsRaw(get('/.well-known/mta-sts.txt', STS_HOST))).status, 200);
  });
});

describe('HTTP listener (ACME HTTP-01, RFC 8555 §8.3)', () => {
  it('answers a request whose headers never finish with 408 and closes it (slowloris)', async () => {
    const socket = net.connect(httpPort, '127.0.0.1');
    const response = await exchange(socket, `GET / HTTP/1.1\r\nHost: ${HOST}\r\nX-Slow: `);
    assert.equal(response.status, 408);
  });

  it('404s unknown challenge tokens and odd token spellings; redirects names we serve to HTTPS; 404s other hosts', async () => {
    for (const token of ['abc', 'a%2Fb', '../../etc/passwd', 'x'.repeat(300), '']) {
      assert.equal((await httpRaw(get(`/.well-known/acme-challenge/${token}`, HOST))).status, 404, token.slice(0, 20));
    }
    const moved = await httpRaw(get('/some/path?q=1', STS_HOST));
    assert.equal(moved.status, 301);
    assert.equal(moved.headers.location, `https://${STS_HOST}:${httpsPort}/some/path?q=1`);
    assert.equal((await httpRaw(get('/', 'evil.example'))).status, 404);
    assert.equal((await httpRaw(get('//evil.example/x', HOST))).status, 404);
    assert.equal((await httpRaw(get('/', HOST, 'POST'))).status, 405);
    assert.equal((await httpRaw('GET / HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n')).status, 404);
    assert.equal((await httpRaw('NOT-HTTP\r\n\r\n')).status, 400);
  });

  it(`caps one address at ${PER_IP} open connections per listener (503 on HTTP, closed before the handshake on HTTPS), and frees the slots`, async () => {
    const held: net.Socket[] = [];
    const connect = (port: number): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
        socket.once('error', reject);
      });
    try {
      for (let i = 0; i < PER_IP; i++) held.push(await connect(httpPort), await connect(httpsPort));
      // Let the server count them before the next ones arrive.
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (let i = 0; i < 10; i++) {
        const refused = await httpRaw(get('/', HOST));
        assert.equal(refused.status, 503);
      }
      const tlsRefused = await new Promise<string>((resolve) => {
        const socket = tls.connect({ host: '127.0.0.1', port: httpsPort, servername: STS_HOST, rejectUnauthorized: false }, () => resolve('handshake'));
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
        socket.once('close', () => resolve('closed'));
      });
      assert.notEqual(tlsRefused, 'handshake');
    } finally {
      for (const socket of held) socket.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await httpsRaw(get('/.well-known/mta-sts.txt', STS_HOST))).status, 200);
  });

  it('a bounded flood of bad requests (300) leaves the listener answering', async () => {
    const batch = async (n: number): Promise<number[]> => Promise.all(Array.from({ length: n }, (_, i) => httpRaw(get(`/.well-known/acme-challenge/t${i}`, HOST)).then((r) => r.status)));
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) statuses.push(...(await batch(3)));
    assert.ok(statuses.every((s) => s === 404 || s === 503), `only 404s and cap refusals: ${[...new Set(statuses)].join(',')}`);
    assert.equal((await httpsRaw(get('/.well-known/mta-sts.txt', STS_HOST))).status, 200);
  });
});
