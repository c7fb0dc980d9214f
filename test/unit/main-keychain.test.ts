// The desktop shell reads the app key from a real OS keychain (gnome-keyring in dbus-run-session) and hands
// it to the real `serve` child through its environment; no app.key file is written.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePorts } from '../helpers/ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const have = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const missing = ['dbus-run-session', 'gnome-keyring-daemon'].filter((b) => !have(b));
const skip = missing.length ? `needs ${missing.join(', ')} (apt: dbus gnome-keyring)` : process.platform !== 'linux' ? 'reads /proc' : false;
const PORT_ENV = ['SEALPOST_SMTP_PORT', 'SEALPOST_SUBMISSION_PORT', 'SEALPOST_SUBMISSIONS_PORT', 'SEALPOST_IMAP_PORT', 'SEALPOST_IMAPS_PORT', 'SEALPOST_POP3_PORT', 'SEALPOST_POP3S_PORT', 'SEALPOST_MANAGESIEVE_PORT', 'SEALPOST_ADMIN_PORT'];

const url = (file: string): string => JSON.stringify(pathToFileURL(path.join(ROOT, file)).href);

// Runs inside the keyring session: start the shell, look at what the child got, quit; one JSON line out.
const CHILD = `
import fs from 'node:fs';
import { startDesktop } from ${url('main/desktop.ts')};
import { loadAppKey } from ${url('server/keychain/index.ts')};
import { FakeInstanceLock, createFakeElectron } from ${url('test/unit/main-fake-electron.ts')};
const [dataDir, appPath] = process.argv.slice(2);
const fake = createFakeElectron(new FakeInstanceLock());
const desktop = startDesktop({ electron: fake.electron, env: process.env, appPath, onServerOutput: () => undefined });
await desktop.started;
const environ = fs.readFileSync('/proc/' + desktop.supervisor.pid + '/environ', 'latin1').split('\\0');
const passed = environ.find((e) => e.startsWith('SEALPOST_APP_KEY='))?.slice('SEALPOST_APP_KEY='.length) ?? null;
const inKeychain = await loadAppKey(dataDir, process.env);
const state = await fake.windows[0].api('GET', '/api/auth/state');
fake.app.quit();
const exitCode = await desktop.stopped;
console.log(JSON.stringify({ passed, keychain: inKeychain.key.toString('hex'), source: inKeychain.source, keyFile: fs.existsSync(dataDir + '/app.key'), signedIn: state.json.authenticated, exitCode }));
`;

test('the app key comes from the OS keychain and reaches the server child through its environment', { skip }, async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const script = path.join(tmp, 'desktop-child.mts');
  fs.writeFileSync(script, CHILD);
  const home = path.join(tmp, 'home');
  const dataDir = path.join(tmp, 'data');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_DATA_HOME: path.join(home, 'data'),
    XDG_RUNTIME_DIR: path.join(home, 'run'),
    LANG: 'C.UTF-8',
    SEALPOST_KEYCHAIN: 'on',
    SEALPOST_LOG_LEVEL: 'warn',
    SEALPOST_DATA: dataDir,
  };
  fs.mkdirSync(env.XDG_RUNTIME_DIR as string, { recursive: true, mode: 0o700 });
  const ports = await freePorts(PORT_ENV.length);
  PORT_ENV.forEach((name, i) => (env[name] = String(ports[i])));
  const node = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(script)} ${JSON.stringify(dataDir)} ${JSON.stringify(ROOT)}`;
  const child = spawn('dbus-run-session', ['--', 'sh', '-c', `echo keyring-test-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; ${node}`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const line = out.split('\n').find((l) => l.startsWith('{'));
  assert.ok(code === 0 && line, `child exited ${code}: ${err.slice(-2000)}`);
  const result = JSON.parse(line) as { passed: string | null; keychain: string; source: string; keyFile: boolean; signedIn: boolean; exitCode: number | null };
  assert.equal(result.source, 'keychain');
  assert.match(result.passed ?? '', /^[0-9a-f]{64}$/);
  assert.equal(result.passed, result.keychain, 'the server got the keychain key');
  assert.equal(result.keyFile, false, 'no app.key file next to the data');
  assert.equal(result.signedIn, true);
  assert.equal(result.exitCode, 0);
  assert.ok(!fs.readdirSync(dataDir).includes('app.key'));
});
