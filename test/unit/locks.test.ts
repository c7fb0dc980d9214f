// The two cross-process locks (server/locks.ts) against a second real process: a holder excludes others, and
// a holder killed with SIGKILL never keeps anything locked.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isLocked, tryKernelLock, tryLock, waitForLock } from '../../server/locks.js';

const childScript = fileURLToPath(new URL('../helpers/lock-holder-child.ts', import.meta.url));

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-locks-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Starts a child holding the lock; resolves once it says whether it got it. */
async function holder(kind: 'kernel' | 'file', file: string): Promise<{ child: ChildProcess; said: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, kind, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const said = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`lock holder exited (${String(code)}) before answering`)));
  });
  return { child, said };
}

async function killHard(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

test('a kernel lock excludes a second holder, stays an empty 0600 file, and is free the moment its holder is killed -9', async () => {
  const file = path.join(dir, 'outbound.sqlite.worker');
  const { child, said } = await holder('kernel', file);
  try {
    assert.equal(said, 'held');
    assert.equal(tryKernelLock(file), null, 'another process holds it');
  } finally {
    await killHard(child);
  }
  const mine = tryKernelLock(file);
  assert.ok(mine, 'free at once after the holder died');
  try {
    assert.equal(tryKernelLock(file), null, 'not re-entrant within a process either');
    assert.equal(fs.statSync(file).size, 0);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  } finally {
    mine.release();
    mine.release();
  }
  const again = tryKernelLock(file);
  assert.ok(again, 'released');
  again.release();
});

test('a lock file excludes others while its holder lives and is taken over once the holder was killed -9', async () => {
  const file = path.join(dir, 'mailboxes', 'm.sqlite.lock');
  const { child, said } = await holder('file', file);
  try {
    assert.equal(said, 'held');
    assert.equal(isLocked(file), true);
    assert.equal(tryLock(file, 'second'), null);
    assert.equal(await waitForLock(file, 'second', 120), null, 'still held after waiting');
  } finally {
    await killHard(child);
  }
  assert.equal(fs.existsSync(file), true, 'the dead holder left its lock file');
  assert.equal(isLocked(file), false, 'a lock whose pid is gone is stale');
  const mine = tryLock(file, 'after crash');
  assert.ok(mine, 'stale lock taken over');
  assert.equal(isLocked(file), true);
  mine.release();
  assert.equal(fs.existsSync(file), false);
});
