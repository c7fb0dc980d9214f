// The desktop shell's main-process logic under Node: a fake Electron (main-fake-electron.ts) around the REAL
// `bin/sealpost serve` child on a temp data dir and free ports.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startDesktop, type Desktop } from '../../main/desktop.js';
import { CONTENT_SECURITY_POLICY } from '../../main/security.js';
import { serverCommand } from '../../main/server-command.js';
import { ServerSupervisor, parseListenerLine } from '../../main/server-process.js';
import { freePorts } from '../helpers/ports.js';
import { runCli } from '../helpers/sealpost-cli.js';
import { FakeInstanceLock, createFakeElectron, type FakeElectron, type FakeWindow } from './main-fake-electron.js';

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PORT_ENV = ['SEALPOST_SMTP_PORT', 'SEALPOST_SUBMISSION_PORT', 'SEALPOST_SUBMISSIONS_PORT', 'SEALPOST_IMAP_PORT', 'SEALPOST_IMAPS_PORT', 'SEALPOST_POP3_PORT', 'SEALPOST_POP3S_PORT', 'SEALPOST_MANAGESIEVE_PORT', 'SEALPOST_ADMIN_PORT'];

async function setup(): Promise<{ dir: string; dataDir: string; env: NodeJS.ProcessEnv; adminPort: number; cleanup(): void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  const dataDir = path.join(dir, 'data');
  const ports = await freePorts(PORT_ENV.length);
  const env: NodeJS.ProcessEnv = { ...process.env, SEALPOST_KEYCHAIN: 'off', SEALPOST_LOG_LEVEL: 'warn', SEALPOST_DATA: dataDir };
  // The shell must get the app key itself (keychain, here its file fallback), not inherit one.
  delete env.SEALPOST_APP_KEY;
  delete env.SEALPOST_UI_TOKEN;
  PORT_ENV.forEach((name, i) => (env[name] = String(ports[i])));
  return { dir, dataDir, env, adminPort: ports.at(-1) as number, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

function launch(fake: FakeElectron, env: NodeJS.ProcessEnv, output: string[]): Desktop | null {
  return startDesktop({
    electron: fake.electron,
    env,
    appPath: ROOT,
    preloadPath: path.join(ROOT, 'dist', 'app', 'preload.cjs'),
    windowIconPath: path.join(ROOT, 'resources', 'icons', '512x512.png'),
    trayIconPath: path.join(ROOT, 'resources', 'icons', 'tray.png'),
    onServerOutput: (line) => output.push(line),
    supervisor: { initialBackoffMs: 200, maxBackoffMs: 1000, stopTimeoutMs: 20_000 },
  });
}

async function waitFor<T>(what: string, probe: () => T | null | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function signedIn(window: FakeWindow): Promise<boolean> {
  const state = await window.api('GET', '/api/auth/state');
  return (state.json as { authenticated?: boolean }).authenticated === true;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

test('serve listener lines are parsed into the admin origin', () => {
  assert.deepEqual(parseListenerLine('admin listening on 127.0.0.1:7080 (http)'), { name: 'admin', host: '127.0.0.1', port: 7080, security: 'http' });
  assert.deepEqual(parseListenerLine('imaps listening on [::1]:1993 (tls)'), { name: 'imaps', host: '::1', port: 1993, security: 'tls' });
  assert.equal(parseListenerLine('{"level":30,"msg":"admin listening on 1.2.3.4:1 (http)"}'), null);
});

test('desktop shell around a real sealpost serve', async (t) => {
  const { dataDir, env, adminPort, cleanup } = await setup();
  t.after(cleanup);
  // An alias that exists before the first launch (the CLI and the desktop share the data dir and app key).
  assert.equal((await runCli(['domain', 'add', 'example.test'], { env })).code, 0);
  const added = await runCli(['alias', 'add', 'alice@example.test', '--json'], { env });
  assert.equal(added.code, 0, added.stderr);
  const alias = JSON.parse(added.stdout) as { id: string; password: string };

  const lock = new FakeInstanceLock();
  const fake = createFakeElectron(lock);
  const output: string[] = [];
  const desktop = launch(fake, env, output);
  assert.ok(desktop, 'the first instance gets the single-instance lock');
  t.after(async () => {
    if (desktop.supervisor.state.kind !== 'stopped') await desktop.supervisor.stop();
  });
  await desktop.started;
  const origin = `http://127.0.0.1:${adminPort}`;
  const window = fake.windows[0] as FakeWindow;
  const tray = fake.trays[0]!;

  await t.test('the window opens sandboxed on the admin UI, signed in with a one-time token', async () => {
    assert.equal(fake.windows.length, 1);
    const prefs = window.options.webPreferences;
    assert.equal(prefs.sandbox, true);
    assert.equal(prefs.contextIsolation, true);
    assert.equal(prefs.nodeIntegration, false);
    assert.equal(prefs.webviewTag, false);
    assert.equal(prefs.preload, path.join(ROOT, 'dist', 'app', 'preload.cjs'));
    const [first] = window.loads;
    assert.match(first ?? '', new RegExp(`^${origin}/auth/token\\?t=[A-Za-z0-9_-]{32,}$`));
    assert.equal(window.pages[0]?.status, 303, 'the token is accepted');
    assert.equal(window.webContents.getURL(), `${origin}/`);
    assert.ok(window.shown >= 1, 'the window is shown once the page is ready');
    assert.equal(await signedIn(window), true, 'the UI is signed in');
    // The token works once: replaying the same URL is refused.
    const replay = await fetch(first ?? '', { redirect: 'manual' });
    assert.equal(replay.status, 403);
  });

  await t.test('every admin response carries the strict CSP; other origins and permissions are refused', async () => {
    const page = window.pages.at(-1)!;
    assert.ok(page.headers['Content-Security-Policy']?.includes(CONTENT_SECURITY_POLICY), JSON.stringify(page.headers));
    assert.match(CONTENT_SECURITY_POLICY, /script-src 'self'(;|$)/);
    assert.equal(fake.session.allows(`${origin}/assets/app.js`), true);
    assert.equal(fake.session.allows('https://cdn.example.com/tracker.js'), false);
    assert.equal(fake.session.allows(`http://127.0.0.1:${adminPort + 1}/`), false, 'another port is another origin');
    let granted: boolean | null = null;
    fake.session.permissionHandler?.(null, 'notifications', (g) => (granted = g));
    assert.equal(granted, false);
  });

  await t.test('links outside the admin origin open in the browser, never in the window', async () => {
    assert.equal(await window.navigate('https://sealpost.example/help'), false);
    assert.deepEqual(fake.opened, ['https://sealpost.example/help']);
    assert.deepEqual(window.webContents.openHandler?.({ url: 'https://example.org/dns' }), { action: 'deny' });
    assert.deepEqual(fake.opened, ['https://sealpost.example/help', 'https://example.org/dns']);
    assert.equal(await window.navigate('file:///etc/passwd'), false);
    assert.equal(fake.opened.length, 2, 'file: URLs are not handed to the OS');
    assert.equal(await window.navigate(`${origin}/`), true, 'same-origin navigation stays in the window');
  });

  await t.test('the tray shows the status and "Lock all mailboxes" locks unlocked mailboxes', async () => {
    assert.match(tray.toolTip, new RegExp(`running \\(admin on 127\\.0\\.0\\.1:${adminPort}\\)`));
    assert.deepEqual(
      tray.menu.filter((i) => i.label && i.enabled !== false).map((i) => i.label),
      ['Open', 'Lock all mailboxes', 'Quit'],
    );
    const unlocked = await window.api('POST', `/api/aliases/${alias.id}/unlock`, { password: alias.password });
    assert.equal(unlocked.status, 200, JSON.stringify(unlocked.json));
    assert.equal((unlocked.json as { unlocked: boolean }).unlocked, true);
    tray.click('Lock all mailboxes');
    await waitFor('the lock notice', () => tray.menu.some((i) => i.label === 'Locked 1 mailbox'));
    const list = await window.api('GET', '/api/aliases');
    assert.equal((list.json as { unlocked: boolean }[])[0]?.unlocked, false);
    assert.equal(await desktop.lockAll(), 0);
    assert.ok(tray.menu.some((i) => i.label === 'No mailbox was unlocked'));
  });

  await t.test('a second launch quits at once and focuses the existing window', async () => {
    const focusedBefore = window.focused;
    const second = createFakeElectron(lock);
    assert.equal(launch(second, env, []), null);
    assert.equal(second.app.quitRequests, 1);
    assert.equal(second.windows.length, 0);
    assert.equal(window.focused, focusedBefore + 1);
    assert.equal(fake.windows.length, 1, 'no second window either');
  });

  await t.test('closing the window keeps the server running; "Open" brings a signed-in window back', async () => {
    const pid = desktop.supervisor.pid;
    window.close();
    assert.equal(fake.app.quitted, false);
    assert.equal(desktop.window(), null);
    assert.equal(await portOpen(adminPort), true);
    assert.equal(desktop.supervisor.pid, pid);
    tray.click('Open');
    const reopened = await waitFor('a new window', () => fake.windows[1]);
    await waitFor('its page', () => reopened.pages.some((p) => p.url === `${origin}/`));
    assert.equal(await signedIn(reopened), true);
  });

  await t.test('a crashed server is restarted with backoff and the window signs in again', async () => {
    const current = fake.windows[1]!;
    const pid = desktop.supervisor.pid!;
    const pagesBefore = current.pages.length;
    process.kill(pid, 'SIGKILL');
    await waitFor('the restart', () => desktop.supervisor.state.kind === 'running' && desktop.supervisor.pid !== pid);
    assert.ok(tray.history.some((s) => /restarting after a crash \(attempt 1, killed by SIGKILL\)/.test(s)), tray.history.join('\n'));
    assert.match(tray.toolTip, /running/);
    await waitFor('the window to sign in again', () => current.pages.slice(pagesBefore).some((p) => p.url === `${origin}/`));
    assert.match(current.pages[pagesBefore]?.url ?? '', /\/auth\/token\?t=/);
    assert.equal(await signedIn(current), true);
  });

  await t.test('Quit stops the server cleanly (exit code 0) and then quits the app', async () => {
    const uiToken = path.join(dataDir, 'ui-token');
    assert.ok(fs.existsSync(uiToken));
    tray.click('Quit');
    assert.equal(fake.app.quitted, false, 'the first quit waits for the server');
    assert.equal(await desktop.stopped, 0);
    await waitFor('the app to quit', () => fake.app.quitted);
    assert.equal(await portOpen(adminPort), false);
    assert.equal(fs.existsSync(uiToken), false, 'the sign-in token is removed with the server');
    assert.ok(tray.destroyed);
  });

  await t.test('nothing secret reaches the server log the shell forwards', () => {
    const log = output.join('\n');
    assert.doesNotMatch(log, /alice@example\.test/);
    assert.ok(!log.includes(alias.password));
    const tokens = fake.windows.flatMap((w) => w.loads).map((load) => new URL(load).searchParams.get('t'));
    assert.ok(tokens.filter(Boolean).length >= 3);
    for (const token of tokens) if (token) assert.ok(!log.includes(token), 'token logged');
    const key = fs.readFileSync(path.join(dataDir, 'app.key'), 'utf8').trim();
    assert.ok(!log.includes(key), 'app key logged');
  });
});

test('a server that cannot start is reported, not retried', async (t) => {
  const { env, adminPort, cleanup } = await setup();
  t.after(cleanup);
  const blocker = net.createServer().listen(adminPort, '127.0.0.1');
  await new Promise((resolve) => blocker.once('listening', resolve));
  const fake = createFakeElectron(new FakeInstanceLock());
  const desktop = launch(fake, env, []);
  assert.ok(desktop);
  await assert.rejects(desktop.started, /already in use/);
  assert.equal(fake.windows.length, 0);
  assert.equal(fake.errors[0]?.title, 'Sealpost could not start');
  assert.match(fake.errors[0]?.content ?? '', new RegExp(`admin listener on 127\\.0\\.0\\.1:${adminPort}: the port is already in use`));
  assert.match(fake.trays[0]!.toolTip, /stopped — /);
  assert.ok(fake.trays[0]!.menu.some((i) => i.label === 'Try again'));
  assert.equal(desktop.supervisor.pid, null, 'no child left behind');
  // Once the port is free again, "Try again" starts the server and opens the window.
  await new Promise((resolve) => blocker.close(resolve));
  t.after(() => desktop.supervisor.stop());
  fake.trays[0]!.click('Try again');
  const window = await waitFor('the window', () => fake.windows[0]);
  await waitFor('its page', () => window.pages.some((p) => p.url === `http://127.0.0.1:${adminPort}/`));
  assert.equal(await signedIn(window), true);
  assert.match(fake.trays[0]!.toolTip, /running/);
});

/**
 * The unpacked half of a packaged app, as build/electron-builder.cjs lays it out: package.json, the precompiled
 * server (copied: Node resolves its imports from where it really is), the built UI, and a node_modules holding every
 * installed package except tsx and esbuild, which the package leaves out.
 */
async function packagedLayout(dir: string): Promise<{ resources: string; unpacked: string }> {
  // The same freshness rule as bin/sealpost: build only when a source changed since the last build.
  await execFileAsync(process.execPath, [path.join(ROOT, 'scripts', 'build-server.mjs'), '--if-stale'], { cwd: ROOT });
  const resources = path.join(dir, 'resources');
  const unpacked = path.join(resources, 'app.asar.unpacked');
  fs.mkdirSync(path.join(unpacked, 'renderer'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'dist', 'server'), path.join(unpacked, 'dist', 'server'), { recursive: true, filter: (file) => !file.endsWith('.map') });
  fs.symlinkSync(path.join(ROOT, 'renderer', 'dist'), path.join(unpacked, 'renderer', 'dist'));
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(unpacked, 'package.json'));
  const modules = path.join(unpacked, 'node_modules');
  fs.mkdirSync(modules);
  for (const name of fs.readdirSync(path.join(ROOT, 'node_modules'))) {
    if (['tsx', 'esbuild', '@esbuild', '.bin', '.cache'].includes(name) || name.startsWith('.')) continue;
    fs.symlinkSync(path.join(ROOT, 'node_modules', name), path.join(modules, name));
  }
  return { resources, unpacked };
}

test('packaged layout: the precompiled server starts from app.asar.unpacked in Node mode, with no tsx and no sources', async (t) => {
  const { dir, dataDir, env, cleanup } = await setup();
  t.after(cleanup);
  const { resources, unpacked } = await packagedLayout(dir);
  const command = serverCommand({ isPackaged: true, appPath: path.join(resources, 'app.asar'), resourcesPath: resources, execPath: process.execPath, dataDir, appKeyHex: null, env: { ...env, SEALPOST_UI_TOKEN: 'inherited-token-0123456789' } });
  assert.deepEqual(command.args, [path.join(unpacked, 'dist', 'server', 'cli.js'), 'serve']);
  assert.ok(!command.args.some((arg) => /tsx|\.ts$|bin[/\\]sealpost$/.test(arg)), `never tsx, sources or the launcher that falls back to them: ${command.args.join(' ')}`);
  assert.equal(command.command, process.execPath);
  assert.equal(command.cwd, unpacked);
  assert.equal(command.env.ELECTRON_RUN_AS_NODE, '1');
  assert.equal(command.env.SEALPOST_RCLONE, path.join(resources, 'bin', 'rclone'));
  assert.equal(command.env.SEALPOST_UI_TOKEN, undefined, 'sign-in always goes through <data>/ui-token');
  // The layout has no tsx to fall back on: the server must run as built.
  assert.ok(!fs.existsSync(path.join(unpacked, 'node_modules', 'tsx')) && !fs.existsSync(path.join(unpacked, 'server')));
  const output: string[] = [];
  const supervisor = new ServerSupervisor({ command: () => command, onOutput: (line) => output.push(line) });
  t.after(() => supervisor.stop());
  const server = await supervisor.start();
  assert.match(server.adminOrigin, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(fs.existsSync(path.join(dataDir, 'ui-token')));
  // The admin UI is served from the unpacked renderer/dist, two levels above dist/server/cli.js.
  const page = await fetch(`${server.adminOrigin}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
  assert.equal(await supervisor.stop(), 0);
  assert.ok(!output.some((line) => /tsx|ERR_MODULE_NOT_FOUND|ERR_UNKNOWN_FILE_EXTENSION/.test(line)), output.join('\n'));
});

test('packaged layout in a checkout: the server command never points at tsx or the TypeScript sources', () => {
  // With asar off the app folder itself holds dist/server; SEALPOST_RUN_SOURCES means nothing to a package.
  const command = serverCommand({ isPackaged: true, appPath: '/opt/Sealpost/resources/app', resourcesPath: '/opt/Sealpost/resources', execPath: '/opt/Sealpost/sealpost-desktop', dataDir: '/home/u/.local/share/sealpost', appKeyHex: 'ab'.repeat(32), env: { SEALPOST_RUN_SOURCES: '1' }, platform: 'linux' });
  assert.deepEqual(command.args, [path.join('/opt/Sealpost/resources/app', 'dist', 'server', 'cli.js'), 'serve']);
  assert.equal(command.command, '/opt/Sealpost/sealpost-desktop');
  assert.equal(command.env.SEALPOST_APP_KEY, 'ab'.repeat(32));
  assert.equal(command.env.SEALPOST_DATA, '/home/u/.local/share/sealpost');
  // A development checkout runs the launcher, which picks the fresh build or the sources itself.
  const dev = serverCommand({ isPackaged: false, appPath: ROOT, resourcesPath: path.join(ROOT, 'resources'), execPath: '/x/electron', dataDir: '/d', appKeyHex: null, env: {} });
  assert.deepEqual(dev.args, [path.join(ROOT, 'bin', 'sealpost'), 'serve']);
  assert.equal(dev.command, 'node');
});
