// File modes: everything Sealpost writes is readable by its own user only. After the first start, a
// backup (with the key and as a locked copy) and an export in each format, every file under the data dir
// and under the export path is exactly 0600 and every directory exactly 0700 — once through the real CLI
// (which sets umask 077 at start) and once in-process under a permissive umask (022), where only the
// explicit modes at each place a file is created can make it so.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportEml, exportMbox, exportSqlite, snapshotMailbox } from '../../server/backup/index.js';
import { runCli, startServe, tempDataDir, stopServe } from '../helpers/sealpost-cli.js';
import { freePorts, listenerPortsEnv } from '../helpers/ports.js';
import { mailboxFixture } from '../integration/backup-fixture.js';

/** Every path under root (root included) whose mode is not 0600 (files) or 0700 (directories), as "path mode". */
function wrongModes(root: string): string[] {
  const wrong: string[] = [];
  const visit = (p: string): void => {
    const st = fs.lstatSync(p);
    const mode = st.mode & 0o777;
    if (st.isDirectory()) {
      if (mode !== 0o700) wrong.push(`${path.relative(root, p) || '.'}/ ${mode.toString(8)}`);
      for (const name of fs.readdirSync(p)) visit(path.join(p, name));
    } else if (st.isSocket()) {
      // a unix socket is reached through its 0700 directory; its own mode is the platform's
    } else if (mode !== 0o600) wrong.push(`${path.relative(root, p)} ${mode.toString(8)}`);
  };
  visit(root);
  return wrong;
}

function countFiles(root: string): number {
  let n = 0;
  const visit = (p: string): void => {
    const st = fs.lstatSync(p);
    if (st.isDirectory()) for (const name of fs.readdirSync(p)) visit(path.join(p, name));
    else n++;
  };
  visit(root);
  return n;
}

const cleanups: (() => void | Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test('CLI and serve: the data dir after first start, backups and exports (sqlite, mbox, eml) are 0600 files in 0700 directories', async () => {
  const data = tempDataDir();
  cleanups.push(data.cleanup);
  // the data dir does not exist yet: the first start creates it
  fs.rmSync(data.dir, { recursive: true, force: true });
  const exportsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-exports-'));
  cleanups.push(() => fs.rmSync(exportsRoot, { recursive: true, force: true }));
  const env = { ...data.env, SEALPOST_TEST: '1', SEALPOST_HOST: '127.0.0.1' };
  const ok = async (args: string[], stdin = ''): Promise<string> => {
    const r = await runCli(args, { env, stdin });
    assert.equal(r.code, 0, `sealpost ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  // first start: serve with the admin listener only, then stop it
  const [adminPort] = await freePorts(1);
  const serve = await startServe([], { ...env, ...listenerPortsEnv(['admin'], [adminPort as number]) }, 1);
  assert.equal(await stopServe(serve), 0, serve.output());
  assert.deepEqual(wrongModes(data.dir), [], 'after the first start');

  await ok(['domain', 'add', 'example.test']);
  const { password } = JSON.parse(await ok(['alias', 'add', 'alice@example.test', '--json'])) as { password: string };
  const pw = `${password}\n`;
  const mbox = path.join(exportsRoot, 'in.mbox');
  fs.writeFileSync(mbox, 'From MAILER-DAEMON Tue Jan  2 03:04:05 2024\nSubject: hello\nMessage-ID: <1@modes>\n\nfirst\n', { mode: 0o600 });
  await ok(['import', 'alice@example.test', mbox, '--password-stdin'], pw);
  fs.rmSync(mbox);
  await ok(['backup', 'now', 'alice@example.test', '--password-stdin'], pw); // VACUUM INTO with the key
  await ok(['backup', 'now']); // every alias (and the directory), as locked copies
  await ok(['export', 'alice@example.test', '--format', 'sqlite', '--out', path.join(exportsRoot, 'alice.sqlite'), '--password-stdin'], pw);
  await ok(['export', 'alice@example.test', '--format', 'mbox', '--out', path.join(exportsRoot, 'alice-mbox'), '--password-stdin'], pw);
  await ok(['export', 'alice@example.test', '--format', 'eml', '--out', path.join(exportsRoot, 'alice.zip'), '--password-stdin'], pw);

  assert.ok(fs.readdirSync(path.join(data.dir, 'backups')).length >= 1, 'backups were written');
  assert.ok(countFiles(exportsRoot) >= 3, 'exports were written');
  assert.deepEqual(wrongModes(data.dir), [], 'data dir after backups and exports');
  assert.deepEqual(wrongModes(exportsRoot), [], 'export path');
});

test('in-process under umask 022: backups and exports are still created 0600, export directories 0700', async () => {
  const previous = process.umask(0o022);
  const fx = await mailboxFixture({ inbox: 3, archive: 2 });
  cleanups.push(() => fx.cleanup());
  const exportsRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-exports-'));
  cleanups.push(() => fs.rmSync(exportsRoot, { recursive: true, force: true }));
  try {
    await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true, kind: 'manual' });
    await exportSqlite({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, password: 'an export password', out: path.join(exportsRoot, 'x.sqlite') });
    await exportMbox(fx.mailbox, path.join(exportsRoot, 'mbox', 'nested'));
    await exportEml(fx.mailbox, path.join(exportsRoot, 'x.zip'));
  } finally {
    process.umask(previous);
  }
  assert.ok(countFiles(path.join(fx.dir, 'backups')) >= 2, 'a generation and its manifest');
  assert.ok(countFiles(exportsRoot) >= 4);
  assert.deepEqual(wrongModes(path.join(fx.dir, 'backups')), []);
  assert.deepEqual(wrongModes(exportsRoot), []);
  // the live mailbox file and its -wal/-shm, created under the same umask by the fixture
  assert.deepEqual(wrongModes(path.join(fx.dir, 'mailboxes')), []);
});
