// sealpost doctor on a headless machine: no keychain → key-file fallback warned about; plaintext databases caught.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3-multiple-ciphers';
import { freePorts } from '../helpers/ports.js';
import { runCli, tempDataDir } from '../helpers/sealpost-cli.js';

let data: ReturnType<typeof tempDataDir>;
let env: NodeJS.ProcessEnv;

before(async () => {
  data = tempDataDir();
  // A machine without a Secret Service: no app key in the environment, keychain on but unreachable.
  env = { ...data.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/sealpost-test-bus' };
  delete env.SEALPOST_APP_KEY;
  env.SEALPOST_KEYCHAIN = 'on'; // really try the keychain (the test runner's SEALPOST_TEST=1 would otherwise skip it)
  delete env.DISPLAY;
  env.SEALPOST_HOSTNAME = 'doctorbox'; // a bare name: doctor asks no DNS server (this machine's own name might be fully qualified)
  const ports = await freePorts(8);
  const names = ['SMTP', 'SUBMISSION', 'SUBMISSIONS', 'IMAP', 'IMAPS', 'POP3', 'POP3S', 'ADMIN'];
  names.forEach((name, i) => (env[`SEALPOST_${name}_PORT`] = String(ports[i])));
});
after(() => data.cleanup());

describe('sealpost doctor', () => {
  it('falls back to a 0600 key file without a keychain, and doctor repeats the warning', async () => {
    assert.equal((await runCli(['domain', 'add', 'example.test'], { env })).code, 0);
    assert.equal((await runCli(['alias', 'add', 'alice@example.test'], { env })).code, 0);
    const keyFile = path.join(data.dir, 'app.key');
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);

    // One listener's port is taken: doctor reports it as a warning, not a failure.
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(Number(env.SEALPOST_IMAP_PORT), '127.0.0.1', resolve));
    try {
      const doctor = await runCli(['doctor'], { env });
      assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
      const lines = doctor.stdout.trim().split('\n');
      const line = (check: string): string => lines.find((l) => l.includes(`${check}:`)) ?? assert.fail(`no ${check} line in:\n${doctor.stdout}`);
      assert.match(line('app key'), /^warn +app key: from a key file in the data dir\. The app key is stored in .*app\.key/);
      assert.match(line('permissions'), /^ok /);
      assert.match(line('directory'), /^ok +directory: sealpost\.db opens with the app key \(1 domain, 1 alias\)/);
      assert.match(line('ports'), new RegExp(`^warn +ports: .*imap ${env.SEALPOST_IMAP_PORT} \\(in use`));
      assert.match(line('rclone'), /^(ok|warn) +rclone: /);
      assert.match(line('encryption'), /^ok +encryption: \d+ database files \(1 mailbox\) unreadable without their keys\./);
      assert.ok(!doctor.stdout.includes('alice'), 'doctor prints no address');
    } finally {
      blocker.close();
    }
  });

  it('fails when a database file in the data dir is readable without a key', async () => {
    const plain = path.join(data.dir, 'mailboxes', `${crypto.randomUUID()}.sqlite`);
    const db = new Database(plain);
    db.exec('CREATE TABLE t (x)');
    db.close();
    fs.chmodSync(plain, 0o600);
    const doctor = await runCli(['doctor', '--json'], { env });
    assert.equal(doctor.code, 1);
    const checks = JSON.parse(doctor.stdout) as { status: string; check: string; message: string }[];
    const encryption = checks.find((c) => c.check === 'encryption');
    assert.equal(encryption?.status, 'fail');
    assert.match(encryption?.message ?? '', new RegExp(`readable without a key: mailboxes/${path.basename(plain)}`));
  });
});
