// The host name check against a real DNS server on 127.0.0.1 (dns2): A/AAAA pointing here or elsewhere,
// MX of each domain, forward-confirmed reverse DNS. The addresses below are only ever looked up in the
// test zone; nothing is sent to them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { checkHostname, type HostnameReport } from '../../server/ops/hostname-check.js';
import { createResolver, type DnsResolver } from '../../server/smtp/dns.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';

const HOST = 'mail.sealpost-test.org';
const PUBLIC_IP = '5.45.1.10'; // this machine's address as the zone and the check see it
const OTHER_IP = '5.45.1.99';
const LAN_IP = '192.168.1.20';
const PTR_NAME = '10.1.45.5.in-addr.arpa';

let dns: TestDnsServer;
let resolver: DnsResolver;

const finding = (report: HostnameReport, code: string): { severity: string; message: string }[] => report.findings.filter((f) => f.code === code);

before(async () => {
  dns = await startDnsServer();
  resolver = createResolver({ servers: [dns.address], timeoutMs: 1500, tries: 1 });
});
after(async () => {
  await dns.close();
});

describe('host name check against DNS', () => {
  it('all good: A points here, MX points at the name, PTR is the name and resolves back (RFC 5321 §5.1, FCrDNS)', async () => {
    dns.set(HOST, { A: [PUBLIC_IP] });
    dns.set('sealpost-test.org', { MX: [{ exchange: HOST, priority: 10 }] });
    dns.set(PTR_NAME, { PTR: [HOST] });
    const report = await checkHostname({ hostname: HOST, domains: ['sealpost-test.org'], publicIps: [], machineAddresses: [PUBLIC_IP, LAN_IP] }, resolver);
    assert.equal(report.severity, 'ok', JSON.stringify(report.findings));
    assert.deepEqual(report.findings.map((f) => f.code), ['FQDN', 'ADDRESS', 'MX', 'PTR']);
    assert.ok(dns.queries.some((q) => q.name === PTR_NAME && q.type === 'PTR'), 'the PTR was asked of the test server');
  });

  it('A record pointing at another address is an error naming both addresses (RFC 5321 §5.1)', async () => {
    dns.set(HOST, { A: [OTHER_IP] });
    const report = await checkHostname({ hostname: HOST, domains: [], publicIps: [], machineAddresses: [PUBLIC_IP] }, resolver);
    const [address] = finding(report, 'ADDRESS');
    assert.equal(address?.severity, 'error');
    assert.match(address!.message, new RegExp(`points to ${OTHER_IP.replace(/\./g, '\\.')}, not to this machine \\(${PUBLIC_IP.replace(/\./g, '\\.')}\\)`));
    assert.equal(report.severity, 'error');
  });

  it('behind a NAT: a private interface address plus the configured public IP confirms the A record', async () => {
    dns.set(HOST, { A: [PUBLIC_IP] });
    const withoutSetting = await checkHostname({ hostname: HOST, domains: [], publicIps: [], machineAddresses: [LAN_IP] }, resolver);
    assert.equal(finding(withoutSetting, 'ADDRESS')[0]?.severity, 'warn');
    assert.match(finding(withoutSetting, 'ADDRESS')[0]!.message, /only has private addresses; if it is behind a NAT, set its public IP/);
    assert.equal(finding(withoutSetting, 'PTR')[0]?.severity, 'info');

    const withSetting = await checkHostname({ hostname: HOST, domains: [], publicIps: [PUBLIC_IP], machineAddresses: [LAN_IP] }, resolver);
    assert.equal(finding(withSetting, 'ADDRESS')[0]?.severity, 'ok');
  });

  it('a private address published in DNS is flagged: other servers cannot reach it', async () => {
    dns.set(HOST, { A: [LAN_IP] });
    const report = await checkHostname({ hostname: HOST, domains: [], publicIps: [], machineAddresses: [LAN_IP] }, resolver);
    assert.equal(finding(report, 'ADDRESS_PRIVATE')[0]?.severity, 'warn');
  });

  it('no A/AAAA record at all is an error saying which record to add', async () => {
    dns.remove(HOST);
    const report = await checkHostname({ hostname: HOST, domains: [], publicIps: [PUBLIC_IP], machineAddresses: [] }, resolver);
    const [address] = finding(report, 'ADDRESS');
    assert.equal(address?.severity, 'error');
    assert.match(address!.message, new RegExp(`add an A record for ${HOST.replace(/\./g, '\\.')} pointing to ${PUBLIC_IP.replace(/\./g, '\\.')}`));
  });

  it('MX of a domain pointing elsewhere, or missing, is an error per domain (RFC 5321 §5.1)', async () => {
    dns.set(HOST, { A: [PUBLIC_IP] });
    dns.set('wrong-mx.org', { MX: [{ exchange: 'mx.other-provider.net', priority: 10 }] });
    dns.set('no-mx.org', { A: [PUBLIC_IP] });
    dns.set('good-mx.org', { MX: [{ exchange: `${HOST}.`, priority: 5 }, { exchange: 'backup.example.net', priority: 20 }] });
    const report = await checkHostname({ hostname: HOST, domains: ['wrong-mx.org', 'no-mx.org', 'GOOD-MX.org'], publicIps: [PUBLIC_IP], machineAddresses: [] }, resolver);
    const mx = finding(report, 'MX');
    assert.equal(mx.length, 3);
    const about = (domain: string): { severity: string; message: string } => mx.find((f) => f.message.startsWith(domain)) ?? assert.fail(`no MX finding for ${domain}: ${JSON.stringify(mx)}`);
    assert.equal(about('good-mx.org').severity, 'ok');
    assert.equal(about('no-mx.org').severity, 'error');
    assert.match(about('no-mx.org').message, /has no MX record; add "no-mx\.org\. MX 10 mail\.sealpost-test\.org\."/);
    assert.equal(about("wrong-mx.org's").severity, 'error');
    assert.match(about("wrong-mx.org's").message, /points at mx\.other-provider\.net, not at mail\.sealpost-test\.org/);
  });

  it('caps the domains asked about per check and says how many were left out', async () => {
    const domains = Array.from({ length: 7 }, (_, i) => `d${i}.sealpost-test.org`);
    const before = dns.queries.length;
    const report = await checkHostname({ hostname: HOST, domains, publicIps: [PUBLIC_IP], machineAddresses: [], maxDomains: 3 }, resolver);
    assert.equal(dns.queries.slice(before).filter((q) => q.type === 'MX').length, 3);
    assert.match(finding(report, 'MX').at(-1)!.message, /^4 more domains were not checked/);
  });

  it('PTR missing is a warning asking the provider to set it (RFC 1912 §2.1)', async () => {
    dns.remove(PTR_NAME);
    const report = await checkHostname({ hostname: HOST, domains: [], publicIps: [PUBLIC_IP], machineAddresses: [] }, resolver);
    const [ptr] = finding(report, 'PTR');
    assert.equal(ptr?.severity, 'warn');
    assert.match(ptr!.message, /has no reverse DNS \(PTR\) record.*set it to mail\.sealpost-test\.org/);
  });

  it('PTR whose name does not resolve back to the IP is not forward-confirmed: a warning', async () => {
    dns.set(PTR_NAME, { PTR: ['static.isp-pool.net'] });
    dns.set('static.isp-pool.net', { A: [OTHER_IP] });
    const report = await checkHostname({ hostname: HOST, domains: [], publicIps: [PUBLIC_IP], machineAddresses: [] }, resolver);
    const [ptr] = finding(report, 'PTR');
    assert.equal(ptr?.severity, 'warn');
    assert.match(ptr!.message, /static\.isp-pool\.net does not resolve back to 5\.45\.1\.10/);
  });

  it('PTR forward-confirmed but naming another host is only worth knowing', async () => {
    dns.set('static.isp-pool.net', { A: [PUBLIC_IP] });
    const report = await checkHostname({ hostname: HOST, domains: [], publicIps: [PUBLIC_IP], machineAddresses: [] }, resolver);
    const [ptr] = finding(report, 'PTR');
    assert.equal(ptr?.severity, 'info');
    assert.match(ptr!.message, /reverse DNS is static\.isp-pool\.net \(forward-confirmed\); ideally .* mail\.sealpost-test\.org/);
  });

  it('a non-FQDN name asks DNS nothing and reports only the policy finding', async () => {
    const before = dns.queries.length;
    const report = await checkHostname({ hostname: 'vm', domains: ['sealpost-test.org'], publicIps: [], machineAddresses: [] }, resolver);
    assert.equal(dns.queries.length, before);
    assert.deepEqual(report.findings.map((f) => f.code), ['NOT_FQDN']);
    assert.equal(report.severity, 'warn');
  });

  it('a DNS server that does not answer becomes a finding, not a crash', async () => {
    const silent = await startDnsServer();
    const port = silent.port;
    await silent.close(); // nothing listens there now: every query times out or is refused
    const dead = createResolver({ servers: [`127.0.0.1:${port}`], timeoutMs: 300, tries: 1 });
    const report = await checkHostname({ hostname: HOST, domains: ['sealpost-test.org'], publicIps: [PUBLIC_IP], machineAddresses: [] }, dead);
    assert.equal(finding(report, 'ADDRESS')[0]?.severity, 'warn');
    assert.match(finding(report, 'ADDRESS')[0]!.message, /lookup of mail\.sealpost-test\.org failed/);
    assert.match(finding(report, 'MX')[0]!.message, /MX lookup of sealpost-test\.org failed/);
  });
});
