// The control socket is reachable by its owner only: with a data dir too long for a unix socket path it lands
// in a private 0700 directory (under $XDG_RUNTIME_DIR, else an unpredictable one in the temp dir) recorded in
// a 0600 pointer file, never at a shared predictable /tmp path. The real CLI refuses a socket directory, socket
// or token file that another user owns or can reach, and `serve` refuses a socket directory it cannot trust.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ControlPermissionError, controlPointerPath, controlTokenPath, prepareControlSocket, privacyProblem, releaseControlSocket } from '../../server/control/index.js';
import { createInstance, type Instance } from '../helpers/reliability-harness.js';
import { runCli } from '../helpers/sealpost-cli.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** A data dir whose <data>/control.sock would not fit in a unix socket path (108 bytes on Linux). */
function longDataDir(base: string): string {
  const dir = path.join(base, 'a-data-directory-with-a-rather-long-name'.repeat(3), 'sealpost-data');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

function mode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

let scratch: string;
/** Stands in for /run/user/<uid>: short, so $XDG_RUNTIME_DIR/sealpost-<hash>/control.sock fits (the run's TMPDIR may be long). */
let runtimeBase: string;
before(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-ctl-'));
  runtimeBase = fs.mkdtempSync('/tmp/sp-rt-');
});
after(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.rmSync(runtimeBase, { recursive: true, force: true });
});

describe('where the control socket goes (server side)', () => {
  it('a short private data dir keeps <data>/control.sock and no pointer file', () => {
    const dir = fs.mkdtempSync(path.join(scratch, 'd-'));
    const where = prepareControlSocket(dir, {});
    assert.deepEqual(where, { socket: path.join(dir, 'control.sock'), dir, kind: 'data-dir' });
    assert.equal(fs.existsSync(controlPointerPath(dir)), false);
  });

  it('a long data dir without XDG_RUNTIME_DIR gets a fresh unpredictable 0700 directory, recorded in a 0600 pointer', () => {
    const dir = longDataDir(path.join(scratch, 'long1'));
    const first = prepareControlSocket(dir, {});
    assert.equal(first.kind, 'private-tmp');
    assert.equal(mode(first.dir), 0o700);
    assert.equal(fs.statSync(first.dir).uid, process.getuid?.());
    assert.match(path.basename(first.dir), /^sealpost-[0-9a-f]{24}$/);
    assert.equal(fs.readFileSync(controlPointerPath(dir), 'utf8'), `${first.socket}\n`);
    assert.equal(mode(controlPointerPath(dir)), 0o600);
    releaseControlSocket(dir, first);
    const second = prepareControlSocket(dir, {});
    assert.notEqual(second.dir, first.dir, 'a new name each start: nothing another user could prepare in advance');
    assert.equal(fs.existsSync(first.dir), false, 'the released directory is gone');
    releaseControlSocket(dir, second);
    assert.equal(fs.existsSync(controlPointerPath(dir)), false, 'the pointer goes at stop');
  });

  it('a long data dir with a private XDG_RUNTIME_DIR uses $XDG_RUNTIME_DIR/sealpost-<hash>/ (0700)', () => {
    const runtime = fs.mkdtempSync(path.join(runtimeBase, 'r'));
    const dir = longDataDir(path.join(scratch, 'long2'));
    const where = prepareControlSocket(dir, { XDG_RUNTIME_DIR: runtime });
    assert.equal(where.kind, 'runtime');
    assert.match(where.dir, new RegExp(`^${runtime}/sealpost-[0-9a-f]{24}$`));
    assert.equal(mode(where.dir), 0o700);
    releaseControlSocket(dir, where);
  });

  it('a data dir others can enter is not used for the socket', () => {
    const dir = fs.mkdtempSync(path.join(scratch, 'open-'));
    fs.chmodSync(dir, 0o755);
    const where = prepareControlSocket(dir, {});
    assert.equal(where.kind, 'private-tmp');
    releaseControlSocket(dir, where);
  });

  it('refuses a runtime socket directory that is group/world accessible or owned by someone else', () => {
    const runtime = fs.mkdtempSync(path.join(runtimeBase, 'r'));
    const dir = longDataDir(path.join(scratch, 'long3'));
    const first = prepareControlSocket(dir, { XDG_RUNTIME_DIR: runtime });
    releaseControlSocket(dir, first);
    fs.mkdirSync(first.dir, { mode: 0o700 });
    fs.chmodSync(first.dir, 0o777);
    assert.throws(() => prepareControlSocket(dir, { XDG_RUNTIME_DIR: runtime }), (e: unknown) => e instanceof ControlPermissionError && /can be reached by other users \(mode 0777\)/.test(e.message));
    if (isRoot) {
      fs.chmodSync(first.dir, 0o700);
      fs.chownSync(first.dir, NOBODY, NOBODY);
      assert.throws(() => prepareControlSocket(dir, { XDG_RUNTIME_DIR: runtime }), (e: unknown) => e instanceof ControlPermissionError && /belongs to uid 65534/.test(e.message));
    }
  });

  it('privacyProblem: a symlink is not a directory; group bits count', () => {
    const target = fs.mkdtempSync(path.join(scratch, 't-'));
    const link = path.join(scratch, 'link');
    fs.symlinkSync(target, link);
    assert.equal(privacyProblem(link, 'directory'), 'is a symbolic link');
    fs.chmodSync(target, 0o750);
    assert.equal(privacyProblem(target, 'directory'), 'can be reached by other users (mode 0750)');
    fs.chmodSync(target, 0o700);
    assert.equal(privacyProblem(target, 'directory'), null);
  });
});

describe('a real serve on a long data dir, and the real CLI', () => {
  let inst: Instance;
  let dataDir: string;
  let socketDir: string;

  before(async () => {
    dataDir = longDataDir(path.join(scratch, 'serve'));
    inst = await createInstance({ dir: dataDir, env: { XDG_RUNTIME_DIR: '' }, logLevel: 'info' });
    await inst.start();
    const socket = fs.readFileSync(controlPointerPath(dataDir), 'utf8').trim();
    socketDir = path.dirname(socket);
  });

  after(async () => {
    await inst?.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('the socket is in a private 0700 directory named in a 0600 pointer, not at a predictable /tmp path', () => {
    assert.ok(Buffer.byteLength(path.join(dataDir, 'control.sock')) > 108, 'the data dir is too long for <data>/control.sock');
    assert.equal(fs.existsSync(path.join(dataDir, 'control.sock')), false);
    assert.equal(mode(controlPointerPath(dataDir)), 0o600);
    assert.match(path.basename(socketDir), /^sealpost-[0-9a-f]{24}$/);
    assert.equal(mode(socketDir), 0o700);
    assert.equal(fs.statSync(socketDir).uid, process.getuid?.());
    assert.ok(fs.lstatSync(path.join(socketDir, 'control.sock')).isSocket());
    assert.equal(mode(path.join(socketDir, 'control.sock')), 0o600);
    assert.equal(mode(controlTokenPath(dataDir)), 0o600);
    assert.deepEqual(fs.readdirSync('/tmp').filter((name) => name.startsWith('sealpost-control-')), [], 'nothing at the old predictable /tmp/sealpost-control-<hash>.sock');
  });

  it('the CLI reaches the server through it (the operation runs in the server)', async () => {
    const before = inst.logs.filter((l) => l.includes('"event":"control.op"')).length;
    const locked = await inst.cli(['alias', 'lock', '--all', '--json']);
    assert.equal(locked.code, 0, locked.stderr);
    assert.deepEqual(JSON.parse(locked.stdout), { locked: 0 });
    assert.equal(inst.logs.filter((l) => l.includes('"event":"control.op"')).length, before + 1, 'the server logged the CLI operation');
  });

  it('the CLI refuses a socket directory with mode 0777, in one sentence saying what to do', async () => {
    fs.chmodSync(socketDir, 0o777);
    try {
      const refused = await inst.cli(['alias', 'lock', '--all', '--json']);
      assert.equal(refused.code, 1);
      assert.equal(
        refused.stderr,
        `error: Refusing to use the control socket directory ${socketDir}: it can be reached by other users (mode 0777); run this command as the user running the server, and if that is you, stop the server, make the socket directory private (chmod 700 for a directory, 600 for a file) and start it again.\n`,
      );
      assert.equal(refused.stdout, '');
    } finally {
      fs.chmodSync(socketDir, 0o700);
    }
  });

  it('the CLI refuses a socket directory owned by another uid', { skip: isRoot ? false : 'needs root to chown' }, async () => {
    fs.chownSync(socketDir, NOBODY, NOBODY);
    try {
      const refused = await inst.cli(['alias', 'lock', '--all']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^error: Refusing to use the control socket directory .*: it belongs to uid 65534, not to you \(uid 0\); run this command as the user running the server/);
    } finally {
      fs.chownSync(socketDir, 0, 0);
    }
  });

  it('the CLI refuses a socket owned by another uid, and a token file others can read', async (t) => {
    const socket = path.join(socketDir, 'control.sock');
    if (isRoot) {
      fs.lchownSync(socket, NOBODY, NOBODY);
      try {
        const refused = await inst.cli(['alias', 'lock', '--all']);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /^error: Refusing to use the control socket .*control\.sock: it belongs to uid 65534/);
      } finally {
        fs.lchownSync(socket, 0, 0);
      }
    } else {
      t.diagnostic('socket chown case skipped: needs root');
    }
    fs.chmodSync(controlTokenPath(dataDir), 0o644);
    try {
      const refused = await inst.cli(['alias', 'lock', '--all']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^error: Refusing to use the control token file .*control\.token: it can be reached by other users \(mode 0644\)/);
    } finally {
      fs.chmodSync(controlTokenPath(dataDir), 0o600);
    }
    const again = await inst.cli(['alias', 'lock', '--all', '--json']);
    assert.equal(again.code, 0, `works again once private: ${again.stderr}`);
  });

  it('serve refuses a runtime socket directory others can reach', async () => {
    const runtime = fs.mkdtempSync(path.join(runtimeBase, 'r'));
    const other = longDataDir(path.join(scratch, 'serve2'));
    const probe = prepareControlSocket(other, { XDG_RUNTIME_DIR: runtime });
    releaseControlSocket(other, probe);
    fs.mkdirSync(probe.dir, { mode: 0o700 });
    fs.chmodSync(probe.dir, 0o777);
    const env: NodeJS.ProcessEnv = { ...inst.env, SEALPOST_DATA: other, XDG_RUNTIME_DIR: runtime };
    for (const name of ['SEALPOST_SMTP_PORT', 'SEALPOST_IMAP_PORT', 'SEALPOST_POP3_PORT']) env[name] = '0';
    const serve = await runCli(['serve'], { env, timeoutMs: 30_000 });
    assert.equal(serve.code, 1);
    assert.match(serve.stderr, new RegExp(`error: Refusing to put the control socket in ${probe.dir}: it can be reached by other users \\(mode 0777\\); remove that directory`));
  });
});
