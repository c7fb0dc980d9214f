// The app key and secrets in a real gnome-keyring (Secret Service) inside dbus-run-session, and the
// fallback when there is no session bus or no keyring daemon.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const have = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const missing = ['dbus-run-session', 'gnome-keyring-daemon'].filter((b) => !have(b));
const skip = missing.length ? `needs ${missing.join(', ')} (apt: dbus gnome-keyring)` : false;

let tmp: string;
let script: string;
before(() => {
  tmp = fs.mkdtempSync(os.tmpdir() + '/sealpost-');
  script = path.join(tmp, 'child.mts'); // .mts: /tmp has no package.json saying "type": "module"
  // The child does one thing per run and prints one JSON line.
  fs.writeFileSync(script, `
import { loadAppKey, SecretStore } from ${JSON.stringify(pathToFileURL(path.join(repo, 'server/keychain/index.ts')).href)};
const [dataDir, action] = process.argv.slice(2);
const app = await loadAppKey(dataDir, process.env);
const store = new SecretStore(dataDir, app.key, process.env);
const out: Record<string, unknown> = { source: app.source, key: app.key.toString('hex'), warning: app.warning ?? null };
if (action === 'set') out.where = await store.setSecret('relay:smtp.example.test', 'relay-pw-73');
if (action === 'get' || action === 'set') out.secret = await store.getSecret('relay:smtp.example.test');
if (action === 'delete') out.deleted = await store.deleteSecret('relay:smtp.example.test');
console.log(JSON.stringify(out));
`);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface ChildResult { source: string; key: string; warning: string | null; where?: string; secret?: string | null; deleted?: boolean }

function baseEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: home, XDG_DATA_HOME: path.join(home, 'data'), XDG_RUNTIME_DIR: path.join(home, 'run'),
    SEALPOST_KEYCHAIN: 'on', LANG: 'C.UTF-8',
  };
  fs.mkdirSync(env.XDG_RUNTIME_DIR!, { recursive: true, mode: 0o700 });
  return env;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) return reject(new Error(`child exited ${code}: ${err.slice(-2000)}`));
      resolve(JSON.parse(line) as ChildResult);
    });
  });
}

/** One dbus session with an unlocked gnome-keyring whose storage lives under `home`. */
function inKeyringSession(home: string, dataDir: string, action: string): Promise<ChildResult> {
  const node = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(script)} ${JSON.stringify(dataDir)} ${action}`;
  return run('dbus-run-session', ['--', 'sh', '-c', `echo keyring-test-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; ${node}`], baseEnv(home));
}

test('the app key is created in gnome-keyring on first run and read back by a later session', { skip }, async () => {
  const home = path.join(tmp, 'home1');
  const dataDir = path.join(tmp, 'data1');
  const first = await inKeyringSession(home, dataDir, 'set');
  assert.equal(first.source, 'keychain');
  assert.match(first.key, /^[0-9a-f]{64}$/);
  assert.equal(first.warning, null);
  assert.equal(first.where, 'keychain');
  assert.equal(first.secret, 'relay-pw-73');
  assert.equal(fs.existsSync(path.join(dataDir, 'app.key')), false, 'no key file when the keychain works');
  assert.equal(fs.existsSync(path.join(dataDir, 'secrets.sealed')), false, 'no secrets file when the keychain works');
  // The keyring file on disk is gnome-keyring's own encrypted store: the key is not in it in clear.
  const keyrings = path.join(home, 'data', 'keyrings');
  for (const f of fs.readdirSync(keyrings)) {
    const bytes = fs.readFileSync(path.join(keyrings, f));
    assert.equal(bytes.indexOf(first.key), -1);
    assert.equal(bytes.indexOf('relay-pw-73'), -1);
  }
  // A new session (new daemon, same keyring storage and unlock password) sees the same key and secret.
  const second = await inKeyringSession(home, dataDir, 'get');
  assert.equal(second.source, 'keychain');
  assert.equal(second.key, first.key);
  assert.equal(second.secret, 'relay-pw-73');
  const third = await inKeyringSession(home, dataDir, 'delete');
  assert.equal(third.deleted, true);
  const fourth = await inKeyringSession(home, dataDir, 'get');
  assert.equal(fourth.secret, null);
});

test('with no session bus the app key and secrets fall back to 0600 files, with a warning naming the reason', { skip }, async () => {
  const home = path.join(tmp, 'home2');
  const dataDir = path.join(tmp, 'data2');
  const env = baseEnv(home); // no DBUS_SESSION_BUS_ADDRESS
  const first = await run(process.execPath, ['--import', 'tsx', script, dataDir, 'set'], env);
  assert.equal(first.source, 'file');
  assert.match(first.warning ?? '', /OS keychain unavailable/);
  assert.equal(first.where, 'file');
  assert.equal(first.secret, 'relay-pw-73');
  assert.equal(fs.statSync(path.join(dataDir, 'app.key')).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.join(dataDir, 'secrets.sealed')).mode & 0o777, 0o600);
  assert.equal(fs.readFileSync(path.join(dataDir, 'secrets.sealed')).indexOf('relay-pw-73'), -1);
  const again = await run(process.execPath, ['--import', 'tsx', script, dataDir, 'get'], env);
  assert.equal(again.key, first.key);
  assert.equal(again.secret, 'relay-pw-73');
});

test('a bus without a keyring daemon also falls back, and that key file keeps winning once a keyring holds another key', { skip }, async () => {
  const home = path.join(tmp, 'home3');
  const dataDir = path.join(tmp, 'data3');
  const node = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(script)} ${JSON.stringify(dataDir)} get`;
  const noDaemon = await run('dbus-run-session', ['--', 'sh', '-c', node], baseEnv(home));
  assert.equal(noDaemon.source, 'file');
  assert.match(noDaemon.warning ?? '', /OS keychain unavailable/);
  // Later a keyring works and already holds another data dir's app key (the item is per OS user):
  // this data dir must keep using the key its data was made with.
  const other = await inKeyringSession(home, path.join(tmp, 'data3-other'), 'get');
  assert.equal(other.source, 'keychain');
  assert.notEqual(other.key, noDaemon.key);
  const withKeyring = await inKeyringSession(home, dataDir, 'get');
  assert.equal(withKeyring.source, 'file');
  assert.equal(withKeyring.key, noDaemon.key);
});
