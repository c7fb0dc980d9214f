// TLS material: a self-signed certificate on first run, reused after; the user's own pair reloaded on change.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createSelfSigned, TlsMaterial } from '../../server/config/tls.js';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('TLS material', () => {
  it('creates a self-signed certificate for the host name, localhost and 127.0.0.1, with a 0600 key, and reuses it', async () => {
    const tlsDir = path.join(dir, 'tls');
    const first = await TlsMaterial.open({ tlsDir, hostname: 'mail.example.test' });
    const cert = new crypto.X509Certificate(first.certificatePem());
    assert.ok(cert.checkHost('mail.example.test'));
    assert.ok(cert.checkHost('localhost'));
    assert.ok(cert.checkIP('127.0.0.1'));
    assert.equal(fs.statSync(path.join(tlsDir, 'key.pem')).mode & 0o777, 0o600);
    assert.equal(first.tlsOptions().minVersion, 'TLSv1.2');
    const again = await TlsMaterial.open({ tlsDir, hostname: 'mail.example.test' });
    assert.equal(again.fingerprint256(), first.fingerprint256());
    const renamed = await TlsMaterial.open({ tlsDir, hostname: 'other.example.test' });
    assert.notEqual(renamed.fingerprint256(), first.fingerprint256(), 'a new host name gets a new certificate');
  });

  it('a TLS client sees the certificate, and TLS 1.1 is refused', async () => {
    const material = await TlsMaterial.open({ tlsDir: path.join(dir, 'tls2'), hostname: 'localhost' });
    const server = tls.createServer(material.tlsOptions(), (socket) => socket.end('hello\r\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, ca: material.certificatePem(), servername: 'localhost' }, () => undefined);
        socket.once('data', (data) => resolve(data.toString()));
        socket.once('error', reject);
      });
      assert.equal(line, 'hello\r\n');
      await assert.rejects(
        new Promise((resolve, reject) => {
          const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }, () => resolve(undefined));
          socket.once('error', reject);
        }),
      );
    } finally {
      server.close();
    }
  });

  it('the shared options offer TLS 1.2 only with ECDHE + AEAD suites, in the server\'s order, on the listener and the SNI context alike', async () => {
    const material = await TlsMaterial.open({ tlsDir: path.join(dir, 'tls3'), hostname: 'localhost' });
    const options = material.tlsOptions();
    assert.equal(options.honorCipherOrder, true);
    assert.ok(options.ciphers.split(':').every((suite) => suite.startsWith('TLS_') || /^ECDHE-(RSA|ECDSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/.test(suite)), options.ciphers);
    const server = tls.createServer(options, (socket) => socket.end('hello\r\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const handshake = (clientOptions: tls.ConnectionOptions): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion: 'TLSv1.2', ...clientOptions }, () => {
          resolve(socket.getCipher().name);
          socket.destroy();
        });
        socket.once('error', reject);
      });
    try {
      for (const servername of [undefined, 'localhost']) {
        const sni = servername ? { servername } : {};
        assert.equal(await handshake({ ...sni, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }), 'ECDHE-RSA-AES128-GCM-SHA256');
        await assert.rejects(handshake({ ...sni, ciphers: 'AES128-SHA' }), 'static RSA with CBC is refused');
        await assert.rejects(handshake({ ...sni, ciphers: 'ECDHE-RSA-AES128-SHA' }), 'CBC is refused even with ECDHE');
        await assert.rejects(handshake({ ...sni, ciphers: 'AES128-GCM-SHA256' }), 'AEAD without forward secrecy is refused');
      }
    } finally {
      server.close();
    }
  });

  it("reloads the user's own certificate when its files change, without a restart", async () => {
    const certPath = path.join(dir, 'own-cert.pem');
    const keyPath = path.join(dir, 'own-key.pem');
    const one = createSelfSigned('one.example.test');
    fs.writeFileSync(certPath, one.cert);
    fs.writeFileSync(keyPath, one.key, { mode: 0o600 });
    const material = await TlsMaterial.open({ tlsDir: path.join(dir, 'unused'), hostname: 'ignored', certPath, keyPath, watchIntervalMs: 50 });
    try {
      assert.equal(material.source, 'user');
      assert.ok(new crypto.X509Certificate(material.certificatePem()).checkHost('one.example.test'));
      const reloaded = new Promise<void>((resolve) => material.onReload(resolve));
      const two = createSelfSigned('two.example.test');
      fs.writeFileSync(keyPath, two.key);
      fs.writeFileSync(certPath, two.cert);
      // The watcher does not keep the process alive (a server's sockets do); hold it open while waiting.
      const keepAlive = setInterval(() => undefined, 1000);
      await reloaded.finally(() => clearInterval(keepAlive));
      assert.ok(new crypto.X509Certificate(material.certificatePem()).checkHost('two.example.test'));
      // A mismatched pair is refused and the working one kept.
      fs.writeFileSync(certPath, one.cert);
      assert.equal(material.reload(), false);
      assert.ok(new crypto.X509Certificate(material.certificatePem()).checkHost('two.example.test'));
    } finally {
      material.close();
    }
  });
});
