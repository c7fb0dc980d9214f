// The mail host name policy as pure functions: what a name must look like before other mail servers can
// find us by it, and how the public IP behind a NAT is read.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostnamePolicy, parsePublicIps, publicIpsFrom } from '../../server/config/hostname.js';
import { reverseName, worstSeverity } from '../../server/ops/hostname-check.js';

const codeOf = (name: string): string => hostnamePolicy(name).findings[0]!.code;
const severityOf = (name: string): string => hostnamePolicy(name).findings[0]!.severity;

describe('mail host name policy', () => {
  it('accepts a fully qualified LDH name, case-folded, with or without the root dot (RFC 1035 §2.3.1)', () => {
    for (const name of ['mail.example.org', 'MAIL.Example.ORG', 'mail.example.org.', 'mx-1.a1.example.co.uk', ' mail.example.org ']) {
      const policy = hostnamePolicy(name);
      assert.equal(policy.fqdn, true, name);
      assert.equal(policy.ascii, name.trim().toLowerCase().replace(/\.$/, '').includes('mx-1') ? 'mx-1.a1.example.co.uk' : 'mail.example.org', name);
      assert.deepEqual(policy.findings.map((f) => f.severity), ['ok']);
    }
  });

  it('turns an internationalised name into its A-label form (RFC 5890 §2.3.2.1) and refuses a broken one', () => {
    const policy = hostnamePolicy('mail.bücher.de');
    assert.equal(policy.fqdn, true);
    assert.equal(policy.ascii, 'mail.xn--bcher-kva.de');
    assert.match(policy.findings[0]!.message, /in DNS: mail\.xn--bcher-kva\.de/);
    assert.equal(hostnamePolicy('xn--bcher-kva.de').ascii, 'xn--bcher-kva.de');
    assert.equal(codeOf('mail.xn--zz.de'), 'SYNTAX');
    // Hyphens in the 3rd and 4th place are reserved for A-labels (RFC 5891 §4.2.3.1).
    assert.equal(codeOf('ab--c.example.org'), 'SYNTAX');
  });

  it('refuses IP literals, v4 and v6, bracketed or with a zone (RFC 5321 §4.1.3 address literals are not names)', () => {
    for (const name of ['127.0.0.1', '203.0.113.7', '::1', '[2001:db8::1]', 'fe80::1%eth0']) {
      assert.equal(codeOf(name), 'IP_LITERAL', name);
      assert.equal(severityOf(name), 'error', name);
      assert.equal(hostnamePolicy(name).fqdn, false);
    }
    // Forms a URL parser would read as IPv4 (numeric last label) are not names either.
    for (const name of ['1.2.3', '0x7f.1', 'mail.example.123']) assert.equal(codeOf(name), 'SYNTAX', name);
  });

  it('warns about localhost and bare machine names: not fully qualified (RFC 5321 §2.3.5)', () => {
    for (const name of ['localhost', 'LOCALHOST.', 'vm', 'mail.localhost']) {
      const policy = hostnamePolicy(name);
      assert.equal(policy.fqdn, false, name);
      assert.equal(policy.findings[0]!.code, 'NOT_FQDN', name);
      assert.equal(policy.findings[0]!.severity, 'warn', name);
    }
    assert.match(hostnamePolicy('vm').findings[0]!.message, /vm\.example\.org/);
  });

  it('warns about names under special-use domains that are never on the internet (RFC 6761 §6, RFC 6762, RFC 8375)', () => {
    for (const name of ['mail.example.test', 'nas.local', 'host.home.arpa', 'mail.example', 'box.internal']) {
      assert.equal(codeOf(name), 'SPECIAL_NAME', name);
      assert.equal(hostnamePolicy(name).fqdn, false, name);
    }
  });

  it('refuses bad syntax: empty, double or leading dots, leading/trailing hyphens, underscores, spaces, encoded or URL characters', () => {
    const bad = ['', '   ', 'mail..example.org', '.example.org', 'mail.example.org..', '-mail.example.org', 'mail-.example.org', 'a_b.example.org', 'a b.org', 'user@example.org', 'ex%61mple.org', 'mail.example.org/x', 'mail.example.org:25', 'a\\b.org', 'mail.example.org?x', 'mail\u0000.example.org'];
    for (const name of bad) {
      assert.equal(severityOf(name), 'error', JSON.stringify(name));
      assert.equal(hostnamePolicy(name).fqdn, false, JSON.stringify(name));
    }
  });

  it('names the empty part of a name with two dots in a row', () => {
    assert.match(hostnamePolicy('mail..example.org').findings[0]!.message, /has an empty part \(two dots in a row, or a dot at the start\); remove the extra dot/);
  });

  it('enforces the length limits: 63 octets a label, 253 a name (RFC 1035 §2.3.4)', () => {
    assert.equal(hostnamePolicy(`${'a'.repeat(63)}.example.org`).fqdn, true);
    assert.equal(codeOf(`${'a'.repeat(64)}.example.org`), 'SYNTAX');
    const long = `${Array.from({ length: 40 }, () => 'abcdef').join('.')}.org`; // 283 characters
    assert.equal(codeOf(long), 'SYNTAX');
    const huge = `${'a.'.repeat(200_000)}org`;
    const policy = hostnamePolicy(huge);
    assert.equal(policy.findings[0]!.code, 'SYNTAX');
    assert.ok(policy.findings[0]!.message.length < 400, 'the sentence quotes a shortened name');
  });

  it('reads the public IP from SEALPOST_PUBLIC_IP over the saved setting, and refuses what is not an IP list', () => {
    assert.deepEqual(publicIpsFrom({}, {}), []);
    assert.deepEqual(publicIpsFrom({}, { publicIp: '203.0.113.7' }), ['203.0.113.7']);
    assert.deepEqual(publicIpsFrom({ SEALPOST_PUBLIC_IP: '198.51.100.1, 2001:DB8::7' }, { publicIp: '203.0.113.7' }), ['198.51.100.1', '2001:db8::7']);
    assert.throws(() => parsePublicIps('mail.example.org', 'SEALPOST_PUBLIC_IP'), /SEALPOST_PUBLIC_IP must list this machine's public IP addresses/);
    assert.throws(() => parsePublicIps('1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5', 'x'), /at most 4/);
    assert.throws(() => publicIpsFrom({}, { publicIp: 7 }), /saved setting publicIp/);
  });

  it('builds reverse-lookup names for IPv4 and IPv6 (RFC 1035 §3.5, RFC 3596 §2.5)', () => {
    assert.equal(reverseName('203.0.113.7'), '7.113.0.203.in-addr.arpa');
    assert.equal(reverseName('::ffff:203.0.113.7'), '7.113.0.203.in-addr.arpa');
    assert.equal(reverseName('2001:db8::567:89ab'), 'b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
  });

  it('ranks findings: the worst severity wins', () => {
    assert.equal(worstSeverity([]), 'ok');
    assert.equal(worstSeverity([{ code: 'a', severity: 'info', message: '' }, { code: 'b', severity: 'warn', message: '' }, { code: 'c', severity: 'ok', message: '' }]), 'warn');
  });
});
