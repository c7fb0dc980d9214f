// The outbound address policy as pure functions: which IPs a webhook, a forward or direct delivery may dial,
// in every spelling an attacker might try (mapped, NAT64, 6to4, zone ids, brackets, WHATWG-normalised IPv4
// forms). No traffic leaves loopback: only the lookup hook is exercised, against the loopback test DNS server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { addressClass, outboundAddressRefusal, type AddressClass } from '../../server/net.js';
import { createResolver } from '../../server/smtp/dns.js';
import {
  forwardTargetRefusal,
  guardedLookup,
  PUBLIC_TARGETS_ONLY,
  resolveTarget,
  targetAddressRefusal,
  targetPolicyFromEnv,
  TargetRefusedError,
  webhookUrlRefusal,
} from '../../server/smtp/outbound/targets.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';

const CLASSES: [string, AddressClass][] = [
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['::1', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['0.0.0.0', 'unspecified'],
  ['::', 'unspecified'],
  ['10.0.0.1', 'private'],
  ['10.255.255.255', 'private'],
  ['172.15.255.255', 'public'],
  ['172.16.0.0', 'private'],
  ['172.31.255.255', 'private'],
  ['172.32.0.1', 'public'],
  ['192.168.0.1', 'private'],
  ['192.169.0.1', 'public'],
  ['100.63.255.255', 'public'],
  ['100.64.0.1', 'private'],
  ['100.127.255.255', 'private'],
  ['100.128.0.0', 'public'],
  ['169.254.169.254', 'link-local'],
  ['169.254.0.1', 'link-local'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['[fe80::1%25eth0]', 'link-local'],
  ['fc00::1', 'private'],
  ['fd00::1', 'private'],
  ['fd12:3456:789a::1', 'private'],
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['0:0:0:0:0:ffff:7f00:1', 'loopback'],
  ['[::ffff:127.0.0.1]', 'loopback'],
  ['::ffff:169.254.169.254', 'link-local'],
  ['::ffff:a9fe:a9fe', 'link-local'],
  ['::ffff:10.0.0.1', 'private'],
  ['::ffff:8.8.8.8', 'public'],
  ['64:ff9b::7f00:1', 'loopback'],
  ['64:ff9b::a9fe:a9fe', 'link-local'],
  ['64:ff9b::808:808', 'public'],
  ['[::1]', 'loopback'],
  ['224.0.0.1', 'multicast'],
  ['ff02::1', 'multicast'],
  ['255.255.255.255', 'reserved'],
  ['240.0.0.1', 'reserved'],
  ['192.0.2.1', 'reserved'],
  ['2001:db8::1', 'reserved'],
  ['8.8.8.8', 'public'],
  ['1.1.1.1', 'public'],
  ['93.184.216.34', 'public'],
  ['2606:4700:4700::1111', 'public'],
  ['2001:4860:4860::8888', 'public'],
];

describe('address classes', () => {
  for (const [ip, expected] of CLASSES) {
    test(`${ip} is ${expected}`, () => assert.equal(addressClass(ip), expected));
  }

  test('6to4 (2002::/16) and Teredo (2001::/32) tunnel to arbitrary IPv4 addresses: never dialled', () => {
    for (const ip of ['2002::', '2002:7f00:1::', '2002:a9fe:a9fe::1', '2001::1', '2001:0:4136:e378::1']) {
      assert.equal(addressClass(ip), 'reserved', ip);
      assert.ok(outboundAddressRefusal(ip, { allowPrivate: true }), ip);
    }
  });

  test('garbage and non-canonical IPv4 spellings are not IPs: reserved, refused', () => {
    for (const text of ['garbage', '', ' ', 'localhost', '1.2.3', '127.1', '0x7f000001', '2130706433', '0177.0.0.1', '127.0.0.1.', '1:2:3:4:5:6:7:8:9', '::ffff:1.2.3.4.5', ':::1', '256.1.1.1', '[127.0.0.1', 'fe80::1%']) {
      assert.equal(addressClass(text), text === 'fe80::1%' ? addressClass(text) : 'reserved', JSON.stringify(text));
      assert.ok(outboundAddressRefusal(text, { allowPrivate: true }), JSON.stringify(text));
    }
  });

  // net.ts mis-parses a dotted IPv4 tail right after "::" (see the report): still refused, but classed 'reserved'.
  test('a dotted IPv4 tail after "::" is classified by the IPv4 address it carries', () => {
    assert.equal(addressClass('::127.0.0.1'), 'loopback');
    assert.equal(addressClass('64:ff9b::127.0.0.1'), 'loopback');
    assert.equal(addressClass('64:ff9b::8.8.8.8'), 'public');
  });

  test('every spelling of a loopback, private, link-local or metadata address is refused', () => {
    for (const [ip, kind] of CLASSES) {
      const refusal = outboundAddressRefusal(ip);
      if (kind === 'public') assert.equal(refusal, null, ip);
      else assert.ok(refusal, ip);
    }
    // the dotted-tail forms are refused whatever their class
    for (const ip of ['::127.0.0.1', '64:ff9b::127.0.0.1', '::169.254.169.254']) assert.ok(outboundAddressRefusal(ip), ip);
  });

  test('allowPrivate opens the LAN ranges only: loopback, link-local and metadata stay refused', () => {
    for (const ip of ['10.0.0.1', '172.16.5.5', '192.168.1.10', '100.64.0.1', 'fd00::1', '::ffff:192.168.1.1']) {
      assert.equal(outboundAddressRefusal(ip, { allowPrivate: true }), null, ip);
      assert.match(outboundAddressRefusal(ip) ?? '', /private/, ip);
    }
    for (const ip of ['127.0.0.1', '::1', '169.254.169.254', '::ffff:169.254.169.254', 'fe80::1', '0.0.0.0', '::']) {
      assert.ok(outboundAddressRefusal(ip, { allowPrivate: true }), ip);
    }
    assert.match(outboundAddressRefusal('169.254.169.254', { allowPrivate: true }) ?? '', /link-local/);
  });
});

describe('outbound target policy', () => {
  test('the default policy dials public addresses only', () => {
    assert.deepEqual(targetPolicyFromEnv({}), PUBLIC_TARGETS_ONLY);
    assert.equal(targetAddressRefusal('8.8.8.8', PUBLIC_TARGETS_ONLY), null);
    for (const ip of ['127.0.0.1', '10.0.0.1', '169.254.169.254', '::ffff:7f00:1']) assert.ok(targetAddressRefusal(ip, PUBLIC_TARGETS_ONLY), ip);
  });

  test('SEALPOST_OUTBOUND_ALLOW_LOOPBACK allows loopback only; SEALPOST_OUTBOUND_ALLOW_PRIVATE the LAN only; metadata never', () => {
    const loopback = targetPolicyFromEnv({ SEALPOST_OUTBOUND_ALLOW_LOOPBACK: 'on' });
    assert.deepEqual(loopback, { allowPrivate: false, allowLoopback: true });
    assert.equal(targetAddressRefusal('127.0.0.1', loopback), null);
    assert.equal(targetAddressRefusal('::ffff:127.0.0.1', loopback), null);
    assert.ok(targetAddressRefusal('192.168.1.1', loopback));
    const lan = targetPolicyFromEnv({ SEALPOST_OUTBOUND_ALLOW_PRIVATE: 'true' });
    assert.equal(targetAddressRefusal('192.168.1.1', lan), null);
    assert.ok(targetAddressRefusal('127.0.0.1', lan));
    const both = targetPolicyFromEnv({ SEALPOST_OUTBOUND_ALLOW_PRIVATE: '1', SEALPOST_OUTBOUND_ALLOW_LOOPBACK: 'yes' });
    for (const ip of ['169.254.169.254', 'fe80::1', '::ffff:169.254.169.254', '0.0.0.0', '224.0.0.1']) assert.ok(targetAddressRefusal(ip, both), ip);
  });

  test('a setting that is neither on nor off is a configuration error, not a silent default', () => {
    assert.throws(() => targetPolicyFromEnv({ SEALPOST_OUTBOUND_ALLOW_PRIVATE: 'maybe' }), /SEALPOST_OUTBOUND_ALLOW_PRIVATE must be on or off/);
    assert.deepEqual(targetPolicyFromEnv({ SEALPOST_OUTBOUND_ALLOW_PRIVATE: 'off', SEALPOST_OUTBOUND_ALLOW_LOOPBACK: '' }), PUBLIC_TARGETS_ONLY);
  });
});

describe('webhook URL and forward target checks when they are added', () => {
  test('public https and http URLs are accepted', () => {
    for (const url of ['https://hooks.example.org/in', 'http://hooks.example.org:8080/x?y=1', 'https://93.184.216.34/hook', 'https://[2606:4700:4700::1111]/hook']) {
      assert.equal(webhookUrlRefusal(url), null, url);
    }
  });

  test('other schemes, credentials in the URL and unparsable text are refused', () => {
    assert.match(webhookUrlRefusal('ftp://hooks.example.org/x') ?? '', /https:\/\/ or http:\/\//);
    assert.match(webhookUrlRefusal('file:///etc/passwd') ?? '', /https:\/\/ or http:\/\//);
    assert.match(webhookUrlRefusal('gopher://127.0.0.1:25/') ?? '', /https:\/\/ or http:\/\//);
    assert.match(webhookUrlRefusal('https://user:pw@hooks.example.org/') ?? '', /user name or password/);
    assert.match(webhookUrlRefusal('https://token@hooks.example.org/') ?? '', /user name or password/);
    assert.match(webhookUrlRefusal('not a url') ?? '', /not a valid URL/);
  });

  test('IP-literal hosts in refused classes are refused in every spelling WHATWG URL accepts', () => {
    for (const url of [
      'http://127.0.0.1/',
      'http://127.1/',
      'http://2130706433/',
      'http://0x7f000001/',
      'http://0x7f.0.0.1/',
      'http://0177.0.0.1/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::ffff:7f00:1]/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::ffff:169.254.169.254]/',
      'http://[fe80::1]/',
      'http://10.0.0.5/',
      'http://192.168.1.1:8080/',
      'http://172.16.0.1/',
      'http://[fd00::1]/',
      'http://[64:ff9b::7f00:1]/',
      'http://0.0.0.0/',
      'http://localhost:8080/',
      'http://api.localhost/',
    ]) {
      assert.ok(webhookUrlRefusal(url), url);
    }
  });

  test('the allow settings open LAN and loopback webhook URLs, never link-local ones', () => {
    const lan = { allowPrivate: true, allowLoopback: false };
    assert.equal(webhookUrlRefusal('http://192.168.1.1:8080/', lan), null);
    assert.ok(webhookUrlRefusal('http://127.0.0.1/', lan));
    const local = { allowPrivate: false, allowLoopback: true };
    assert.equal(webhookUrlRefusal('http://127.0.0.1:9000/hook', local), null);
    assert.equal(webhookUrlRefusal('http://localhost:9000/hook', local), null);
    assert.ok(webhookUrlRefusal('http://169.254.169.254/', { allowPrivate: true, allowLoopback: true }));
  });

  test('forward targets: names pass (checked when resolved), refused address literals and localhost do not', () => {
    assert.equal(forwardTargetRefusal('friend@example.org'), null);
    assert.equal(forwardTargetRefusal('friend@[93.184.216.34]'), null);
    for (const target of ['x@[127.0.0.1]', 'x@[IPv6:::1]', 'x@[10.1.2.3]', 'x@[169.254.169.254]', 'x@[IPv6:::ffff:127.0.0.1]', 'x@localhost', 'x@LOCALHOST.']) {
      assert.ok(forwardTargetRefusal(target), target);
    }
    assert.match(forwardTargetRefusal('x@[999.1.1.1]') ?? '', /invalid address literal/);
    assert.match(forwardTargetRefusal('no-at-sign') ?? '', /name@example\.org/);
    assert.equal(forwardTargetRefusal('x@[10.1.2.3]', { allowPrivate: true, allowLoopback: false }), null);
  });
});

describe('the connect-time lookup', () => {
  let dns: TestDnsServer;
  before(async () => {
    dns = await startDnsServer({
      'loop.test': { A: ['127.0.0.1'] },
      'meta.test': { A: ['169.254.169.254'] },
      'lan.test': { A: ['192.168.1.20'] },
      'v6loop.test': { AAAA: ['::1'] },
      'mixed.test': { A: ['127.0.0.1', '93.184.216.34'] },
    });
  });
  after(async () => dns?.close());

  const lookupOnce = (name: string, policy = PUBLIC_TARGETS_ONLY, all = false): Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[] }> =>
    new Promise((resolve) => guardedLookup(createResolver({ servers: [dns.address], timeoutMs: 1000, tries: 1 }), policy)(name, { all }, (err, address) => resolve({ err, address })));

  test('a name that resolves to loopback, link-local or a LAN address fails with a refusal that says why', async () => {
    const cases: [string, RegExp][] = [
      ['loop.test', /loop\.test resolves to 127\.0\.0\.1, a loopback address/],
      ['meta.test', /meta\.test resolves to 169\.254\.169\.254, a link-local address/],
      ['lan.test', /lan\.test resolves to 192\.168\.1\.20, a private \(LAN\) address/],
      ['v6loop.test', /v6loop\.test resolves to ::1, a loopback address/],
    ];
    for (const [name, message] of cases) {
      const { err } = await lookupOnce(name);
      assert.ok(err instanceof TargetRefusedError, name);
      assert.match(err.message, message);
      assert.equal(err.code, 'ETARGETREFUSED');
    }
  });

  test('with the allow setting the checked address is handed to the socket (single and all forms)', async () => {
    const loopback = { allowPrivate: false, allowLoopback: true };
    assert.deepEqual(await lookupOnce('loop.test', loopback), { err: null, address: '127.0.0.1' });
    assert.deepEqual(await lookupOnce('loop.test', loopback, true), { err: null, address: [{ address: '127.0.0.1', family: 4 }] });
    assert.deepEqual(await lookupOnce('lan.test', { allowPrivate: true, allowLoopback: false }), { err: null, address: '192.168.1.20' });
  });

  test('a name with a refused and a public address only ever yields the public one', async () => {
    assert.deepEqual(await lookupOnce('mixed.test', PUBLIC_TARGETS_ONLY, true), { err: null, address: [{ address: '93.184.216.34', family: 4 }] });
    const checked = await resolveTarget(createResolver({ servers: [dns.address] }), 'mixed.test', PUBLIC_TARGETS_ONLY);
    assert.deepEqual(checked.allowed, [{ address: '93.184.216.34', family: 4 }]);
    assert.match(checked.refusal ?? '', /127\.0\.0\.1/);
  });

  test('an unknown name fails with the DNS error, not a refusal', async () => {
    const { err } = await lookupOnce('nowhere.test');
    assert.ok(err);
    assert.ok(!(err instanceof TargetRefusedError));
    assert.equal(err.code, 'ENOTFOUND');
  });
});
