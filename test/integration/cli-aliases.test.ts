// The CLI as a user runs it: bin/sealpost in a child process on a temp data dir.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDataDir } from '../helpers/sealpost-cli.js';

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
let data: ReturnType<typeof tempDataDir>;

/** One line on stderr, starting "error:", no stack trace, non-zero exit. */
function assertUserError(result: { code: number | null; stderr: string }, message: RegExp): void {
  assert.notEqual(result.code, 0);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], message);
  assert.ok(!/\bat .+:\d+:\d+/.test(result.stderr), 'no stack trace');
}

before(() => {
  data = tempDataDir();
});
after(() => data.cleanup());

describe('sealpost domain / alias', () => {
  let alice: { id: string; address: string; password: string };

  it('domain add example.test && alias add alice@example.test --json prints a generated password once', async () => {
    const domain = await runCli(['domain', 'add', 'example.test', '--data', data.dir], { env: data.env });
    assert.equal(domain.code, 0, domain.stderr);
    assert.equal(domain.stdout, 'added domain example.test\n');
    const added = await runCli(['alias', 'add', 'alice@example.test', '--json', '--data', data.dir], { env: data.env });
    assert.equal(added.code, 0, added.stderr);
    alice = JSON.parse(added.stdout) as typeof alice;
    assert.deepEqual(Object.keys(alice).sort(), ['address', 'id', 'password']);
    assert.equal(alice.address, 'alice@example.test');
    assert.match(alice.password, /^[a-z0-9-]+$/, 'easy to type, no quotes');
    assert.ok(alice.password.replace(/-/g, '').length * 5 >= 128, 'at least 128 bits');
  });

  it('sealpost.db and the mailbox file contain neither the address nor a readable SQLite header', () => {
    const mailboxes = fs.readdirSync(path.join(data.dir, 'mailboxes')).filter((f) => f.endsWith('.sqlite'));
    assert.equal(mailboxes.length, 1);
    assert.match(mailboxes[0], /^[0-9a-f-]{36}\.sqlite$/, 'named by a uuid, not the address');
    for (const file of [path.join(data.dir, 'sealpost.db'), path.join(data.dir, 'mailboxes', mailboxes[0])]) {
      const bytes = fs.readFileSync(file);
      assert.ok(!bytes.subarray(0, 16).equals(SQLITE_HEADER), `${file} has a plain SQLite header`);
      for (const needle of ['alice', 'example.test', alice.password]) assert.ok(!bytes.includes(needle), `${file} contains ${needle}`);
      assert.equal(fs.statSync(file).mode & 0o077, 0, 'owner-only file');
    }
  });

  it('answers bad input with one clear sentence and a non-zero exit', async () => {
    const env = data.env;
    const d = ['--data', data.dir];
    // (Every address/size/domain error message is covered in-process by test/unit/{directory,cli}-*.)
    const duplicate = await runCli(['alias', 'add', 'ALICE@Example.test', ...d], { env });
    assertUserError(duplicate, /The alias alice@example\.test already exists\./);
    const unknownDomain = await runCli(['alias', 'add', 'bob@nowhere.test', ...d], { env });
    assertUserError(unknownDomain, /The domain nowhere\.test is not set up here; add it first with: sealpost domain add nowhere\.test/);
    const weak = await runCli(['alias', 'add', 'not an address', '--password-stdin', ...d], { env, stdin: 'password1\n' });
    assertUserError(weak, /"not an address" is not a mail address/);
    const weakPassword = await runCli(['alias', 'add', 'bob@example.test', '--password-stdin', ...d], { env, stdin: 'password1\n' });
    assertUserError(weakPassword, /password is too short/);
    assert.equal(fs.readdirSync(path.join(data.dir, 'mailboxes')).filter((f) => f.endsWith('.sqlite')).length, 1, 'no stray mailbox files');
  });

  it('a chosen password via --password-stdin, a quota, and list --json', async () => {
    const added = await runCli(['alias', 'add', 'Bob@Example.test', '--password-stdin', '--quota', '50M', '--json', '--data', data.dir], { env: data.env, stdin: 'correct Horse battery 42\n' });
    assert.equal(added.code, 0, added.stderr);
    const bob = JSON.parse(added.stdout) as Record<string, string>;
    assert.equal(bob.address, 'bob@example.test');
    assert.equal(bob.password, undefined, 'a chosen password is never printed');
    const list = await runCli(['alias', 'list', '--json', '--data', data.dir], { env: data.env });
    assert.equal(list.code, 0, list.stderr);
    const rows = JSON.parse(list.stdout) as { address: string; quotaBytes: number | null; enabled: boolean }[];
    assert.deepEqual(rows.map((r) => [r.address, r.quotaBytes, r.enabled]), [
      ['alice@example.test', null, true],
      ['bob@example.test', 50 * 1024 * 1024, true],
    ]);
    assert.ok(!list.stdout.includes('password') && !list.stdout.includes('salt'), 'no secrets listed');
  });

  it('alias passwd re-keys with OLD and NEW read from stdin; a wrong old password is refused', async () => {
    const wrong = await runCli(['alias', 'passwd', 'alice@example.test', '--password-stdin', '--data', data.dir], { env: data.env, stdin: 'not the password\nanother Good passphrase 7\n' });
    assertUserError(wrong, /Invalid address or password\./);
    const changed = await runCli(['alias', 'passwd', 'alice@example.test', '--password-stdin', '--data', data.dir], { env: data.env, stdin: `${alice.password}\nanother Good passphrase 7\n` });
    assert.equal(changed.code, 0, changed.stderr);
    assert.equal(changed.stdout, 'changed the password of alice@example.test\n');
    // Without --password-stdin: the current password from stdin, a new one generated and printed once.
    const generated = await runCli(['alias', 'passwd', 'alice@example.test', '--json', '--data', data.dir], { env: data.env, stdin: 'another Good passphrase 7\n' });
    assert.equal(generated.code, 0, generated.stderr);
    const result = JSON.parse(generated.stdout) as { password?: string };
    assert.ok(result.password && result.password.length >= 26);
  });

  it('the wrong app key cannot open the directory', async () => {
    const wrongKey = { ...data.env, SEALPOST_APP_KEY: crypto.randomBytes(32).toString('hex') };
    const result = await runCli(['domain', 'list', '--data', data.dir], { env: wrongKey });
    assertUserError(result, /app key does not open sealpost\.db/);
  });

  it('alias remove deletes the mailbox file; domain remove refuses while aliases remain', async () => {
    const inUse = await runCli(['domain', 'remove', 'example.test', '--data', data.dir], { env: data.env });
    assertUserError(inUse, /still has 2 aliases; remove them first/);
    const removed = await runCli(['alias', 'remove', 'bob@example.test', '--data', data.dir], { env: data.env });
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(fs.readdirSync(path.join(data.dir, 'mailboxes')).filter((f) => f.endsWith('.sqlite')).length, 1);
  });

  it('every command explains itself with --help', async () => {
    const help = await runCli(['alias', 'passwd', '--help'], { env: data.env });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--password-stdin/);
    assert.match(help.stdout, /--data <dir>/);
    assert.match(help.stdout, /current password then the new one/);
  });
});
