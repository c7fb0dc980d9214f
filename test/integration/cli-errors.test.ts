// Every CLI failure a user can cause is one line on stderr — what went wrong, then what to do — a non-zero
// exit, no stack trace, and nothing written where nothing should be (a usage error from the option parser
// adds one line pointing at --help). Each case spawns the real bin/sealpost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SEALPOST_BIN, runCli, tempDataDir, type CliResult } from '../helpers/sealpost-cli.js';
import { regularFilesUnder } from '../helpers/privacy.js';

const data = tempDataDir();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-cli-errors-'));
let password = '';

before(async () => {
  assert.equal((await sealpost(['domain', 'add', 'example.test'])).code, 0);
  const added = await sealpost(['alias', 'add', 'alice@example.test', '--json']);
  assert.equal(added.code, 0, added.stderr);
  password = (JSON.parse(added.stdout) as { password: string }).password;
});
after(() => {
  data.cleanup();
  fs.rmSync(scratch, { recursive: true, force: true });
});

function sealpost(args: readonly string[], options: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return runCli(['--data', data.dir, ...args], { env: { ...data.env, ...options.env }, ...(options.stdin !== undefined ? { stdin: options.stdin } : {}) });
}

/** Spawns the CLI as another user (uid/gid), with a private HOME/TMPDIR that user owns. */
function sealpostAs(uid: number, args: readonly string[], home: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, TMPDIR: home, SEALPOST_KEYCHAIN: 'off', SEALPOST_APP_KEY: data.env.SEALPOST_APP_KEY };
    const child = spawn(process.execPath, [SEALPOST_BIN, ...args], { env, uid, gid: uid, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Makes better-sqlite3's native binding fail to load the way a wrong build does: the real dlopen gets a file that is no shared object. */
function brokenSqliteLoader(): string {
  const fake = path.join(scratch, 'better_sqlite3.node');
  fs.writeFileSync(fake, Buffer.alloc(4096, 0x41));
  const hook = path.join(scratch, 'break-sqlite.mjs');
  fs.writeFileSync(
    hook,
    `const realDlopen = process.dlopen;
process.dlopen = function (module, filename, ...rest) {
  return realDlopen.call(this, module, String(filename).includes('better_sqlite3') ? ${JSON.stringify(fake)} : filename, ...rest);
};
`,
  );
  return hook;
}

/** Makes a dependency of the CLI itself unresolvable (a broken install): a module resolve hook that refuses "commander". */
function missingDependencyLoader(): string {
  const hook = path.join(scratch, 'no-commander.mjs');
  fs.writeFileSync(hook, `export async function resolve(specifier, context, next) {
  if (specifier === 'commander') throw new Error("Cannot find package 'commander' imported from " + context.parentURL);
  return next(specifier, context);
}
`);
  const register = path.join(scratch, 'register-no-commander.mjs');
  fs.writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hook).href)});\n`);
  return register;
}

/** The contract every case checks: non-zero exit, one "error: …" line (a usage error: + one --help line), no stack frames. */
function assertOneSentence(name: string, r: CliResult, expected: RegExp, whatToDo?: RegExp): void {
  assert.notEqual(r.code, 0, `${name}: exit code`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `${name}: no stack frames in\n${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  const usage = lines.length === 2 && /^See the usage with: sealpost [a-z ]+ --help$/.test(lines[1] ?? '');
  assert.ok(lines.length === 1 || usage, `${name}: one line (or a usage error and its --help line), got\n${r.stderr}`);
  assert.match(lines[0] ?? '', /^error: /, name);
  assert.match(lines[0] ?? '', expected, name);
  if (whatToDo) assert.match(usage ? (lines[1] as string) : (lines[0] as string), whatToDo, `${name}: what to do`);
  assert.equal(r.stdout, '', `${name}: nothing on stdout`);
}

const count = (dir: string): number => (fs.existsSync(dir) ? regularFilesUnder(dir).length : 0);

test('every CLI error is one sentence plus what to do, a non-zero exit, no stack trace, and writes nothing it should not', async () => {
  const file = path.join(scratch, 'regular-file');
  fs.writeFileSync(file, 'not a directory');
  const notCreated = path.join(scratch, 'never-created');
  const cut = path.join(scratch, 'cut.mbox');
  fs.writeFileSync(cut, 'From a@example.test Thu Aug 10 12:34:56 2023\nSubject: one\nMessage-ID: <1@x>\n\nbody\n\nFrom a@example.test Thu Aug 10 12:34:57 2023\nSubject: tw');
  const damagedZip = path.join(scratch, 'damaged.zip');
  fs.writeFileSync(damagedZip, Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(200, 0x20)]));
  const noSeparator = path.join(scratch, 'plain.mbox');
  fs.writeFileSync(noSeparator, 'From a@example.test Thu Aug 10 12:34:56 2023\nSubject: one\n\nbody\n\nFrom b\x01@x Thu Aug 10 12:34:56 2023\nSubject: two\n\nbody\n');

  const cases: { name: string; args: string[]; stdin?: string; env?: NodeJS.ProcessEnv; expected: RegExp; hint?: RegExp; after?: () => void }[] = [
    {
      name: '--data is a regular file',
      args: ['alias', 'list', '--data', file],
      expected: /^error: --data .*regular-file is a file, not a directory\. Give a directory/,
      hint: /Give a directory/,
      after: () => assert.equal(fs.readFileSync(file, 'utf8'), 'not a directory'),
    },
    {
      name: '--data under a regular file',
      args: ['alias', 'list', '--data', path.join(file, 'sub')],
      expected: /cannot be created: .*regular-file is a file, not a directory\. /,
    },
    {
      name: 'the SQLite native binding does not load',
      args: ['alias', 'list', '--data', notCreated],
      env: { NODE_OPTIONS: `--import=${brokenSqliteLoader()}` },
      expected: /^error: The SQLite module is not built for this Node\.js v\d+\.\d+\.\d+ \(.+\); run `npm rebuild better-sqlite3-multiple-ciphers` in \//,
      after: () => assert.ok(!fs.existsSync(path.join(notCreated, 'sealpost.db')), 'no directory database was created'),
    },
    {
      name: 'a dependency of the CLI does not load (last-resort handler)',
      args: ['alias', 'list'],
      env: { NODE_OPTIONS: `--import=${missingDependencyLoader()}` },
      expected: /^error: Sealpost could not start: Cannot find package 'commander'/,
      hint: /Run `npm install`.*SEALPOST_DEBUG=1/,
    },
    { name: 'unknown alias', args: ['backup', 'list', 'nobody@example.test'], expected: /^error: There is no alias nobody@example\.test\. List the aliases with: sealpost alias list\.$/ },
    { name: 'unknown option', args: ['backup', 'now', '--bogus'], expected: /^error: unknown option '--bogus'$/, hint: /sealpost backup now --help/ },
    { name: 'bad choice', args: ['export', 'alice@example.test', '--format', 'zip', '--out', path.join(scratch, 'x')], expected: /argument 'zip' is invalid\. Allowed choices are sqlite, mbox, eml\./, hint: /sealpost export --help/ },
    { name: 'bad size', args: ['alias', 'add', 'bob@example.test', '--quota', 'lots'], expected: /^error: The quota "lots" is not a size like 500M, 2G or 1048576\.$/ },
    { name: 'bad retention', args: ['remote', 'add', 'r', '--type', 's3', '--bucket', 'abc', '--access-key-id', 'x', '--endpoint', 'http://127.0.0.1:9', '--retention', 'zz'], stdin: 'secret\n', expected: /^error: retention "zz" is not like 7d,4w,12m/ },
    { name: 'bad port', args: ['serve', '--imap-port', '99999'], expected: /^error: --imap-port must be a port number from 0 to 65535/ },
    { name: 'a file to import that does not exist', args: ['import', 'alice@example.test', path.join(scratch, 'nope.mbox'), '--password-stdin'], stdin: `${password}\n`, expected: /nope\.mbox does not exist\. Check the path/ },
    {
      name: 'a truncated mbox',
      args: ['import', 'alice@example.test', cut, '--password-stdin'],
      stdin: `${password}\n`,
      expected: /^error: cut\.mbox is not a valid mbox file: line 8 ends the file inside the header of the message that starts at line 7 \(the file looks cut off\)\. Nothing was imported; repair the file/,
    },
    {
      name: 'an mbox with a control byte in a separator line',
      args: ['import', 'alice@example.test', noSeparator, '--password-stdin'],
      stdin: `${password}\n`,
      expected: /^error: plain\.mbox is not a valid mbox file: line 6 is a "From " separator line with bytes that are not printable ASCII\. Nothing was imported/,
    },
    {
      name: 'a damaged zip',
      args: ['import', 'alice@example.test', damagedZip, '--password-stdin'],
      stdin: `${password}\n`,
      expected: /^error: damaged\.zip is not a readable zip file \(.+\)\. Nothing was imported/,
    },
    {
      name: 'a generation that does not exist (no remote configured)',
      args: ['restore', 'alice@example.test', '20240101T000000.000Z', '--password-stdin'],
      stdin: `${password}\n`,
      expected: /^error: Generation 20240101T000000\.000Z does not exist for alice@example\.test: list the generations with "sealpost backup list alice@example\.test"\.$/,
    },
    { name: 'a generation id that is malformed', args: ['backup', 'verify', 'alice@example.test', 'yesterday'], expected: /^error: "yesterday" is not a generation id/ },
  ];
  for (const c of cases) {
    const r = await sealpost(c.args, { ...(c.stdin !== undefined ? { stdin: c.stdin } : {}), ...(c.env ? { env: c.env } : {}) });
    assertOneSentence(c.name, r, c.expected, c.hint);
    c.after?.();
  }
  assert.ok(!fs.existsSync(notCreated) || count(notCreated) === 0, 'no file in a data dir whose SQLite could not load');
  // Nothing was imported: the mailbox holds no message (an mbox export of it has no separator line).
  const out = path.join(scratch, 'after');
  const exported = await sealpost(['export', 'alice@example.test', '--format', 'mbox', '--out', out, '--password-stdin'], { stdin: `${password}\n` });
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(exported.stdout, /^exported 0 message\(s\)/);
});

test('SEALPOST_DEBUG=1 adds the stack trace that is otherwise left out', async () => {
  const r = await sealpost(['alias', 'list'], { env: { NODE_OPTIONS: `--import=${missingDependencyLoader()}`, SEALPOST_DEBUG: '1' } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^error: Sealpost could not start: /);
  assert.match(r.stderr, /^\s+at /m, 'stack frames with SEALPOST_DEBUG=1');
});

test('a data directory this user may not write is refused in one sentence, and left untouched', { skip: process.getuid?.() === 0 ? false : 'needs root to run the CLI as another user' }, async () => {
  // Outside the private TMPDIR (0700, root's): the other user must be able to reach the directory to be refused by it.
  const base = fs.mkdtempSync('/tmp/sealpost-ro-');
  try {
    fs.chmodSync(base, 0o755);
    const readOnly = path.join(base, 'data');
    fs.mkdirSync(readOnly, { mode: 0o755 });
    const home = path.join(base, 'home');
    fs.mkdirSync(home, { mode: 0o700 });
    fs.chownSync(home, 65534, 65534);
    const r = await sealpostAs(65534, ['alias', 'list', '--data', readOnly], home);
    assertOneSentence('data dir not writable', r, /^error: The data directory .*\/data is not writable by this user \(uid 65534\)\. Run the command as the user that owns it, fix its owner or permissions, or give another directory with --data\.$/);
    assert.deepEqual(fs.readdirSync(readOnly), [], 'nothing written');
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('an uncaught error in a running serve: one line on stderr, the stack in a fatal JSON log line, exit 1', async () => {
  const hook = path.join(scratch, 'crash-later.mjs');
  // A real uncaught exception, thrown from a timer once serve is up (its control socket logged ready).
  fs.writeFileSync(
    hook,
    `import fs from 'node:fs';
import { isMainThread } from 'node:worker_threads';
if (isMainThread) {
  // serve's log lines go out through fs.writeSync on fd 1 (pino, sync).
  const writeSync = fs.writeSync;
  let armed = false;
  fs.writeSync = function (fd, chunk, ...rest) {
    if (!armed && fd === 1 && String(chunk).includes('control.listening')) {
      armed = true;
      setTimeout(() => { throw new Error('boom from a timer'); }, 200);
    }
    return writeSync.call(this, fd, chunk, ...rest);
  };
}
`,
  );
  const ports = ['--smtp-port', '--submission-port', '--submissions-port', '--imap-port', '--imaps-port', '--pop3-port', '--pop3s-port', '--admin-port'].flatMap((flag) => [flag, '0']);
  const r = await runCli(['serve', '--data', path.join(scratch, 'serve-data'), ...ports], { env: { ...data.env, SEALPOST_LOG_LEVEL: 'info', NODE_OPTIONS: `--import=${hook}` }, timeoutMs: 60_000 });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'error: boom from a timer. This looks like a bug in Sealpost: run the command again with SEALPOST_DEBUG=1 to see the details, and report them.\n');
  const crash = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { event?: string; level?: number; err?: { stack?: string } })
    .find((l) => l.event === 'app.crash');
  assert.equal(crash?.level, 60);
  assert.match(crash?.err?.stack ?? '', /boom from a timer\n\s+at /);
});
