// App passwords end to end against a running Sealpost (MX, IMAP, POP3, submission, admin API, CLI over the
// control socket) with real clients: imapflow, Python poplib, nodemailer, curl-like HTTP. One per device,
// each unlocks the mailbox for IMAP (RFC 9051 §6.2.3 LOGIN), POP3 (RFC 1939 §7 PASS) and submission
// (RFC 4954 AUTH), never for the admin; revoking one ends its IMAP session with BYE (RFC 9051 §7.1.5) at once;
// a master password change keeps them working; mail sealed while locked drains after an app-password login.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import type { AppContext } from '../../server/context.js';
import type { AliasRecord } from '../../server/directory/index.js';
import net from 'node:net';
import { AdminClient } from '../helpers/admin-http.js';
import { RawImap } from '../helpers/imap-raw.js';
import { waitForExists } from '../helpers/imap-wait.js';
import { findPlaintext } from '../helpers/privacy.js';
import { runCli } from '../helpers/sealpost-cli.js';
import { LOCAL_DOMAIN, makeDkimKey, message, sendNodemailer, senderZones, startMxApp, type MxApp } from './mx-fixture.js';

const run = promisify(execFile);
const ADDRESS = `dana@${LOCAL_DOMAIN}`;
const OTHER = `erin@${LOCAL_DOMAIN}`;
const MASTER = 'Harbour-lantern-77-quiet-Orbit';
const NEW_MASTER = 'Second-harbour-88-Orbit-lamps';
const OTHER_PASSWORD = 'Kestrel-walrus-42-tidy-Lantern';
const UI_TOKEN = crypto.randomBytes(24).toString('hex');
const MAX = 4;

let app: MxApp;
let ctx: AppContext;
let alias: AliasRecord;
let admin: AdminClient;
/** name → app password, every one made in this run (the privacy sweep looks for them all). */
const made = new Map<string, string>();

function imap(pass: string, user = ADDRESS): ImapFlow {
  const client = new ImapFlow({ host: '127.0.0.1', port: app.port('imap'), secure: false, doSTARTTLS: false, auth: { user, pass }, logger: false });
  client.on('error', () => undefined);
  return client;
}

async function imapWorks(pass: string, user = ADDRESS): Promise<boolean> {
  const client = imap(pass, user);
  try {
    await client.connect();
    await client.logout();
    return true;
  } catch {
    return false;
  }
}

/** The promise, or a failure naming what never happened (a bound, not a timing assertion). */
function within<T>(promise: Promise<T>, what: string, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen`)), ms)));
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

async function cli(args: readonly string[], stdin?: string): Promise<string> {
  const result = await runCli(args, { env: app.env, ...(stdin !== undefined ? { stdin } : {}) });
  assert.equal(result.code, 0, `sealpost ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

before(async () => {
  app = await startMxApp({
    zones: senderZones(makeDkimKey('good.test')),
    listeners: ['smtp', 'imap', 'pop3', 'submission', 'admin'],
    env: { SEALPOST_SMTP_AUTH_CHECKS: 'off', SEALPOST_UI_TOKEN: UI_TOKEN, SEALPOST_APP_PASSWORDS_MAX: String(MAX), SEALPOST_LOGIN_EXEMPT_LOOPBACK: 'off', SEALPOST_LOGIN_FREE_FAILURES: '1', SEALPOST_LOGIN_PAIR_LOCK_AFTER: '4', SEALPOST_LOGIN_MAX_DELAY_MS: '50' },
  });
  ctx = app.running.ctx;
  ctx.directory.addDomain(LOCAL_DOMAIN);
  alias = (await ctx.accounts.createAlias(ADDRESS, MASTER)).alias;
  await ctx.accounts.createAlias(OTHER, OTHER_PASSWORD);
  admin = new AdminClient(`http://127.0.0.1:${app.port('admin')}`);
  const signedIn = await admin.get(`/auth/token?t=${UI_TOKEN}`);
  assert.equal(signedIn.status, 303, signedIn.text);
});

after(async () => {
  await app?.stop();
});

describe('app passwords', () => {
  test('made with the CLI and the admin API: shown once as letter groups, listed with no secret', async () => {
    const added = JSON.parse(await cli(['alias', 'app-password', 'add', ADDRESS, 'Phone', '--password-stdin', '--json'], `${MASTER}\n`)) as { appPassword: { id: string; name: string }; password: string };
    assert.match(added.password, /^[a-z]{4}(-[a-z]{4}){6}$/);
    assert.equal(added.appPassword.name, 'Phone');
    made.set('Phone', added.password);

    const viaApi = await admin.post(`/api/aliases/${alias.id}/app-passwords`, { name: 'Laptop', password: MASTER });
    assert.equal(viaApi.status, 201, viaApi.text);
    assert.equal(viaApi.headers.get('cache-control'), 'no-store');
    made.set('Laptop', (viaApi.json as { password: string }).password);

    const listed = await admin.get(`/api/aliases/${alias.id}/app-passwords`);
    assert.deepEqual((listed.json as { name: string }[]).map((a) => a.name), ['Phone', 'Laptop']);
    assert.ok(!listed.text.includes(added.password.slice(0, 9)), 'the list carries no password');
    const text = await cli(['alias', 'app-password', 'list', ADDRESS]);
    assert.match(text, /Phone\tcreated .*\tnever used/);
  });

  test('locked mailbox: mail arriving by MX is sealed, an IMAP login with an app password drains it and reads it', async () => {
    await cli(['alias', 'lock', ADDRESS]);
    assert.equal(ctx.accounts.isUnlocked(alias.id), false);
    const raw = message({ from: 'news@good.test', to: ADDRESS, subject: 'sealed while locked', body: 'the body of the sealed one' });
    await sendNodemailer(app.port('smtp'), { from: 'news@good.test', to: [ADDRESS] }, raw);
    assert.equal(ctx.accounts.queuedCount(alias), 1, 'sealed into the queue');
    const client = imap(made.get('Phone')!);
    await client.connect(); // RFC 9051 §6.2.3: LOGIN answered OK
    try {
      await client.mailboxOpen('INBOX');
      await waitForExists(client, 1);
      const read = await client.fetchOne('1', { source: true });
      assert.ok(read && read.source?.toString('utf8').includes('the body of the sealed one'));
    } finally {
      await client.logout();
    }
    assert.equal(ctx.accounts.queuedCount(alias), 0);
    const row = ctx.accounts.listAppPasswords(alias.id).find((a) => a.name === 'Phone')!;
    assert.ok(row.lastUsed, 'last use recorded');
    assert.equal(row.lastIp, '127.0.0.1');
  });

  test('POP3 PASS (RFC 1939 §7, Python poplib) and submission AUTH (RFC 4954, nodemailer) accept an app password', async () => {
    await cli(['alias', 'lock', ADDRESS]);
    const script = `import poplib\np = poplib.POP3("127.0.0.1", ${app.port('pop3')}, timeout=30)\np.user(${JSON.stringify(ADDRESS)})\np.pass_(${JSON.stringify(made.get('Laptop')!)})\nprint(p.stat()[0])\np.quit()\n`;
    const pop = await run('python3', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(pop.stdout.trim(), '1');

    await cli(['alias', 'lock', ADDRESS]);
    const sent = await nodemailer
      .createTransport({ host: '127.0.0.1', port: app.port('submission'), secure: false, requireTLS: true, auth: { user: ADDRESS, pass: made.get('Laptop')! }, tls: { rejectUnauthorized: false } })
      .sendMail({ from: ADDRESS, to: ADDRESS, subject: 'sent with an app password', text: 'note to self' });
    assert.deepEqual(sent.accepted, [ADDRESS]);
  });

  test('the admin refuses an app password: admin login, alias unlock, making another app password', async () => {
    await cli(['alias', 'lock', ADDRESS]);
    const login = await new AdminClient(admin.base).post('/api/auth/login', { password: made.get('Phone')! });
    assert.notEqual(login.status, 200);
    const unlock = await admin.post(`/api/aliases/${alias.id}/unlock`, { password: made.get('Phone')! });
    assert.equal(unlock.status, 403, unlock.text);
    const another = await admin.post(`/api/aliases/${alias.id}/app-passwords`, { name: 'Sneaky', password: made.get('Phone')! });
    assert.equal(another.status, 403, another.text);
    assert.equal(ctx.accounts.isUnlocked(alias.id), false);
    const passwd = await runCli(['alias', 'passwd', ADDRESS, '--password-stdin'], { env: app.env, stdin: `${made.get('Phone')!}\n${NEW_MASTER}\n` });
    assert.notEqual(passwd.code, 0, 'a password change is refused with an app password as the current one');
  });

  test('revoking ends its live IMAP session with BYE (RFC 9051 §7.1.5) and its POP3 session at once, and refuses it; the others and the master still work', async () => {
    const raw = await RawImap.connect(app.port('imap'));
    assert.match((await raw.command(`LOGIN "${ADDRESS}" "${made.get('Phone')!}"`)).tagged, /^t1 OK/);
    assert.match((await raw.command('SELECT INBOX')).tagged, /^t2 OK/);
    const pop = net.connect(app.port('pop3'), '127.0.0.1');
    const popText: string[] = [];
    pop.setEncoding('latin1').on('data', (d: string) => popText.push(d));
    const popClosed = new Promise<void>((resolve) => pop.once('close', () => resolve()));
    const popSaid = async (pattern: RegExp): Promise<void> => {
      for (let i = 0; i < 200 && !pattern.test(popText.join('')); i++) await new Promise((resolve) => setTimeout(resolve, 25));
      assert.match(popText.join(''), pattern);
    };
    await popSaid(/^\+OK/);
    pop.write(`USER ${ADDRESS}\r\nPASS ${made.get('Phone')!}\r\n`);
    await popSaid(/\+OK[^\r]*\r\n\+OK[^\r]*\r\n\+OK/);
    const phone = imap(made.get('Phone')!);
    await phone.connect();
    await phone.mailboxOpen('INBOX');
    const laptop = imap(made.get('Laptop')!);
    await laptop.connect();
    await laptop.mailboxOpen('INBOX');
    const closed = new Promise<void>((resolve) => phone.once('close', () => resolve()));
    const out = await cli(['alias', 'app-password', 'revoke', ADDRESS, 'Phone']);
    assert.match(out, /revoked app password "Phone" .*ended 3 open session/);
    await within(closed, 'the revoked IMAP session ending'); // the server said BYE and closed the connection
    const after: string[] = [];
    for (let line = await raw.readLine(); line !== ''; line = await raw.readLine()) after.push(line);
    assert.ok(after.includes('* BYE This app password was revoked'), after.join(' | '));
    await within(popClosed, 'the revoked POP3 session ending');
    assert.equal(laptop.usable, true, 'the other device stays connected');
    await laptop.noop();
    await laptop.logout();
    assert.equal(await imapWorks(made.get('Phone')!), false, 'refused at the next login');
    assert.equal(await imapWorks(made.get('Laptop')!), true);
    assert.equal(await imapWorks(MASTER), true);
  });

  test('after the master password changes the app passwords still open the re-keyed mailbox', async () => {
    await cli(['alias', 'passwd', ADDRESS, '--password-stdin'], `${MASTER}\n${NEW_MASTER}\n`);
    await cli(['alias', 'lock', ADDRESS]);
    const client = imap(made.get('Laptop')!);
    await client.connect();
    try {
      const status = await client.status('INBOX', { messages: true });
      assert.equal(status.messages, 2);
    } finally {
      await client.logout();
    }
    assert.equal(await imapWorks(MASTER), false);
    assert.equal(await imapWorks(NEW_MASTER), true);
  });

  test('an Apple profile for a device carries a fresh app password named after it, which logs in', async () => {
    const profile = await admin.post(`/api/aliases/${alias.id}/app-passwords/mobileconfig`, { name: 'iPad', password: NEW_MASTER });
    assert.equal(profile.status, 200, profile.text);
    assert.match(profile.headers.get('content-type') ?? '', /application\/x-apple-aspen-config/);
    const password = /<key>IncomingPassword<\/key><string>([a-z-]+)<\/string>/.exec(profile.text)?.[1];
    assert.ok(password, 'the profile holds the password');
    made.set('iPad', password);
    assert.equal(await imapWorks(password), true);
    assert.ok(ctx.accounts.listAppPasswords(alias.id).some((a) => a.name === 'iPad'));
  });

  test('hostile: odd and huge names, a flood over the per-alias cap, bad ids — each refused in words, nothing stored', async () => {
    for (const name of ['', 'x'.repeat(65), 'a\u0000b', 'line\r\nbreak', '../../etc', '\u202egnp.exe']) {
      const r = await admin.post(`/api/aliases/${alias.id}/app-passwords`, { name, password: NEW_MASTER });
      assert.equal(r.status, 400, `${JSON.stringify(name)}: ${r.text}`);
      assert.ok(!/at .*\.ts:\d+/.test(r.text), 'no stack trace');
    }
    const nested = await admin.post(`/api/aliases/${alias.id}/app-passwords`, { name: JSON.parse(`${'{"a":'.repeat(500)}1${'}'.repeat(500)}`) as unknown, password: NEW_MASTER });
    assert.equal(nested.status, 400, nested.text);
    await ctx.accounts.lock(alias.id);
    const lockedNoProof = await admin.post(`/api/aliases/${alias.id}/app-passwords`, { name: 'No proof' });
    assert.equal(lockedNoProof.status, 409, 'a locked mailbox needs its password to make one');
    assert.match(lockedNoProof.text, /ALIAS_LOCKED/);
    const huge = await admin.request('POST', `/api/aliases/${alias.id}/app-passwords`, undefined, { rawBody: JSON.stringify({ name: 'n'.repeat(200_000), password: NEW_MASTER }), headers: { 'content-type': 'application/json' } });
    assert.ok(huge.status === 400 || huge.status === 413, `huge body: ${huge.status}`);
    // Laptop and iPad exist; the flood fills the cap and the rest is refused.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await admin.post(`/api/aliases/${alias.id}/app-passwords`, { name: `Device ${i}`, password: NEW_MASTER });
      statuses.push(r.status);
      if (r.status === 201) made.set(`Device ${i}`, (r.json as { password: string }).password);
      else assert.match(r.text, /APP_PASSWORD_LIMIT/);
    }
    assert.deepEqual(statuses, [201, 201, 400, 400, 400, 400]);
    assert.equal(ctx.accounts.listAppPasswords(alias.id).length, MAX);
    const cliOver = await runCli(['alias', 'app-password', 'add', ADDRESS, 'One more', '--password-stdin'], { env: app.env, stdin: `${NEW_MASTER}\n` });
    assert.notEqual(cliOver.code, 0);
    assert.match(cliOver.stderr, /revoke one first/);
    assert.ok(!/\n\s+at /.test(cliOver.stderr), 'one sentence, no stack trace');
    const badId = await admin.delete(`/api/aliases/${alias.id}/app-passwords/${crypto.randomUUID()}`);
    assert.equal(badId.status, 404, badId.text);
    const notUuid = await admin.delete(`/api/aliases/${alias.id}/app-passwords/..%2F..`);
    assert.ok(notUuid.status === 400 || notUuid.status === 404, String(notUuid.status));
  });

  test('a wrong app password is throttled like a wrong password: the pair locks, even the right one is then refused', async () => {
    const created = await ctx.accounts.unlock(OTHER, OTHER_PASSWORD).then(() => admin.post(`/api/aliases/${ctx.directory.requireAlias(OTHER).id}/app-passwords`, { name: 'Phone' }));
    assert.equal(created.status, 201, created.text);
    const right = (created.json as { password: string }).password;
    made.set('Erin phone', right);
    await ctx.accounts.lock(ctx.directory.requireAlias(OTHER).id);
    const wrong = 'abcd-efgh-ijkl-mnop-qrst-uvwx-yzab';
    for (let i = 0; i < 4; i++) assert.equal(await imapWorks(wrong, OTHER), false);
    const client = imap(right, OTHER);
    await assert.rejects(client.connect(), (error: Error & { responseText?: string; serverResponseCode?: string }) => /too many|try again/i.test(`${error.responseText ?? ''} ${error.message}`) || error.serverResponseCode === 'UNAVAILABLE');
    const failed = app.logs.filter((l) => l.includes('"auth.failed"'));
    assert.ok(failed.length >= 4, 'each failure is a security log line');
  });

  test('one audit line per operation, the same from the CLI and the admin API (ids only)', () => {
    const lines = app.logs.filter((l) => l.includes('"op.app-password.')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const adds = lines.filter((l) => l.event === 'op.app-password.add' && l.outcome === 'ok');
    assert.deepEqual([...new Set(adds.map((l) => l.via))].sort(), ['admin', 'cli']);
    for (const l of adds) assert.deepEqual(Object.keys(l).filter((k) => !['level', 'time', 'pid', 'hostname', 'msg'].includes(k)).sort(), ['aliasId', 'appPasswordId', 'event', 'outcome', 'via']);
    const revokes = lines.filter((l) => l.event === 'op.app-password.revoke' && l.outcome === 'ok');
    assert.equal(revokes.length, 1);
    assert.equal(revokes[0]!.sessions, 3);
  });

  test('privacy: no app password (any form) and no device name in plaintext in the data dir or the logs', async () => {
    await ctx.accounts.lock('all');
    const secrets = [...made.values()].flatMap((p) => [p, p.replace(/-/g, '')]);
    const names = ['Laptop', 'iPad', 'Device 0'];
    assert.deepEqual(findPlaintext(app.dir, [...secrets, ...names, MASTER, NEW_MASTER], { logs: app.logs }), []);
  });
});
