// ACME against a real CA (Debian's pebble, started here): a certificate for the mail host name and the
// mta-sts./autoconfig. names of a domain is issued over HTTP-01, renewed over TLS-ALPN-01, and each time
// IMAPS, SMTPS, POP3S, MX STARTTLS, the admin HTTPS and the HTTPS listener present the new serial to a TLS
// client (with SNI and without) without a restart.
// Then the CA goes away: a renewal fails, the error is recorded, and the server keeps serving.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { buildServices, closeContext, openContext } from '../../server/app.js';
import { createCertificatesService } from '../../server/certs/index.js';
import { runDoctor } from '../../server/cli/doctor.js';
import type { AppContext, Listener, Service } from '../../server/context.js';
import { silentLogger } from '../../server/log.js';
import { ADMIN_TEST_KDF } from '../helpers/admin-http.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';
import { freePorts, listenerPort, listenerPortsEnv } from '../helpers/ports.js';
import { findPlaintext } from '../helpers/privacy.js';

const HOST = 'mail.acme-pebble.test';
const DOMAIN = 'pebble-example.test';
const NAMES = [HOST, `mta-sts.${DOMAIN}`, `autoconfig.${DOMAIN}`];
const NO_DNS_DOMAIN = 'unpublished.test';

let dir: string;
let dns: TestDnsServer;
let pebble: Pebble;
let ctx: AppContext;
let started: Service[] = [];
const listeners: Listener[] = [];
let manager: ReturnType<typeof createCertificatesService>['manager'];
let env: NodeJS.ProcessEnv;

/** The serial of the certificate a listener presents to a client that names HOST (SNI, as mail clients do) or sends no SNI (servername ''). */
function presentedSerial(port: number, servername = HOST): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const serial = socket.getPeerX509Certificate()?.serialNumber ?? '';
      socket.destroy();
      resolve(serial);
    });
    socket.once('error', reject);
  });
}

/** The serial an SMTP server presents after STARTTLS (RFC 3207) to a client that sends no SNI, as many MTAs do. */
function starttlsSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const plain = net.connect(port, '127.0.0.1');
    let seen = '';
    let step = 0;
    plain.on('error', reject);
    plain.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (step === 0 && /^220 /m.test(seen)) {
        step = 1;
        seen = '';
        plain.write('EHLO client.test\r\n');
      } else if (step === 1 && /^250 /m.test(seen)) {
        step = 2;
        seen = '';
        plain.write('STARTTLS\r\n');
      } else if (step === 2 && /^220 /m.test(seen)) {
        step = 3;
        plain.removeAllListeners('data');
        const secure = tls.connect({ socket: plain, rejectUnauthorized: false }, () => {
          const serial = secure.getPeerX509Certificate()?.serialNumber ?? '';
          secure.destroy();
          resolve(serial);
        });
        secure.once('error', reject);
      }
    });
  });
}

/** What each TLS listener presents, with SNI and without (implicit TLS), and after STARTTLS on the MX. */
async function servedSerials(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of ['imaps', 'submissions', 'pop3s', 'admin', 'https'] as const) {
    out[name] = await presentedSerial(listenerPort({ listeners }, name));
    out[`${name} without SNI`] = await presentedSerial(listenerPort({ listeners }, name), '');
  }
  out['smtp STARTTLS without SNI'] = await starttlsSerial(listenerPort({ listeners }, 'smtp'));
  return out;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-acme-'));
  dns = await startDnsServer();
  for (const name of NAMES) dns.set(name, { A: ['127.0.0.1'] });
  const ports = await freePorts(7);
  const [imaps, submissions, admin, httpPort, httpsPort, pop3s, smtp] = ports as [number, number, number, number, number, number, number];
  pebble = await startPebble({ dir, dnsAddress: dns.address, httpPort, tlsPort: httpsPort });
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SEALPOST_DATA: path.join(dir, 'data'),
    SEALPOST_KEYCHAIN: 'off',
    SEALPOST_APP_KEY: crypto.randomBytes(32).toString('hex'),
    SEALPOST_HOSTNAME: HOST,
    SEALPOST_LOG_LEVEL: 'silent',
    SEALPOST_ADMIN_TLS: 'on',
    ...listenerPortsEnv(['imaps', 'submissions', 'admin', 'http', 'https', 'pop3s', 'smtp'], [imaps, submissions, admin, httpPort, httpsPort, pop3s, smtp]),
    SEALPOST_ACME: 'on',
    SEALPOST_ACME_DIRECTORY: pebble.directoryUrl,
    SEALPOST_ACME_CA_FILE: pebble.caFile,
    SEALPOST_ACME_EMAIL: 'hostmaster@pebble-example.test',
    SEALPOST_ACME_CHALLENGES: 'http-01',
    SEALPOST_ACME_POLL_MS: '200',
  };
  ctx = await openContext({ env }, { logger: silentLogger(), kdf: ADMIN_TEST_KDF });
  ctx.directory.addDomain(DOMAIN);
  ctx.directory.addDomain(NO_DNS_DOMAIN); // its mta-sts./autoconfig. names are not in DNS: left off the certificate
  const services = await buildServices(ctx);
  for (const service of services) {
    started.push(service);
    listeners.push(...(await service.start()));
  }
  const certs = services.find((s) => s.name === 'certificates') as ReturnType<typeof createCertificatesService>;
  manager = certs.manager;
});

after(async () => {
  for (const service of started.reverse()) await service.stop().catch(() => undefined);
  started = [];
  if (ctx) await closeContext(ctx);
  await pebble?.stop();
  await dns?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}; status ${JSON.stringify(manager.status())}; pebble: ${pebble.output().slice(-2000)}`);
}

describe('ACME certificates from a real CA (pebble)', { timeout: 180_000 }, () => {
  let firstSerial = '';

  it('issues a certificate over HTTP-01 (RFC 8555 §8.3) at start; IMAPS, SMTPS, admin HTTPS and HTTPS present it', async () => {
    await waitFor(() => manager.status()?.lastRenewal != null || (manager.status()?.failures ?? 0) > 0, 'the first issuance');
    const status = manager.status();
    assert.equal(status?.lastError, null, `issued without error (pebble: ${pebble.output().slice(-1500)})`);
    assert.equal(status?.lastChallenge, 'http-01');
    assert.equal(ctx.tls.source, 'acme');
    const info = ctx.tls.info();
    assert.match(info.issuer, /Pebble/);
    assert.deepEqual([...info.names].sort(), [...NAMES].sort());
    assert.deepEqual(status?.skipped.map((s) => s.name).sort(), [`autoconfig.${NO_DNS_DOMAIN}`, `mta-sts.${NO_DNS_DOMAIN}`], 'names the CA could not validate are left off, not fatal');
    firstSerial = info.serial;
    const served = await servedSerials();
    for (const [listener, serial] of Object.entries(served)) assert.equal(serial, firstSerial, `${listener} presents the issued certificate`);
    const doctor = await runDoctor({}, env);
    const line = (check: string): string => doctor.filter((c) => c.check === check).map((c) => `${c.status} ${c.message}`).join(' | ');
    assert.match(line('certificate'), /^ok acme certificate from .*Pebble.* for mail\.acme-pebble\.test, mta-sts\.pebble-example\.test, autoconfig\.pebble-example\.test, expires /);
    assert.match(line('acme'), /^ok https:\/\/127\.0\.0\.1:\d+\/dir: last renewal \d{4}-/);
    assert.match(line('acme'), /warn mta-sts\.unpublished\.test is not on the certificate: the CA could not validate it/);
  });

  it('renews over TLS-ALPN-01 (RFC 8737 §3) and every listener presents the new serial without a restart', async () => {
    assert.ok(firstSerial, 'a first certificate was issued');
    const outcome = await manager.renew({ force: true, challenges: ['tls-alpn-01'] });
    assert.equal(outcome, 'issued', JSON.stringify(manager.status()));
    assert.equal(manager.status()?.lastChallenge, 'tls-alpn-01');
    const renewed = ctx.tls.info().serial;
    assert.notEqual(renewed, firstSerial);
    const served = await servedSerials();
    for (const [listener, serial] of Object.entries(served)) assert.equal(serial, renewed, `${listener} presents the renewed certificate`);
  });

  it('retries names left off at the next check: no new certificate while they still fail, all names once their DNS points here', async () => {
    const before = ctx.tls.info().serial;
    assert.equal(await manager.renew(), 'current', JSON.stringify(manager.status()));
    assert.equal(ctx.tls.info().serial, before, 'no duplicate certificate while the names still fail');
    assert.equal(manager.status()?.skipped.length, 2);
    for (const name of [`mta-sts.${NO_DNS_DOMAIN}`, `autoconfig.${NO_DNS_DOMAIN}`]) dns.set(name, { A: ['127.0.0.1'] });
    assert.equal(await manager.renew(), 'issued', JSON.stringify(manager.status()));
    assert.deepEqual([...ctx.tls.info().names].sort(), [...NAMES, `mta-sts.${NO_DNS_DOMAIN}`, `autoconfig.${NO_DNS_DOMAIN}`].sort());
    assert.deepEqual(manager.status()?.skipped, []);
    assert.equal(await presentedSerial(listenerPort({ listeners }, 'imaps')), ctx.tls.info().serial);
  });

  it('keeps the account key sealed and every key file 0600 in tls/acme/', () => {
    const acmeDir = path.join(ctx.paths.tlsDir, 'acme');
    for (const file of ['key.pem', 'cert.pem', 'account-key.sealed']) {
      assert.equal(fs.statSync(path.join(acmeDir, file)).mode & 0o777, 0o600, `${file} is 0600`);
    }
    assert.equal(fs.statSync(acmeDir).mode & 0o077, 0, 'tls/acme/ is owner-only');
    const sealed = fs.readFileSync(path.join(acmeDir, 'account-key.sealed'));
    assert.equal(sealed.includes('PRIVATE KEY'), false, 'the account key is not stored in clear');
    assert.deepEqual(findPlaintext(ctx.paths.root, ['hostmaster@pebble-example.test']), [], 'the ACME contact address is nowhere in clear');
  });

  it('records the error when the CA is down, retries later and keeps serving the last certificate', async () => {
    const serial = ctx.tls.info().serial;
    await pebble.stop();
    const outcome = await manager.renew({ force: true });
    assert.equal(outcome, 'failed');
    const status = manager.status();
    assert.match(status?.lastError ?? '', /cannot be reached/);
    assert.equal(status?.failures, 1);
    assert.ok(Date.parse(status?.nextAttempt ?? '') > Date.now(), 'a retry is scheduled');
    assert.notEqual(status?.lastRenewal, null, 'the last renewal is still shown');
    assert.equal(await presentedSerial(listenerPort({ listeners }, 'imaps')), serial);
    const doctor = await runDoctor({}, env);
    const acmeLine = doctor.find((c) => c.check === 'acme');
    assert.equal(acmeLine?.status, 'warn');
    assert.match(acmeLine?.message ?? '', /last error: The ACME directory .* cannot be reached \(ECONNREFUSED\)/);
  });
});
