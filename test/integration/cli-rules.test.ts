// `sealpost alias rules` (no server running: the CLI opens the mailbox itself with the alias password): put a
// Sieve script from a file and make it active, list, show, refuse a script the checker rejects (with its line),
// refuse deleting the active one, turn rules off, delete. Errors are one line with what to do.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDataDir } from '../helpers/sealpost-cli.js';
import { findPlaintext } from '../helpers/privacy.js';

const ADDRESS = 'alice@rules-cli.test';
let data: ReturnType<typeof tempDataDir>;
let password = '';
let scriptFile = '';
let badFile = '';

const rules = (args: string[], stdin = `${password}\n`) => runCli(['alias', 'rules', ADDRESS, ...args, '--password-stdin', '--data', data.dir], { env: data.env, stdin });

function assertUserError(result: { code: number | null; stderr: string }, message: RegExp): void {
  assert.notEqual(result.code, 0);
  const lines = result.stderr.trim().split('\n');
  assert.ok(lines.length <= 2, `one sentence and a hint at most:\n${result.stderr}`);
  assert.match(result.stderr, message);
  assert.doesNotMatch(result.stderr, /\s+at .*:\d+:\d+/, 'no stack trace');
}

describe('sealpost alias rules', () => {
  before(async () => {
    data = tempDataDir();
    assert.equal((await runCli(['domain', 'add', 'rules-cli.test', '--data', data.dir], { env: data.env })).code, 0);
    const added = await runCli(['alias', 'add', ADDRESS, '--json', '--data', data.dir], { env: data.env });
    assert.equal(added.code, 0, added.stderr);
    password = (JSON.parse(added.stdout) as { password: string }).password;
    scriptFile = path.join(data.dir, '..', `${path.basename(data.dir)}-filter.sieve`);
    badFile = `${scriptFile}.bad`;
    fs.writeFileSync(scriptFile, 'require ["fileinto"];\nif header :contains "subject" "wombat-receipt" { fileinto "Receipts"; }\n');
    fs.writeFileSync(badFile, 'keep;\nfileinto "x";\n');
  });

  after(() => {
    for (const f of [scriptFile, badFile]) fs.rmSync(f, { force: true });
    data?.cleanup();
  });

  it('puts a script from a file and makes it active; list and show print it', async () => {
    const put = await rules(['put', 'filter', scriptFile, '--activate']);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, /^filter \(active\) /m);
    const shown = await rules(['show', 'filter']);
    assert.equal(shown.stdout, fs.readFileSync(scriptFile, 'utf8'));
    const listed = await rules(['list', '--json']);
    assert.deepEqual((JSON.parse(listed.stdout) as { scripts: { name: string; active: boolean }[] }).scripts.map((s) => [s.name, s.active]), [['filter', true]]);
  });

  it('refuses a script the Sieve checker rejects, deleting the active script, a wrong password and a missing name', async () => {
    assertUserError(await rules(['put', 'bad', badFile]), /line 2/);
    assertUserError(await rules(['delete', 'filter']), /active script cannot be deleted/);
    assertUserError(await rules(['list'], 'not-the-password\n'), /password|Invalid/i);
    assertUserError(await rules(['show']), /needs a script name/);
    assertUserError(await rules(['frobnicate']), /Unknown rules action/);
  });

  it('turns rules off, then deletes the script', async () => {
    assert.match((await rules(['off'])).stdout, /^filter {2}/m);
    const deleted = await rules(['delete', 'filter']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, /No scripts: all mail goes to the inbox\./);
  });

  it('privacy: the script text is not in plaintext in the data dir', () => {
    assert.deepEqual(findPlaintext(data.dir, ['wombat-receipt', password], { exclude: (f) => f.endsWith('.pem') }), []);
  });
});
