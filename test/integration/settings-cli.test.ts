// The owner's switches from the command line, against a real `bin/sealpost serve`: `sealpost settings
// show|set` (POP3 deletes to Trash, sending as any address of the domain) and `sealpost alias sent-copy`, each
// checked by what a real client sees (Python poplib, nodemailer, imapflow); then "Restart Sealpost now"
// through the admin API: the IMAP port saved over the API is where a real client connects afterwards, mail
// accepted before is still there, open sessions got their protocol's goodbye, and the admin still answers.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { dataLayout } from '../../server/config/index.js';
import { Directory } from '../../server/directory/index.js';
import { AdminClient } from '../helpers/admin-http.js';
import { freePorts } from '../helpers/ports.js';
import { findPlaintext } from '../helpers/privacy.js';
import { connects, until } from '../helpers/reliability-harness.js';
import { runCli, startServe, tempDataDir, type CliResult, type ServeProcess, stopServe } from '../helpers/sealpost-cli.js';

const run = promisify(execFile);
const DOMAIN = 'switches.test';
const ALICE = `alice@${DOMAIN}`;
const BOB = `bob@${DOMAIN}`;
const PASSWORD = 'amber walrus quietly 4471';
const ADMIN_PASSWORD = 'lantern orchard pebble 5521';

let data: ReturnType<typeof tempDataDir>;
let serve: ServeProcess;
let ports: { smtp: number; submission: number; imap: number; pop3: number; admin: number; newImap: number };
const needles: string[] = [PASSWORD, ADMIN_PASSWORD];

const cli = (args: readonly string[], stdin?: string): Promise<CliResult> => runCli([...args, '--data', data.dir], { env: data.env, ...(stdin !== undefined ? { stdin } : {}) });

function assertOneSentence(result: CliResult, pattern: RegExp): void {
  assert.equal(result.code, 1, result.stdout);
  assert.match(result.stderr, pattern);
  assert.equal(result.stderr.trim().split('\n').length <= 2, true, result.stderr); // the sentence (and a hint line), no stack
  assert.doesNotMatch(result.stderr, /\bat \S+ \(/);
}

function unique(label: string): { subject: string; token: string } {
  const token = `tok${crypto.randomBytes(5).toString('hex')}`;
  needles.push(token);
  const subject = `Switch ${label} ${crypto.randomBytes(3).toString('hex')}`;
  needles.push(subject);
  return { subject, token };
}

function submission(user: string): nodemailer.Transporter {
  return nodemailer.createTransport({ host: '127.0.0.1', port: ports.submission, secure: false, ignoreTLS: true, auth: { user, pass: PASSWORD }, connectionTimeout: 10_000, socketTimeout: 30_000 });
}

async function imap<T>(port: number, fn: (client: ImapFlow) => Promise<T>): Promise<T> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user: ALICE, pass: PASSWORD }, logger: false });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.logout().catch(() => undefined);
  }
}

/** Subjects in a folder (by special use, or by path). */
async function subjectsIn(port: number, folder: { specialUse: string } | { path: string }): Promise<string[]> {
  return imap(port, async (client) => {
    const list = await client.list();
    const found = 'path' in folder ? list.find((f) => f.path === folder.path) : list.find((f) => f.specialUse === folder.specialUse);
    if (!found) return [];
    const lock = await client.getMailboxLock(found.path);
    try {
      const subjects: string[] = [];
      if ((client.mailbox && typeof client.mailbox === 'object' ? client.mailbox.exists : 0) === 0) return subjects;
      for await (const m of client.fetch('1:*', { envelope: true })) subjects.push(m.envelope?.subject ?? '');
      return subjects;
    } finally {
      lock.release();
    }
  });
}

describe('sealpost settings / alias sent-copy / restart against a running serve', () => {
  before(async () => {
    data = tempDataDir();
    const [smtp, sub, imapPort, pop3, admin, newImap] = await freePorts(6);
    ports = { smtp: smtp!, submission: sub!, imap: imapPort!, pop3: pop3!, admin: admin!, newImap: newImap! };
    const domainAdded = await cli(['domain', 'add', DOMAIN]);
    assert.equal(domainAdded.code, 0, domainAdded.stderr);
    for (const address of [ALICE, BOB]) {
      const added = await cli(['alias', 'add', address, '--password-stdin'], `${PASSWORD}\n`);
      assert.equal(added.code, 0, added.stderr);
    }
    // IMAP and admin ports come from saved settings (neither flag nor environment), so the API can move them.
    const directory = Directory.open(dataLayout(data.dir).directoryDb, Buffer.from(data.env.SEALPOST_APP_KEY!, 'hex'));
    directory.setSetting('imapPort', ports.imap);
    directory.setSetting('adminPort', ports.admin);
    directory.close();
    const env: NodeJS.ProcessEnv = {
      ...data.env,
      SEALPOST_SMTP_PORT: String(ports.smtp),
      SEALPOST_SUBMISSION_PORT: String(ports.submission),
      SEALPOST_POP3_PORT: String(ports.pop3),
      SEALPOST_SUBMISSIONS_PORT: '0',
      SEALPOST_IMAPS_PORT: '0',
      SEALPOST_POP3S_PORT: '0',
      SEALPOST_HTTP_PORT: '0',
      SEALPOST_HTTPS_PORT: '0',
      SEALPOST_HOSTNAME: 'mail.switches.test',
      SEALPOST_LOG_LEVEL: 'info',
      SEALPOST_SMTP_MAX_RECIPIENTS: '40', // a limit the environment sets: shown, never changed by saving
    };
    delete env.SEALPOST_IMAP_PORT;
    delete env.SEALPOST_ADMIN_PORT;
    serve = await startServe(['--data', data.dir], env, 5);
  });

  after(async () => {
    if (serve && serve.child.exitCode === null) {
      assert.equal(await stopServe(serve), 0, serve.output());
    }
    data?.cleanup();
  });

  it('settings show lists every switch by its plain name, off by default, with what it does', async () => {
    const shown = await cli(['settings', 'show']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^pop3-delete-to-trash\toff\tMail deleted by a POP3 app goes to Trash\n {2}When a POP3 app deletes/m);
    assert.match(shown.stdout, /^send-as-domain\toff\tMail apps may send as any address of their domain\n/m);
    assert.doesNotMatch(shown.stdout, /pop3DeleteToTrash|submissionAllowDomainSenders/);
    const json = JSON.parse((await cli(['settings', 'show', '--json'])).stdout) as { settings: { name: string; on: boolean }[]; limits: { name: string; value: number; setBy: string | null }[] };
    assert.deepEqual(json.settings.map((r) => [r.name, r.on]), [['pop3-delete-to-trash', false], ['send-as-domain', false]]);
    assert.deepEqual(json.limits.map((r) => [r.name, r.value, r.setBy]), [['max-message-size', 50 * 1024 * 1024, null], ['max-recipients', 40, 'SEALPOST_SMTP_MAX_RECIPIENTS'], ['sender-rate', 0, null]]);
    assert.match(shown.stdout, /^max-message-size\t50 MiB\tLargest incoming message\n/m);
    assert.match(shown.stdout, /^max-recipients\t40\tRecipients per incoming message \(set by SEALPOST_SMTP_MAX_RECIPIENTS in the environment; change it there\)\n/m);
  });

  it('a wrong name or value is one sentence that says what to do', async () => {
    assertOneSentence(await cli(['settings', 'set', 'pop3DeleteToTrashh', 'on']), /There is no setting "pop3DeleteToTrashh"; the settings are: pop3-delete-to-trash, send-as-domain, max-message-size, max-recipients, sender-rate\./);
    assertOneSentence(await cli(['settings', 'set', 'max-message-size', '10']), /Largest incoming message must be a whole number from 1024 to 1073741824 bytes, not 10\./);
    assertOneSentence(await cli(['settings', 'set', 'sender-rate', 'lots']), /sender-rate must be a whole number, or "default", not "lots"\./);
    assertOneSentence(await cli(['settings', 'set', 'send-as-domain', 'maybe']), /must be on or off, not "maybe"\./);
    assertOneSentence(await cli(['alias', 'sent-copy', ALICE, 'sometimes']), /The sent-copy switch must be on or off/);
    assertOneSentence(await cli(['alias', 'sent-copy', `nobody@${DOMAIN}`, 'on']), /nobody@switches\.test/);
  });

  it('send-as-domain: refused (RFC 5321 §3.3 MAIL FROM, 550 5.7.1) while off; accepted once on; off again refuses', async () => {
    const { subject, token } = unique('domain');
    const other = `desk@${DOMAIN}`; // no mailbox of its own
    const message = { from: other, to: ALICE, subject, text: `sent as the domain ${token}` };
    await assert.rejects(submission(BOB).sendMail(message), (err: Error & { responseCode?: number; response?: string }) => err.responseCode === 550 && /5\.7\.1/.test(err.response ?? ''));
    const on = await cli(['settings', 'set', 'send-as-domain', 'on']);
    assert.equal(on.code, 0, on.stderr);
    assert.equal(on.stdout, 'send-as-domain: on (Mail apps may send as any address of their domain)\n');
    await submission(BOB).sendMail(message);
    // Another domain stays refused: the switch is about the sender's own domain only.
    await assert.rejects(submission(BOB).sendMail({ ...message, from: 'desk@elsewhere.test' }), (err: Error & { responseCode?: number }) => err.responseCode === 550);
    await until('the domain-sender message in INBOX', async () => (await subjectsIn(ports.imap, { path: 'INBOX' })).includes(subject), 20_000);
    assert.equal((await cli(['settings', 'set', 'send-as-domain', 'off'])).code, 0);
    await assert.rejects(submission(BOB).sendMail(message), (err: Error & { responseCode?: number }) => err.responseCode === 550);
  });

  it('alias sent-copy on: what the alias sends over submission (nodemailer) is also in its Sent folder; off: not', async () => {
    const on = await cli(['alias', 'sent-copy', ALICE, 'on']);
    assert.equal(on.code, 0, on.stderr);
    assert.equal(on.stdout, `${ALICE}: a copy of sent mail goes to Sent\n`);
    const kept = unique('kept');
    await submission(ALICE).sendMail({ from: ALICE, to: BOB, subject: kept.subject, text: kept.token });
    await until('the copy in Sent', async () => (await subjectsIn(ports.imap, { specialUse: '\\Sent' })).includes(kept.subject), 20_000);
    const off = await cli(['alias', 'sent-copy', ALICE, 'off', '--json']);
    assert.deepEqual(JSON.parse(off.stdout), { address: ALICE, saveSentCopy: false });
    const notKept = unique('notkept');
    await submission(ALICE).sendMail({ from: ALICE, to: BOB, subject: notKept.subject, text: notKept.token });
    assert.equal((await subjectsIn(ports.imap, { specialUse: '\\Sent' })).includes(notKept.subject), false);
  });

  it('pop3-delete-to-trash on: a message deleted with poplib (RFC 1939 DELE + QUIT) is in Trash, not gone', async () => {
    const { subject, token } = unique('pop3');
    await submission(BOB).sendMail({ from: BOB, to: ALICE, subject, text: token });
    await until('the POP3 message in INBOX', async () => (await subjectsIn(ports.imap, { path: 'INBOX' })).includes(subject), 20_000);
    assert.equal((await cli(['settings', 'set', 'pop3-delete-to-trash', 'on'])).code, 0);
    const script = [
      'import poplib',
      `p = poplib.POP3("127.0.0.1", ${ports.pop3}, timeout=30); p.user(${JSON.stringify(ALICE)}); p.pass_(${JSON.stringify(PASSWORD)})`,
      'n = len(p.list()[1])',
      'for i in range(1, n + 1):',
      `    if ${JSON.stringify(subject)}.encode() in b"\\n".join(p.top(i, 0)[1]): p.dele(i); print("deleted", i)`,
      'p.quit()',
    ].join('\n');
    const out = await run('python3', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
    assert.match(out.stdout, /deleted \d+/);
    assert.equal((await subjectsIn(ports.imap, { path: 'INBOX' })).includes(subject), false);
    assert.ok((await subjectsIn(ports.imap, { specialUse: '\\Trash' })).includes(subject), 'the deleted message is in Trash');
    assert.equal((await cli(['settings', 'set', 'pop3-delete-to-trash', 'off'])).code, 0);
  });

  it('restart (admin API): the saved IMAP port is used after it, accepted mail is kept, sessions got BYE, the admin answers', async () => {
    const admin = new AdminClient(`http://127.0.0.1:${ports.admin}`);
    const link = /(http:\/\/127\.0\.0\.1:\d+\/setup\?token=[A-Za-z0-9_-]+)/.exec(serve.output())?.[1];
    assert.ok(link, serve.output());
    await admin.get('/api/auth/state');
    const setup = await admin.post('/api/auth/setup', { token: new URL(link).searchParams.get('token'), password: ADMIN_PASSWORD });
    assert.equal(setup.status, 200, setup.text);

    const saved = await admin.put('/api/settings', { ports: { imap: ports.newImap } });
    assert.equal(saved.status, 200, saved.text);
    const view = saved.json as { restartRequired: boolean; pendingRestart: boolean; canRestart: boolean; run: string };
    assert.deepEqual([view.restartRequired, view.pendingRestart, view.canRestart], [true, true, true]);

    // Accepted (250) before the restart…
    const { subject, token } = unique('before-restart');
    await submission(BOB).sendMail({ from: BOB, to: ALICE, subject, text: token });
    // …and a session open while it happens (RFC 9051 §7.1.5: the server says BYE before it closes).
    const open = net.connect(ports.imap, '127.0.0.1');
    let said = '';
    open.setEncoding('utf8').on('data', (d: string) => (said += d));
    const closed = new Promise<void>((resolve) => open.once('close', () => resolve()));
    await until('the IMAP greeting', () => said.startsWith('* OK'), 10_000);

    const restarted = await admin.post('/api/restart');
    assert.equal(restarted.status, 200, restarted.text);
    assert.deepEqual(restarted.json, { restarting: true, admin: { scheme: 'http', host: '127.0.0.1', port: ports.admin } });
    await closed;
    assert.match(said, /\* BYE /);

    await until('the admin back with a new run', async () => {
      try {
        const r = await admin.get('/api/settings');
        return r.status === 200 && (r.json as { run: string }).run !== view.run;
      } catch {
        return false;
      }
    });
    const after = (await admin.get('/api/settings')).json as { running: { ports: { imap: number } }; pendingRestart: boolean };
    assert.deepEqual([after.running.ports.imap, after.pendingRestart], [ports.newImap, false]);
    assert.equal(await connects(ports.imap), false, 'the old IMAP port is closed');
    assert.ok((await subjectsIn(ports.newImap, { path: 'INBOX' })).includes(subject), 'mail accepted before the restart is in INBOX');
    assert.equal(serve.child.exitCode, null, 'the same process runs on');
    assert.match(serve.output(), /"event":"op\.restart","via":"admin","outcome":"ok"/);
  });

  it('restart refuses a port another program holds, and says which; from the CLI too', async () => {
    const admin = new AdminClient(`http://127.0.0.1:${ports.admin}`);
    // (a fresh client: the kept session is tested above; this one signs in with the password)
    await admin.get('/api/auth/state');
    assert.equal((await admin.post('/api/auth/login', { password: ADMIN_PASSWORD })).status, 200);
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      assert.equal((await admin.put('/api/settings', { ports: { imap: taken } })).status, 200);
      const refused = await admin.post('/api/restart');
      assert.equal(refused.status, 400, refused.text);
      assert.match((refused.json as { error: string }).error, new RegExp(`The imap listener cannot move to 127\\.0\\.0\\.1:${taken}: that port is in use`));
      assertOneSentence(await cli(['restart']), /The imap listener cannot move to/);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
    assert.equal((await admin.put('/api/settings', { ports: { imap: ports.newImap } })).status, 200);
    assert.equal(await connects(ports.newImap), true, 'still serving after the refusal');
    // `sealpost restart` over the control socket: answered before the server goes down, then back by itself.
    const before = ((await admin.get('/api/settings')).json as { run: string }).run;
    const restarted = await cli(['restart']);
    assert.equal(restarted.code, 0, restarted.stderr);
    assert.match(restarted.stdout, new RegExp(`^Sealpost is restarting with the saved settings\\.\nsmtp on 127\\.0\\.0\\.1:${ports.smtp}\n[^]*imap on 127\\.0\\.0\\.1:${ports.newImap}\n`));
    await until('a new run after sealpost restart', async () => {
      try {
        const r = await admin.get('/api/settings');
        return r.status === 200 && (r.json as { run: string }).run !== before;
      } catch {
        return false;
      }
    });
    assert.match(serve.output(), /"event":"op\.restart","via":"cli","outcome":"ok"/);
  });

  it('max-message-size applies after sealpost restart: the MX advertises the new SIZE (RFC 1870 §4); an env-set limit stays', async () => {
    const ehloSize = async (): Promise<string> => {
      const socket = net.connect(ports.smtp, '127.0.0.1');
      let said = '';
      let failed: Error | null = null;
      socket.on('error', (error) => (failed = error)); // refused while the server restarts: the caller tries again
      socket.setEncoding('utf8').on('data', (d: string) => (said += d));
      await until('the MX greeting', () => {
        if (failed) throw failed;
        return said.startsWith('220');
      }, 10_000);
      socket.write('EHLO client.switches.test\r\n');
      await until('the EHLO reply', () => /^250 /m.test(said), 10_000);
      socket.end('QUIT\r\n');
      return /^250[- ]SIZE (\d+)/m.exec(said)?.[1] ?? '';
    };
    assert.equal(await ehloSize(), String(50 * 1024 * 1024));
    const set = await cli(['settings', 'set', 'max-message-size', '2M']);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, 'max-message-size: 2 MiB (Largest incoming message); restart Sealpost to apply it (sealpost restart).\n');
    const envSet = await cli(['settings', 'set', 'max-recipients', '5']);
    assert.equal(envSet.stdout, 'max-recipients: saved, but SEALPOST_SMTP_MAX_RECIPIENTS in the environment sets it (40); change it there.\n');
    assert.equal(await ehloSize(), String(50 * 1024 * 1024), 'not before the restart');
    assert.equal((await cli(['restart'])).code, 0);
    await until('the new SIZE', async () => (await ehloSize().catch(() => '')) === String(2 * 1024 * 1024), 30_000);
    assert.equal((await cli(['settings', 'set', 'max-message-size', 'default'])).code, 0);
    assert.match(serve.output(), /"event":"op\.limit","via":"cli","outcome":"ok","setting":"smtpMaxSize","value":2097152/);
  });

  it('hostile requests: restart needs a session and the CSRF token; switches take known keys and booleans only', async () => {
    const anonymous = new AdminClient(`http://127.0.0.1:${ports.admin}`);
    await anonymous.get('/api/auth/state');
    assert.equal((await anonymous.post('/api/restart')).status, 401);
    const admin = new AdminClient(`http://127.0.0.1:${ports.admin}`);
    await admin.get('/api/auth/state');
    assert.equal((await admin.post('/api/auth/login', { password: ADMIN_PASSWORD })).status, 200);
    assert.equal((await admin.post('/api/restart', {}, { csrf: false })).status, 403);
    assert.equal((await admin.post('/api/restart', {}, { origin: 'http://evil.example' })).status, 403);
    for (const body of [{ mailLimits: { smtpMaxSize: 10 } }, { mailLimits: { smtpMaxSize: 2 ** 40 } }, { mailLimits: { smtpMaxRecipients: 1.5 } }, { mailLimits: { smtpTimeoutMs: 5 } }, { mailOptions: { nope: true } }, { mailOptions: { pop3DeleteToTrash: 'yes' } }, { mailOptions: {} }, { mailOptions: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, true])) }]) {
      const r = await admin.put('/api/settings', body);
      assert.equal(r.status, 400, r.text);
      assert.doesNotMatch(r.text, /\bat \S+ \(/);
    }
    const view = (await admin.get('/api/settings')).json as { mailOptions: { key: string; on: boolean }[]; run: string };
    assert.deepEqual(view.mailOptions.map((o) => [o.key, o.on]), [['pop3DeleteToTrash', false], ['submissionAllowDomainSenders', false]]);
    // Ten PATCHes of the sent copy in a row: each an audited operation, none restarts anything.
    const aliasId = ((await admin.get('/api/aliases')).json as { id: string; address: string }[]).find((a) => a.address === ALICE)!.id;
    for (let i = 0; i < 10; i++) assert.equal((await admin.patch(`/api/aliases/${aliasId}`, { saveSentCopy: i % 2 === 0 })).status, 200);
    assert.equal(((await admin.get('/api/settings')).json as { run: string }).run, view.run);
  });

  it('no password, subject or message text in plaintext in the data dir or the log', () => {
    assert.deepEqual(findPlaintext(data.dir, needles), []);
    for (const needle of needles) assert.equal(serve.output().includes(needle), false, `log holds ${needle.slice(0, 6)}…`);
  });
});
