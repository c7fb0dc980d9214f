// The sending CLI as a user runs it (bin/sealpost): DKIM records, relay set/test/clear with AUTH
// against a real SMTP server, outbound status; the relay password never lands on disk in plaintext.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startSmtpSink } from '../helpers/smtp-sink.js';
import { findPlaintext } from '../helpers/privacy.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/sealpost');

function cli(env: NodeJS.ProcessEnv, args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

test('domain dkim, relay set/test and outbound status from the command line', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  const sink = await startSmtpSink({ auth: { username: 'relayuser', password: 'Relay-Secret-77' } });
  const env = { ...process.env, SEALPOST_DATA: dir, SEALPOST_APP_KEY: crypto.randomBytes(32).toString('hex'), SEALPOST_KEYCHAIN: 'off', SEALPOST_LOG_LEVEL: 'error' };
  try {
    assert.equal((await cli(env, ['domain', 'add', 'sender.test'])).code, 0);
    const dkim = await cli(env, ['domain', 'dkim', 'sender.test', '--json']);
    assert.equal(dkim.code, 0, dkim.stderr);
    const records = (JSON.parse(dkim.stdout) as { records: { name: string; value: string; algorithm: string }[] }).records;
    assert.deepEqual(records.map((r) => r.algorithm), ['rsa', 'ed25519']);
    assert.match(records[0]?.name ?? '', /^sp\d{6}r\._domainkey\.sender\.test$/);
    assert.match(records[0]?.value ?? '', /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}$/);
    assert.match(records[1]?.value ?? '', /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);

    const set = await cli(env, ['relay', 'set', `127.0.0.1:${sink.port}`, '--tls', 'none', '--user', 'relayuser'], 'Relay-Secret-77\n');
    assert.equal(set.code, 0, set.stderr);
    const ok = await cli(env, ['relay', 'test']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /logged in/);
    const status = await cli(env, ['outbound', 'status']);
    assert.match(status.stdout, new RegExp(`via relay 127\\.0\\.0\\.1:${sink.port}`));
    assert.deepEqual(findPlaintext(dir, ['Relay-Secret-77']), [], 'the relay password is not on disk in plaintext');
    // (a refused login, relay clear and the other subcommands are covered in-process by test/unit/outbound-queue)
  } finally {
    await sink.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
