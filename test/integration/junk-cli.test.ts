// `sealpost junk train`, `status` and `on|off` with the real bin/sealpost: a folder of imported mail is learned
// once (running it again counts nothing twice), a locked mailbox and bad flags get one sentence and what to do.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findPlaintext } from '../helpers/privacy.js';
import { runCli, tempDataDir } from '../helpers/sealpost-cli.js';

const address = 'owner@junk-cli.test';
const PASSWORD = 'tidy-Orbit-9-walrus-Lantern';
const WORD = 'zqcometlottery';
const data = tempDataDir();
const d = ['--data', data.dir];

function mbox(count: number): string {
  let out = '';
  for (let n = 0; n < count; n++) {
    out += `From sender@example.org Mon Jan  1 00:00:00 2024\nFrom: prize${n}@spam.example\nTo: ${address}\nSubject: ${WORD} prize ${n}\nMessage-ID: <p${n}@spam.example>\n\nYou won the ${WORD} jackpot number ${n}, claim now\n\n`;
  }
  return out;
}

before(async () => {
  assert.equal((await runCli(['domain', 'add', 'junk-cli.test', ...d], { env: data.env })).code, 0);
  const added = await runCli(['alias', 'add', address, '--password-stdin', ...d], { env: data.env, stdin: `${PASSWORD}\n` });
  assert.equal(added.code, 0, added.stderr);
  const file = path.join(data.dir, '..', `${path.basename(data.dir)}-spam.mbox`);
  fs.writeFileSync(file, mbox(4));
  const imported = await runCli(['import', address, file, '--folder', 'Junk', '--password-stdin', ...d], { env: data.env, stdin: `${PASSWORD}\n` });
  fs.rmSync(file);
  assert.equal(imported.code, 0, imported.stderr);
});

after(() => data.cleanup());

describe('sealpost junk', () => {
  it('trains a folder as spam once and reports the counts', async () => {
    const train = await runCli(['junk', 'train', address, '--spam', '--folder', 'Junk', '--password-stdin', '--json', ...d], { env: data.env, stdin: `${PASSWORD}\n` });
    assert.equal(train.code, 0, train.stderr);
    const result = JSON.parse(train.stdout) as { trained: number; spamMessages: number; hamMessages: number; tokens: number };
    assert.equal(result.trained, 4);
    assert.equal(result.spamMessages, 4);
    assert.ok(result.tokens > 10);
    const again = await runCli(['junk', 'train', address, '--spam', '--folder', 'Junk', '--password-stdin', ...d], { env: data.env, stdin: `${PASSWORD}\n` });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /0 messages trained as spam; now 4 spam, 0 ham/);
    const status = await runCli(['junk', 'status', address, '--password-stdin', ...d], { env: data.env, stdin: `${PASSWORD}\n` });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /owner@junk-cli\.test: 4 trained as spam, 0 as ham, \d+ tokens/);
  });

  it('a locked mailbox, both or neither of --spam/--ham and an unknown folder each get one sentence and what to do', async () => {
    const locked = await runCli(['junk', 'status', address, ...d], { env: data.env });
    assert.notEqual(locked.code, 0);
    assert.match(locked.stderr, /is locked/);
    assert.match(locked.stderr, /Log in with a mail client/);
    assert.doesNotMatch(locked.stderr, /\n\s+at /, 'no stack trace');
    const both = await runCli(['junk', 'train', address, '--spam', '--ham', '--folder', 'Junk', ...d], { env: data.env });
    assert.notEqual(both.code, 0);
    assert.match(both.stderr, /exactly one of --spam or --ham/);
    const noFolder = await runCli(['junk', 'train', address, '--ham', '--folder', 'Nope', '--password-stdin', ...d], { env: data.env, stdin: `${PASSWORD}\n` });
    assert.notEqual(noFolder.code, 0);
    assert.match(noFolder.stderr, /has no folder named "Nope"/);
  });

  it('junk off and junk on switch the alias\'s filter (no password needed: the switch is in the directory); an unknown address is one sentence', async () => {
    const off = await runCli(['junk', 'off', address, '--json', ...d], { env: data.env });
    assert.equal(off.code, 0, off.stderr);
    assert.deepEqual(JSON.parse(off.stdout), { address, on: false });
    const on = await runCli(['junk', 'on', address, ...d], { env: data.env });
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stdout, /owner@junk-cli\.test: junk filter on/);
    const unknown = await runCli(['junk', 'off', 'nobody@junk-cli.test', ...d], { env: data.env });
    assert.notEqual(unknown.code, 0);
    assert.doesNotMatch(unknown.stderr, /\n\s+at /, 'no stack trace');
    const missing = await runCli(['junk', 'off', ...d], { env: data.env });
    assert.notEqual(missing.code, 0);
  });

  it('privacy: the trained word is not readable in the data dir', () => {
    assert.deepEqual(findPlaintext(data.dir, [WORD, PASSWORD]), []);
  });
});
