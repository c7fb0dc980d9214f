// The pure rules of ACME certificates (server/config/acme.ts): when ACME is on by default, which names a
// certificate covers, when it is renewed, how retries back off; and the MTA-STS policy text and its id.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acmeSettings, certificateNames, isFqdn, LETS_ENCRYPT_DIRECTORY, renewalDue, retryDelayMs } from '../../server/config/acme.js';
import { mtaStsPolicy, mtaStsSettings, mtaStsTxt, tlsRptTxt } from '../../server/config/mta-sts-policy.js';
import { hostOfRequest, mtaStsDomainOf } from '../../server/certs/web.js';
import { readAcmeStatus } from '../../server/config/acme.js';
import { certificateStatus } from '../../server/config/certificate-status.js';
import { createSelfSigned } from '../../server/config/tls.js';

const DAY = 86_400_000;

describe('ACME settings', () => {
  it('is off by default on a loopback-only install (self-signed stays), on when listening beyond loopback under a real name', () => {
    assert.equal(acmeSettings({}, { host: '127.0.0.1', hostname: 'mail.example.org' }).enabled, false);
    assert.equal(acmeSettings({}, { host: '0.0.0.0', hostname: 'vm' }).enabled, false);
    assert.equal(acmeSettings({}, { host: '0.0.0.0', hostname: 'localhost' }).enabled, false);
    const on = acmeSettings({}, { host: '0.0.0.0', hostname: 'mail.example.org' });
    assert.deepEqual([on.enabled, on.directoryUrl, on.challenges], [true, LETS_ENCRYPT_DIRECTORY, ['http-01', 'tls-alpn-01']]);
    assert.equal(acmeSettings({ SEALPOST_ACME: 'on' }, { host: '127.0.0.1', hostname: 'mail.example.org' }).enabled, true);
    assert.equal(acmeSettings({ SEALPOST_ACME: 'off' }, { host: '0.0.0.0', hostname: 'mail.example.org' }).enabled, false);
    const own = acmeSettings({ SEALPOST_ACME: 'on' }, { host: '0.0.0.0', hostname: 'mail.example.org', tls: { certPath: '/etc/ssl/mail.pem' } });
    assert.deepEqual([own.enabled, own.reason], [false, 'off: your own certificate (SEALPOST_TLS_CERT) is in use']);
  });

  it('refuses malformed values with one sentence naming the variable', () => {
    const config = { host: '0.0.0.0', hostname: 'mail.example.org' };
    assert.throws(() => acmeSettings({ SEALPOST_ACME: 'maybe' }, config), /SEALPOST_ACME must be on or off/);
    assert.throws(() => acmeSettings({ SEALPOST_ACME_DIRECTORY: 'http://ca.example/dir' }, config), /SEALPOST_ACME_DIRECTORY must be an https:\/\/ URL/);
    assert.throws(() => acmeSettings({ SEALPOST_ACME_EMAIL: 'not an address' }, config), /SEALPOST_ACME_EMAIL/);
    assert.throws(() => acmeSettings({ SEALPOST_ACME_CHALLENGES: 'dns-01' }, config), /SEALPOST_ACME_CHALLENGES/);
    assert.throws(() => acmeSettings({ SEALPOST_ACME_CHECK_HOURS: '0' }, config), /SEALPOST_ACME_CHECK_HOURS/);
  });

  it('covers the host name and mta-sts./autoconfig. of each domain, lower-cased, without duplicates or non-FQDNs', () => {
    assert.deepEqual(certificateNames('Mail.Example.org.', ['b.example', 'A.example']), ['mail.example.org', 'mta-sts.a.example', 'autoconfig.a.example', 'mta-sts.b.example', 'autoconfig.b.example']);
    assert.deepEqual(certificateNames('vm', ['a.example']), ['mta-sts.a.example', 'autoconfig.a.example']);
    for (const bad of ['vm', 'localhost', '127.0.0.1', 'a..b', '-a.example', 'a.123']) assert.equal(isFqdn(bad), false, bad);
  });

  it('renews when less than 30 days or a third of the lifetime remain, whichever is sooner', () => {
    const from = new Date('2026-01-01T00:00:00Z');
    const ninety = new Date(from.getTime() + 90 * DAY);
    assert.equal(renewalDue(from, ninety, new Date(from.getTime() + 59 * DAY)), false);
    assert.equal(renewalDue(from, ninety, new Date(from.getTime() + 61 * DAY)), true);
    const six = new Date(from.getTime() + 6 * DAY);
    assert.equal(renewalDue(from, six, new Date(from.getTime() + 3 * DAY)), false);
    assert.equal(renewalDue(from, six, new Date(from.getTime() + 4.5 * DAY)), true);
  });

  it('backs off by doubling, capped', () => {
    assert.deepEqual([1, 2, 3, 10, 100].map((n) => retryDelayMs(n, 300_000, 86_400_000)), [300_000, 600_000, 1_200_000, 86_400_000, 86_400_000]);
  });
});

describe('our MTA-STS policy (RFC 8461 §3.2) and TLS-RPT record (RFC 8460 §3)', () => {
  it('makes one policy text whose id changes with the text', () => {
    const testing = mtaStsPolicy('mail.example.org', mtaStsSettings({}));
    assert.equal(testing.text, 'version: STSv1\r\nmode: testing\r\nmx: mail.example.org\r\nmax_age: 604800\r\n');
    const enforce = mtaStsPolicy('mail.example.org', mtaStsSettings({ SEALPOST_MTA_STS_MODE: 'enforce' }));
    assert.notEqual(enforce.id, testing.id);
    assert.match(mtaStsTxt(enforce), /^v=STSv1; id=[A-Za-z0-9]{1,32}$/);
    assert.equal(tlsRptTxt('aggregate-reports@example.org'), 'v=TLSRPTv1; rua=mailto:aggregate-reports@example.org');
    assert.throws(() => mtaStsSettings({ SEALPOST_MTA_STS_MODE: 'strict' }), /SEALPOST_MTA_STS_MODE/);
    assert.throws(() => mtaStsSettings({ SEALPOST_MTA_STS_MAX_AGE: '99999999999' }), /SEALPOST_MTA_STS_MAX_AGE/);
  });

  it('reads Host headers strictly and maps only mta-sts.<our domain>', () => {
    assert.equal(hostOfRequest('MTA-STS.Example.org.:443'), 'mta-sts.example.org');
    for (const bad of [undefined, '', 'a b', 'x'.repeat(400), 'host:99999999', '[::1]', 'a/b']) assert.equal(hostOfRequest(bad), null, String(bad));
    const ours = (d: string): boolean => d === 'example.org';
    assert.equal(mtaStsDomainOf('mta-sts.example.org', ours), 'example.org');
    assert.equal(mtaStsDomainOf('mta-sts.other.org', ours), null);
    assert.equal(mtaStsDomainOf('example.org', ours), null);
  });
});

describe('certificate status (card, API, doctor)', () => {
  const config = { host: '0.0.0.0', hostname: 'mail.example.org', ports: { http: 80, https: 443 } };
  const pem = createSelfSigned('mail.example.org').cert;

  it('shows the certificate in use and says what to fix: a failed request, names left off, no challenge port', () => {
    const saved = { directoryUrl: 'https://ca.example/dir', lastRenewal: null, lastAttempt: '2026-12-01T00:00:00.000Z', lastError: 'The ACME directory https://ca.example/dir cannot be reached (ECONNREFUSED).', failures: 2, nextAttempt: '2026-12-01T00:20:00.000Z', lastChallenge: null, skipped: [{ name: 'autoconfig.example.org', reason: 'http-01 for autoconfig.example.org failed: NXDOMAIN' }] };
    const view = certificateStatus({ env: {}, config, source: 'self-signed', certPem: pem, savedStatus: saved });
    assert.equal(view.acme.enabled, true);
    assert.deepEqual(view.certificate?.names, ['mail.example.org', 'localhost', '127.0.0.1', '0:0:0:0:0:0:0:1']);
    assert.ok((view.daysLeft ?? 0) > 1000);
    assert.equal(view.warnings.length, 3, view.warnings.join('\n'));
    assert.match(view.warnings[0]!, /The last certificate request failed \(The ACME directory .* cannot be reached/);
    assert.match(view.warnings[1]!, /^autoconfig\.example\.org is not on the certificate/);
    assert.match(view.warnings[2]!, /still shown the self-signed certificate/);
    const noPorts = certificateStatus({ env: {}, config: { ...config, ports: { http: 0, https: 0 } }, source: 'acme', certPem: pem, savedStatus: undefined });
    assert.deepEqual(noPorts.warnings, ['ACME is on but neither SEALPOST_HTTP_PORT (80) nor SEALPOST_HTTPS_PORT (443) is open, so the CA cannot check the names.']);
    const off = certificateStatus({ env: {}, config: { ...config, host: '127.0.0.1' }, source: 'self-signed', certPem: pem, savedStatus: undefined });
    assert.deepEqual([off.acme.enabled, off.warnings], [false, []]);
    assert.match(off.acme.reason, /^off: the server listens on loopback only/);
  });

  it('reads a saved status defensively (malformed fields become empty)', () => {
    assert.equal(readAcmeStatus('nonsense'), null);
    const status = readAcmeStatus({ failures: 'x', lastChallenge: 'dns-01', skipped: [{ name: 1 }, { name: 'a.example', reason: 'r' }] });
    assert.deepEqual([status?.failures, status?.lastChallenge, status?.skipped], [0, null, [{ name: 'a.example', reason: 'r' }]]);
  });
});
