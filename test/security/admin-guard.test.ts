// The admin guard's pure rules: which Host names reach the admin, what a path canonically names, which
// spellings are odd, what counts as same-origin, the admin limits from the environment, and the bounded
// rate of refusal log lines.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { adminConnectionLimits, canonicalPath, hostAccess, hostOfHeader, isApiPath, isStructurallyOdd, sameOrigin, AdminSecurityLog } from '../../server/admin/guard.js';
import { adminExposureWarning, isLoopback } from '../../server/admin/exposure.js';

const policy = { hostname: 'mail.example.org', listenHost: '0.0.0.0', extraHosts: ['admin.example.net'], isLocalDomain: (n: string) => n === 'example.org' };

describe('admin guard rules', () => {
  it('accepts only Host names that name this server; our mail domains reach the mail-client routes only', () => {
    const admin = ['127.0.0.1:7080', 'localhost', 'LOCALHOST.:7080', '[::1]:7080', '[::ffff:127.0.0.1]', 'mail.example.org', 'admin.example.net:443', '127.8.9.10'];
    for (const host of admin) assert.equal(hostAccess(host, policy, undefined), 'admin', host);
    for (const host of ['autoconfig.example.org', 'autodiscover.example.org:80', 'mta-sts.example.org', 'example.org']) assert.equal(hostAccess(host, policy, undefined), 'mail-client', host);
    const refused = ['attacker.example', 'mail.example.org.attacker.example', 'autoconfig.other.test', '0.0.0.0', '10.0.0.1', '[::2]', '', 'a b', 'user@127.0.0.1', '127.0.0.1:99999x', '..', 'x..y'];
    for (const host of refused) assert.equal(hostAccess(host, policy, undefined), null, host);
    assert.equal(hostAccess(undefined, policy, undefined), null, 'no Host at all');
    assert.equal(hostAccess('192.168.1.5:7080', policy, '192.168.1.5'), 'admin', 'the address the client connected to');
    assert.equal(hostAccess('192.168.1.5:7080', policy, '::ffff:192.168.1.5'), 'admin', 'its IPv4-mapped form');
    assert.equal(hostAccess('192.168.1.6', policy, '192.168.1.5'), null);
    assert.equal(hostOfHeader('[::1]:7080'), '::1');
  });

  it('resolves a path to its canonical form (RFC 3986 section 5.2.4 dot segments, decoding, slashes)', () => {
    const cases: [string, string][] = [
      ['/api/aliases', '/api/aliases'],
      ['/%61pi/aliases', '/api/aliases'],
      ['//api//aliases/', '/api/aliases'],
      ['/x/../api/aliases', '/api/aliases'],
      ['/x/%2e%2e/api/aliases', '/api/aliases'],
      ['/api%2Faliases', '/api/aliases'],
      ['/%2561pi/aliases', '/api/aliases'],
      ['/..\\api\\aliases', '/api/aliases'],
      ['/api/aliases?x=/../y', '/api/aliases'],
      ['http://attacker.example/api/aliases', '/api/aliases'],
      ['/%zz/api', '/%zz/api'],
      ['/', '/'],
    ];
    for (const [raw, canonical] of cases) assert.equal(canonicalPath(raw), canonical, raw);
    assert.ok(isApiPath('/api') && isApiPath('/api/x') && !isApiPath('/apix') && !isApiPath('/'));
  });

  it('tells structurally odd spellings from canonical ones', () => {
    for (const raw of ['/', '/api/aliases', '/%61pi/aliases', '/api/aliases?next=//x', '/auth/token?t=a/b']) assert.equal(isStructurallyOdd(raw), false, raw);
    for (const raw of ['//api', '/api/', '/api/./x', '/api/../x', '/api/%2e%2E/x', '/api%2fx', '/api%5cx', '/api\\x', '/%2561pi', 'http://h/api', '*']) assert.equal(isStructurallyOdd(raw), true, raw);
  });

  it('matches Origin against scheme, host and port of the accepted Host', () => {
    assert.ok(sameOrigin('http://127.0.0.1:7080', 'http', '127.0.0.1:7080'));
    assert.ok(sameOrigin('https://admin.example.net', 'https', 'admin.example.net:443'), 'default port');
    assert.ok(sameOrigin('HTTP://LOCALHOST:7080', 'http', 'localhost:7080'));
    for (const [origin, scheme, host] of [
      ['http://127.0.0.1:7081', 'http', '127.0.0.1:7080'],
      ['https://127.0.0.1:7080', 'http', '127.0.0.1:7080'],
      ['http://attacker.example', 'http', 'attacker.example.evil'],
      ['null', 'http', '127.0.0.1:7080'],
      ['', 'http', '127.0.0.1:7080'],
      [undefined, 'http', '127.0.0.1:7080'],
      ['not a url', 'http', '127.0.0.1:7080'],
    ] as const) {
      assert.equal(sameOrigin(origin, scheme, host), false, `${origin} vs ${scheme}://${host}`);
    }
  });

  it('reads the admin limits from SEALPOST_ADMIN_* with defaults, and keeps the total within the admin fd share', () => {
    const defaults = adminConnectionLimits({});
    assert.equal(defaults.perIp, 32);
    assert.ok(defaults.total > 0 && defaults.total <= 128);
    assert.deepEqual([defaults.headersTimeoutMs, defaults.requestTimeoutMs, defaults.keepAliveTimeoutMs], [20_000, 60_000, 10_000]);
    const set = adminConnectionLimits({ SEALPOST_ADMIN_MAX_CONNECTIONS_PER_IP: '4', SEALPOST_ADMIN_MAX_CONNECTIONS: '6', SEALPOST_ADMIN_HEADERS_TIMEOUT_MS: '5000' });
    assert.deepEqual([set.perIp, set.total, set.headersTimeoutMs], [4, 6, 5000]);
    assert.equal(adminConnectionLimits({ SEALPOST_ADMIN_MAX_CONNECTIONS_PER_IP: 'many' }).perIp, 32, 'a bad value keeps the default');
  });

  it('bounds refusal log lines per event, client and reason, keeps every failed sign-in, and reports the count left out', () => {
    const lines: string[] = [];
    const logger = pino<never>({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString('utf8')), done()) }));
    const log = new AdminSecurityLog(logger);
    for (let i = 0; i < 100; i++) log.note('http.refused', '198.51.100.7', 'bad-host');
    log.note('http.refused', '198.51.100.7', 'no-session');
    for (let i = 0; i < 3; i++) log.authFailed('198.51.100.7', 'bad-password');
    assert.equal(lines.filter((l) => l.includes('reason=bad-host')).length, 1, 'a flood writes one line at once');
    assert.equal(lines.filter((l) => l.includes('reason=no-session')).length, 1, 'another kind is not hidden by the flood');
    assert.equal(lines.filter((l) => l.includes('security auth.failed ip=198.51.100.7 protocol=admin reason=bad-password')).length, 3);
    log.close();
    const flushed = lines.filter((l) => l.includes('reason=bad-host'));
    assert.equal(flushed.length, 2);
    assert.match(flushed[1] ?? '', /"count":99/, 'the rest is reported as a count');
  });

  it('uses the one loopback rule of net.ts for the exposure warning', () => {
    for (const host of ['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1', '127.0.0.2']) assert.equal(isLoopback(host), true, host);
    for (const host of ['0.0.0.0', '::', '192.168.1.5', 'mail.example.org']) assert.equal(isLoopback(host), false, host);
    assert.equal(adminExposureWarning('::ffff:127.0.0.1', 7080, false), null);
    assert.match(adminExposureWarning('0.0.0.0', 7080, false) ?? '', /without TLS/);
  });
});
