// The MX's DNS cache (withDnsCache) in front of the real resolver and a real loopback DNS server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createResolver, dnsCacheFromEnv, DnsConfigError, withDnsCache, type DnsResolver } from '../../server/smtp/dns.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { freePorts } from '../helpers/ports.js';

/** The real resolver, counting the lookups that reach it. */
function counted(inner: DnsResolver): { resolver: DnsResolver; calls: () => number } {
  let calls = 0;
  const count = <T>(p: () => Promise<T>): Promise<T> => {
    calls++;
    return p();
  };
  return {
    calls: () => calls,
    resolver: {
      servers: inner.servers,
      resolveMx: (n) => count(() => inner.resolveMx(n)),
      resolveTxt: (n) => count(() => inner.resolveTxt(n)),
      resolve4: (n) => count(() => inner.resolve4(n)),
      resolve6: (n) => count(() => inner.resolve6(n)),
      mailauth: (n, t) => count(() => inner.mailauth(n, t)),
    },
  };
}

test('answers and NXDOMAIN are reused until they expire; concurrent asks share one query; answers are copies', async () => {
  const MX = [{ exchange: 'b.mx.example', priority: 20 }, { exchange: 'a.mx.example', priority: 10 }];
  const dns = await startDnsServer({ 'sender.example': { TXT: ['v=spf1 -all'], MX } });
  try {
    const cache = withDnsCache(createResolver({ servers: [dns.address] }), { ttlMs: 400, negativeTtlMs: 400 });
    const asked = (name: string): number => dns.queries.filter((q) => q.name === name).length;

    const [a, b] = await Promise.all([cache.mailauth('sender.example', 'TXT'), cache.resolveTxt('SENDER.example.')]);
    assert.deepEqual(a, [['v=spf1 -all']]);
    assert.deepEqual(b, a);
    assert.equal(asked('sender.example'), 1, 'one query for two concurrent asks (same name, any case)');

    dns.set('sender.example', { TXT: ['v=spf1 ip4:192.0.2.1 -all'], MX });
    assert.deepEqual(await cache.resolveTxt('sender.example'), [['v=spf1 -all']], 'cached within the TTL');

    const mx = await cache.resolveMx('sender.example');
    mx.sort((x, y) => x.priority - y.priority).pop();
    assert.equal((await cache.resolveMx('sender.example')).length, 2, "a caller's edits do not reach the next caller");

    await assert.rejects(cache.mailauth('nowhere.example', 'TXT'), { code: 'ENOTFOUND' });
    await assert.rejects(cache.mailauth('nowhere.example', 'TXT'), { code: 'ENOTFOUND' });
    assert.equal(asked('nowhere.example'), 1, 'NXDOMAIN is cached too');

    await sleep(450);
    assert.deepEqual(await cache.resolveTxt('sender.example'), [['v=spf1 ip4:192.0.2.1 -all']], 'fresh after the TTL');
    dns.set('nowhere.example', { TXT: ['now here'] });
    assert.deepEqual(await cache.mailauth('nowhere.example', 'TXT'), [['now here']]);
  } finally {
    await dns.close();
  }
});

test('temporary failures are never cached; 0 seconds turns the cache off', async () => {
  const [deadPort] = await freePorts(1);
  const dead = counted(createResolver({ servers: [`127.0.0.1:${deadPort}`], timeoutMs: 100, tries: 1 }));
  const cache = withDnsCache(dead.resolver);
  await assert.rejects(cache.resolveTxt('sender.example'));
  await assert.rejects(cache.resolveTxt('sender.example'));
  assert.equal(dead.calls(), 2, 'asked again after a timeout');

  assert.deepEqual(dnsCacheFromEnv({}), {});
  assert.deepEqual(dnsCacheFromEnv({ SEALPOST_DNS_CACHE_SECONDS: '0' }), { ttlMs: 0, negativeTtlMs: 0 });
  assert.throws(() => dnsCacheFromEnv({ SEALPOST_DNS_CACHE_SECONDS: 'soon' }), DnsConfigError);
  const plain = counted(createResolver({ servers: [`127.0.0.1:${deadPort}`] }));
  assert.equal(withDnsCache(plain.resolver, dnsCacheFromEnv({ SEALPOST_DNS_CACHE_SECONDS: '0' })), plain.resolver);
});
