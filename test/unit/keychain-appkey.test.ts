// App key and named secrets without an OS keychain (SEALPOST_KEYCHAIN=off): env key, 0600 key file, encrypted secrets file.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadAppKey, AppKeyError, SecretStore, SECRETS_FILE, keychainEnabled } from '../../server/keychain/index.js';

const OFF = { SEALPOST_KEYCHAIN: 'off' };
let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(os.tmpdir() + '/sealpost-'); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('SEALPOST_APP_KEY (64 hex) is used as is, and a malformed one is refused without echoing it', async () => {
  const hex = 'ab'.repeat(32);
  const k = await loadAppKey(dir, { ...OFF, SEALPOST_APP_KEY: hex });
  assert.equal(k.source, 'env');
  assert.equal(k.key.toString('hex'), hex);
  assert.equal(k.warning, undefined);
  assert.equal(fs.existsSync(path.join(dir, 'app.key')), false, 'no key file when the env provides the key');
  for (const bad of ['abc', 'zz'.repeat(32), 'ab'.repeat(33)]) {
    await assert.rejects(loadAppKey(dir, { SEALPOST_APP_KEY: bad }), (err: unknown) => {
      assert.ok(err instanceof AppKeyError);
      assert.match(err.message, /SEALPOST_APP_KEY must be 64 hexadecimal characters/);
      assert.ok(!err.message.includes(bad), 'the value is not echoed');
      return true;
    });
  }
});

test('without a keychain, first run creates a 0600 app.key with a warning; later runs read the same key', async () => {
  const first = await loadAppKey(dir, OFF);
  assert.equal(first.source, 'file');
  assert.equal(first.key.length, 32);
  assert.match(first.warning ?? '', /app\.key/);
  assert.match(first.warning ?? '', /SEALPOST_KEYCHAIN=off/);
  const st = fs.statSync(path.join(dir, 'app.key'));
  assert.equal(st.mode & 0o777, 0o600);
  const second = await loadAppKey(dir, OFF);
  assert.deepEqual(second.key, first.key);
  assert.equal(second.source, 'file');
  assert.ok(second.warning);
});

test('a key file readable by group or others is refused with the chmod to run', async () => {
  await loadAppKey(dir, OFF);
  fs.chmodSync(path.join(dir, 'app.key'), 0o640);
  await assert.rejects(loadAppKey(dir, OFF), /accessible by group or others \(mode 640\); run: chmod 600/);
  fs.chmodSync(path.join(dir, 'app.key'), 0o600);
  fs.writeFileSync(path.join(dir, 'app.key'), 'not a key\n', { mode: 0o600 });
  await assert.rejects(loadAppKey(dir, OFF), /must be 64 hexadecimal characters/);
});

test('a data dir that already has a directory database never gets a fresh app key', async () => {
  fs.writeFileSync(path.join(dir, 'sealpost.db'), 'x');
  await assert.rejects(loadAppKey(dir, OFF), (err: unknown) => {
    assert.ok(err instanceof AppKeyError);
    assert.match(err.message, /already holds data but its app key was not found/);
    return true;
  });
  assert.equal(fs.existsSync(path.join(dir, 'app.key')), false);
});

test('under the test runner the keychain is off unless asked for; SEALPOST_KEYCHAIN=off always wins', () => {
  assert.equal(keychainEnabled({ SEALPOST_TEST: '1' }), false);
  assert.equal(keychainEnabled({ SEALPOST_TEST: '1', SEALPOST_KEYCHAIN: 'on' }), true);
  assert.equal(keychainEnabled({}), true);
  assert.equal(keychainEnabled({ SEALPOST_KEYCHAIN: 'off' }), false);
});

test('secrets fall back to an encrypted 0600 file that shows neither names nor values', async () => {
  const { key } = await loadAppKey(dir, OFF);
  const store = new SecretStore(dir, key, OFF);
  assert.equal(await store.getSecret('r2-secret'), null);
  assert.equal(await store.setSecret('r2-secret', 'R2-SECRET-VALUE-1234'), 'file');
  assert.equal(await store.setSecret('relay:smtp.example.test', 'relay-password-5678'), 'file');
  assert.equal(await store.getSecret('r2-secret'), 'R2-SECRET-VALUE-1234');
  const file = path.join(dir, SECRETS_FILE);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const bytes = fs.readFileSync(file);
  for (const needle of ['R2-SECRET-VALUE', 'relay-password', 'r2-secret', 'smtp.example.test']) {
    assert.equal(bytes.indexOf(needle), -1, `${needle} found in the secrets file`);
  }
  // A new store (e.g. after restart) reads the same values; delete removes one.
  const again = new SecretStore(dir, key, OFF);
  assert.equal(await again.getSecret('relay:smtp.example.test'), 'relay-password-5678');
  assert.equal(await again.deleteSecret('r2-secret'), true);
  assert.equal(await again.deleteSecret('r2-secret'), false);
  assert.equal(await again.getSecret('r2-secret'), null);
  assert.equal(await again.getSecret('relay:smtp.example.test'), 'relay-password-5678');
  // Concurrent writes from one process are serialized, none lost.
  await Promise.all(Array.from({ length: 10 }, (_, i) => again.setSecret(`alias-key:${i}`, `v${i}`)));
  for (let i = 0; i < 10; i++) assert.equal(await again.getSecret(`alias-key:${i}`), `v${i}`);
  // Another app key cannot read them; a bad name is refused.
  const stranger = new SecretStore(dir, Buffer.alloc(32, 7), OFF);
  await assert.rejects(stranger.getSecret('relay:smtp.example.test'), /cannot be decrypted with this app key/);
  await assert.rejects(async () => store.getSecret('../etc/passwd'), /Invalid secret name/);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['app.key', SECRETS_FILE].sort(), 'no temp files left behind');
});
