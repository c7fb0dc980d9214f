// Configuration: defaults < saved settings < SEALPOST_* environment < flags, with one-sentence errors.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULT_PORTS, dataLayout, defaultDataDir, ensureDataDir, loadConfig, resolveDataDir } from '../../server/config/index.js';

describe('configuration precedence', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = loadConfig({ env: {}, flags: {}, settings: {} });
    assert.deepEqual(config.ports, { smtp: 2525, submission: 1587, submissions: 1465, imap: 1143, imaps: 1993, pop3: 1110, pop3s: 1995, managesieve: 4190, admin: 7080, http: 0, https: 0 });
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.logLevel, 'info');
    assert.ok(config.hostname.length > 0);
    assert.deepEqual(config.tls, { certPath: null, keyPath: null });
  });

  it('a saved setting beats the default, the environment beats the setting, a flag beats the environment', () => {
    const settings = { imapPort: 2143, pop3Port: 2110, smtpPort: 3525, hostname: 'saved.example.test' };
    const env = { SEALPOST_IMAP_PORT: '3143', SEALPOST_POP3_PORT: '3110' };
    const flags = { imapPort: '4143' };
    const config = loadConfig({ env, flags, settings });
    assert.equal(config.ports.imap, 4143, 'flag wins');
    assert.equal(config.ports.pop3, 3110, 'env beats saved setting');
    assert.equal(config.ports.smtp, 3525, 'saved setting beats default');
    assert.equal(config.ports.admin, DEFAULT_PORTS.admin, 'default');
    assert.equal(config.hostname, 'saved.example.test');
    assert.equal(loadConfig({ env: { SEALPOST_HOSTNAME: 'env.example.test' }, settings }).hostname, 'env.example.test');
  });

  it('port 0 disables a listener, and 0 may repeat', () => {
    const config = loadConfig({ env: { SEALPOST_ADMIN_PORT: '0', SEALPOST_POP3_PORT: '0' } });
    assert.equal(config.ports.admin, 0);
    assert.equal(config.ports.pop3, 0);
  });

  it('refuses a bad port with one sentence naming where it came from', () => {
    assert.throws(() => loadConfig({ env: { SEALPOST_IMAP_PORT: 'abc' } }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, 'SEALPOST_IMAP_PORT must be a port number from 0 to 65535 (0 disables the listener), not "abc".');
      return true;
    });
    assert.throws(() => loadConfig({ flags: { smtpPort: '70000' } }), /^ConfigError: --smtp-port must be a port number/);
    assert.throws(() => loadConfig({ settings: { pop3sPort: -1 } }), /saved setting pop3sPort must be a port number/);
    assert.throws(() => loadConfig({ env: { SEALPOST_IMAP_PORT: '1.5' } }), /SEALPOST_IMAP_PORT/);
  });

  it('refuses two listeners on the same port', () => {
    assert.throws(() => loadConfig({ env: { SEALPOST_IMAP_PORT: '2525' } }), /The smtp and imap listeners are both set to port 2525/);
  });

  it('refuses a bad log level and a certificate without its key', () => {
    assert.throws(() => loadConfig({ env: { SEALPOST_LOG_LEVEL: 'loud' } }), /SEALPOST_LOG_LEVEL must be one of fatal, error/);
    assert.equal(loadConfig({ env: { SEALPOST_LOG_LEVEL: 'DEBUG' } }).logLevel, 'debug');
    assert.throws(() => loadConfig({ env: { SEALPOST_TLS_CERT: '/tmp/cert.pem' } }), /must be given together/);
  });

  it('finds the data dir: --data, then SEALPOST_DATA, then the OS user-data dir', () => {
    assert.equal(resolveDataDir({ SEALPOST_DATA: '/srv/mail' }, { data: '/tmp/x' }), '/tmp/x');
    assert.equal(resolveDataDir({ SEALPOST_DATA: '/srv/mail' }, {}), '/srv/mail');
    assert.equal(defaultDataDir({ XDG_DATA_HOME: '/xdg' }, 'linux', '/home/u'), '/xdg/sealpost');
    assert.equal(defaultDataDir({}, 'linux', '/home/u'), '/home/u/.local/share/sealpost');
    assert.equal(defaultDataDir({ XDG_DATA_HOME: 'relative' }, 'linux', '/home/u'), '/home/u/.local/share/sealpost');
    assert.equal(defaultDataDir({}, 'darwin', '/Users/u'), '/Users/u/Library/Application Support/sealpost');
    assert.equal(defaultDataDir({ APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'win32', 'C:\\Users\\u'), path.join('C:\\Users\\u\\AppData\\Roaming', 'sealpost'));
  });

  it('creates the data-dir layout private to its owner (0700)', () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
    try {
      const layout = dataLayout(path.join(parent, 'data'));
      ensureDataDir(layout);
      for (const dir of [layout.root, layout.mailboxesDir, layout.queueDir, layout.backupsDir, layout.tlsDir]) {
        assert.equal(fs.statSync(dir).mode & 0o777, 0o700, dir);
      }
      assert.equal(path.basename(layout.directoryDb), 'sealpost.db');
      assert.equal(layout.mailboxFile('0b9e'), path.join(layout.mailboxesDir, '0b9e.sqlite'));
      assert.equal(path.basename(layout.outboundDb), 'outbound.sqlite');
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });
});
