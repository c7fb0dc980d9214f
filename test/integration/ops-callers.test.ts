// Every owner operation is written once (server/ops) and has three callers: the CLI (real bin/sealpost over the
// control socket of a running `serve`), the admin API (real HTTP with session and CSRF against the same server)
// and the scheduler (the jobs' backup pass). Each test runs one operation through every caller that offers it and
// checks the same effect and the same audit line (`op.<name>`: same event and fields, only `via` differs).
// Callers that do not offer an operation: the scheduler only backs up (backup now with retention and push);
// the admin API has no import (it would need an upload of a plaintext archive) and no lock of every alias;
// push has the CLI (`remote push`), the admin API and the scheduler's push after its backup.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { pino } from 'pino';
import { closeContext, openContext } from '../../server/app.js';
import { runScheduledBackups } from '../../server/jobs/index.js';
import { DEFAULT_RETENTION, listGenerations } from '../../server/backup/index.js';
import { AdminClient } from '../helpers/admin-http.js';
import { freePort } from '../helpers/ports.js';
import { RELIABILITY_DOMAIN, createInstance, until, type Instance } from '../helpers/reliability-harness.js';
import { remotesOf } from '../../server/remote/index.js';
import { startS3rver, type S3rver } from './remote-fixture.js';

const ADMIN_PASSWORD = 'ferry copper window 5521';
const addr = (name: string): string => `${name}@${RELIABILITY_DOMAIN}`;
const NAMES = ['pw-cli', 'pw-admin', 'rm-cli', 'rm-admin', 'lock-cli', 'lock-admin', 'rem-cli', 'rem-admin', 'bk-cli', 'bk-admin', 'bk-sched', 'rs-cli', 'rs-admin', 'ex-cli', 'ex-admin', 'im-cli', 'q-cli', 'q-admin', 'en-cli', 'en-admin'];

type AuditLine = Record<string, unknown> & { event: string; via: string; outcome: string };

let inst: Instance;
let s3: S3rver;
let admin: AdminClient;
const ids = new Map<string, { id: string; mailboxId: string }>();

function pw(name: string): string {
  const value = inst.passwords.get(addr(name));
  assert.ok(value, `password of ${name}`);
  return value;
}

function id(name: string): string {
  const found = ids.get(addr(name));
  assert.ok(found, `id of ${name}`);
  return found.id;
}

function mailboxId(name: string): string {
  const found = ids.get(addr(name));
  assert.ok(found, `mailbox of ${name}`);
  return found.mailboxId;
}

function auditLinesIn(lines: readonly string[], event: string): AuditLine[] {
  const out: AuditLine[] = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    const parsed = JSON.parse(line) as Record<string, unknown>;
    if (parsed.event === event) out.push(parsed as AuditLine);
  }
  return out;
}

/** The single audit line of `event` about one alias, as written by the server for the given caller. */
function auditOf(event: string, via: string, aliasId: string | null, lines: readonly string[] = inst.logs): AuditLine {
  const found = auditLinesIn(lines, event).filter((l) => l.via === via && (aliasId === null || l.aliasId === aliasId));
  assert.equal(found.length, 1, `one ${event} line from ${via}: ${JSON.stringify(found)}`);
  return found[0]!;
}

/** What every caller must write alike: event, outcome and the fields, with the caller and per-alias ids left out. */
function comparable(line: AuditLine, ignore: readonly string[] = []): Record<string, unknown> {
  const skip = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'via', 'aliasId', 'mailboxId', 'service', ...ignore]);
  return Object.fromEntries(Object.entries(line).filter(([k]) => !skip.has(k)));
}

function fieldNames(line: AuditLine): string[] {
  return Object.keys(comparable(line)).sort();
}

async function cli(args: readonly string[], stdin?: string): Promise<string> {
  const result = await inst.cli(args, stdin);
  assert.equal(result.code, 0, `sealpost ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function job(started: { status: number; json: unknown; text: string }): Promise<unknown> {
  assert.equal(started.status, 202, started.text);
  const done = await admin.waitJob((started.json as { job: { id: string } }).job.id);
  assert.equal(done.state, 'done', `job: ${done.error}`);
  return done.result;
}

async function imapLogin(name: string, password: string): Promise<boolean> {
  const client = new ImapFlow({ host: '127.0.0.1', port: inst.ports.imap, secure: false, doSTARTTLS: false, auth: { user: addr(name), pass: password }, logger: false });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.logout();
    return true;
  } catch {
    return false;
  }
}

/** Adds a message to INBOX over IMAP (the mailbox is unlocked while the session lasts). */
async function appendOne(name: string, label: string): Promise<void> {
  const client = new ImapFlow({ host: '127.0.0.1', port: inst.ports.imap, secure: false, doSTARTTLS: false, auth: { user: addr(name), pass: pw(name) }, logger: false });
  client.on('error', () => undefined);
  await client.connect();
  await client.append('INBOX', Buffer.from(`From: x@example.org\r\nTo: ${addr(name)}\r\nSubject: ${label}\r\nMessage-ID: <${label}@example.org>\r\n\r\nbody ${label}\r\n`));
  await client.logout();
}

before(async () => {
  s3 = await startS3rver('ops-callers');
  const adminPort = await freePort();
  inst = await createInstance({ aliases: NAMES.map(addr), env: { SEALPOST_ADMIN_PORT: String(adminPort) } });
  // Ids before the server starts (one process per data dir).
  const ctx = await openContext({ env: { ...inst.env, SEALPOST_LOG_LEVEL: 'error' } }, { logger: pino({ level: 'silent' }) });
  try {
    for (const a of ctx.directory.listAliases()) ids.set(a.address, { id: a.id, mailboxId: a.mailboxId });
  } finally {
    await closeContext(ctx);
  }
  await inst.start();
  await until('the admin setup link', () => inst.logs.some((l) => l.includes('/setup?token=')), 30_000);
  const link = inst.logs.find((l) => l.includes('/setup?token='))!;
  const token = /token=([0-9A-Za-z_-]+)/.exec(link)![1];
  admin = new AdminClient(`http://127.0.0.1:${adminPort}`);
  await admin.get('/api/auth/state');
  const setup = await admin.post('/api/auth/setup', { token, password: ADMIN_PASSWORD });
  assert.equal(setup.status, 200, setup.text);
});

after(async () => {
  await inst?.cleanup();
  await s3?.stop();
});

describe('one operation, three callers: CLI (control socket), admin API (HTTP), scheduler', () => {
  it('passwd: the new password logs in and the old one does not, from the CLI and the admin API alike', async () => {
    const cliNew = `${pw('pw-cli')}-new`;
    await cli(['alias', 'passwd', addr('pw-cli'), '--password-stdin'], `${pw('pw-cli')}\n${cliNew}\n`);
    const adminNew = `${pw('pw-admin')}-new`;
    await job(await admin.post(`/api/aliases/${id('pw-admin')}/password`, { currentPassword: pw('pw-admin'), newPassword: adminNew }));
    for (const [name, fresh] of [['pw-cli', cliNew], ['pw-admin', adminNew]] as const) {
      assert.equal(await imapLogin(name, fresh), true, `${name}: new password`);
      assert.equal(await imapLogin(name, pw(name)), false, `${name}: old password refused`);
      inst.passwords.set(addr(name), fresh);
    }
    const fromCli = auditOf('op.passwd', 'cli', id('pw-cli'));
    const fromAdmin = auditOf('op.passwd', 'admin', id('pw-admin'));
    assert.deepEqual(comparable(fromCli), { event: 'op.passwd', outcome: 'ok', generated: false });
    assert.deepEqual(comparable(fromAdmin), comparable(fromCli));
  });

  it('remove: the alias and its mailbox file are gone, from the CLI and the admin API alike', async () => {
    await cli(['alias', 'remove', addr('rm-cli')]);
    const removed = await admin.delete(`/api/aliases/${id('rm-admin')}`, { confirm: addr('rm-admin') });
    assert.equal(removed.status, 200, removed.text);
    const left = ((await admin.get('/api/aliases')).json as { address: string }[]).map((a) => a.address);
    for (const name of ['rm-cli', 'rm-admin']) {
      assert.ok(!left.includes(addr(name)), `${name} listed no more`);
      assert.equal(fs.existsSync(path.join(inst.dir, 'mailboxes', `${mailboxId(name)}.sqlite`)), false, `${name}: mailbox file removed`);
    }
    const fromCli = auditOf('op.remove', 'cli', id('rm-cli'));
    assert.deepEqual(comparable(fromCli), { event: 'op.remove', outcome: 'ok' });
    assert.deepEqual(comparable(auditOf('op.remove', 'admin', id('rm-admin'))), comparable(fromCli));
  });

  it('lock: an unlocked mailbox is locked (one of one), from the CLI and the admin API alike', async () => {
    for (const name of ['lock-cli', 'lock-admin']) assert.equal((await admin.post(`/api/aliases/${id(name)}/unlock`, { password: pw(name) })).status, 200);
    const viaCli = JSON.parse(await cli(['alias', 'lock', addr('lock-cli'), '--json'])) as { locked: number };
    assert.equal(viaCli.locked, 1);
    const viaAdmin = await admin.post(`/api/aliases/${id('lock-admin')}/lock`);
    assert.equal((viaAdmin.json as { unlocked: boolean }).unlocked, false);
    for (const name of ['lock-cli', 'lock-admin']) assert.equal(((await admin.get(`/api/aliases/${id(name)}`)).json as { unlocked: boolean }).unlocked, false);
    const fromCli = auditOf('op.lock', 'cli', id('lock-cli'));
    assert.deepEqual(comparable(fromCli), { event: 'op.lock', outcome: 'ok', locked: 1 });
    assert.deepEqual(comparable(auditOf('op.lock', 'admin', id('lock-admin'))), comparable(fromCli));
  });

  it('remember: the keys are stored on this device and the alias is marked, from the CLI and the admin API alike', async () => {
    const viaCli = JSON.parse(await cli(['alias', 'remember', addr('rem-cli'), 'on', '--password-stdin', '--json'], `${pw('rem-cli')}\n`)) as { remember: boolean; where: string };
    assert.deepEqual([viaCli.remember, viaCli.where], [true, 'file']);
    const viaAdmin = await admin.patch(`/api/aliases/${id('rem-admin')}`, { remember: true, password: pw('rem-admin') });
    assert.equal(viaAdmin.status, 200, viaAdmin.text);
    for (const name of ['rem-cli', 'rem-admin']) assert.equal(((await admin.get(`/api/aliases/${id(name)}`)).json as { remember: boolean }).remember, true);
    const fromCli = auditOf('op.remember', 'cli', id('rem-cli'));
    assert.deepEqual(comparable(fromCli), { event: 'op.remember', outcome: 'ok', on: true, where: 'file' });
    assert.deepEqual(comparable(auditOf('op.remember', 'admin', id('rem-admin'))), comparable(fromCli));
  });

  it('quota: the alias shows the new limit, from the CLI and the admin API alike', async () => {
    const viaCli = JSON.parse(await cli(['alias', 'quota', addr('q-cli'), '3M', '--password-stdin', '--json'], `${pw('q-cli')}\n`)) as { quotaBytes: number };
    assert.equal(viaCli.quotaBytes, 3 * 1024 * 1024);
    const viaAdmin = await admin.patch(`/api/aliases/${id('q-admin')}`, { quotaBytes: 3 * 1024 * 1024, password: pw('q-admin') });
    assert.equal(viaAdmin.status, 200, viaAdmin.text);
    for (const name of ['q-cli', 'q-admin']) assert.equal(((await admin.get(`/api/aliases/${id(name)}`)).json as { quotaBytes: number | null }).quotaBytes, 3 * 1024 * 1024);
    const fromCli = auditOf('op.quota', 'cli', id('q-cli'));
    assert.deepEqual(comparable(fromCli), { event: 'op.quota', outcome: 'ok', quotaBytes: 3 * 1024 * 1024 });
    assert.deepEqual(comparable(auditOf('op.quota', 'admin', id('q-admin'))), comparable(fromCli));
  });

  it('disable: a disabled alias cannot log in, from the CLI and the admin API alike', async () => {
    await cli(['alias', 'disable', addr('en-cli')]);
    assert.equal((await admin.patch(`/api/aliases/${id('en-admin')}`, { enabled: false })).status, 200);
    for (const name of ['en-cli', 'en-admin']) {
      assert.equal(((await admin.get(`/api/aliases/${id(name)}`)).json as { enabled: boolean }).enabled, false);
      assert.equal(await imapLogin(name, pw(name)), false, `${name}: login refused while disabled`);
    }
    const fromCli = auditOf('op.enabled', 'cli', id('en-cli'));
    assert.deepEqual(comparable(fromCli), { event: 'op.enabled', outcome: 'ok', enabled: false });
    assert.deepEqual(comparable(auditOf('op.enabled', 'admin', id('en-admin'))), comparable(fromCli));
  });

  it('backup now: a second backup the same day replaces the first (retention applies), from the CLI and the admin API alike', async () => {
    for (const name of ['bk-cli', 'bk-admin']) await appendOne(name, `${name}-one`);
    await cli(['backup', 'now', addr('bk-cli')]);
    await job(await admin.post('/api/backups/run', { aliasId: id('bk-admin') }));
    const first = new Map(['bk-cli', 'bk-admin'].map((name) => [name, listGenerations(inst.dir, mailboxId(name)).map((g) => g.id)]));
    for (const name of ['bk-cli', 'bk-admin']) await appendOne(name, `${name}-two`);
    await cli(['backup', 'now', addr('bk-cli')]);
    await job(await admin.post('/api/backups/run', { aliasId: id('bk-admin') }));
    for (const name of ['bk-cli', 'bk-admin']) {
      const now = listGenerations(inst.dir, mailboxId(name)).map((g) => g.id);
      assert.equal(first.get(name)?.length, 1, `${name}: one generation after the first backup`);
      // One per day (7d,4w,12m): the newer generation of today is kept, the earlier one pruned.
      assert.equal(now.length, 1, `${name}: still one generation: ${now.join(',')}`);
      assert.notEqual(now[0], first.get(name)?.[0], `${name}: the new generation replaced the old`);
    }
    const lines = (via: string): AuditLine[] => auditLinesIn(inst.logs, 'op.backup').filter((l) => l.via === via);
    assert.equal(lines('cli').length, 2);
    assert.equal(lines('admin').length, 2);
    assert.deepEqual(comparable(lines('cli')[1]!), { event: 'op.backup', outcome: 'ok', kind: 'manual', aliases: 1, all: false, created: 1, unchanged: 0, failed: 0, pruned: 1, pushed: 0 });
    assert.deepEqual(comparable(lines('admin')[1]!), comparable(lines('cli')[1]!));
  });

  it('verify: a generation is intact and opens with the key, from the CLI and the admin API alike', async () => {
    const gen = (name: string): string => listGenerations(inst.dir, mailboxId(name)).at(-1)!.id;
    const viaCli = JSON.parse(await cli(['backup', 'verify', addr('bk-cli'), gen('bk-cli'), '--password-stdin', '--json'], `${pw('bk-cli')}\n`)) as { intact: boolean; decrypts: boolean | null };
    const viaAdmin = await admin.post(`/api/backups/${id('bk-admin')}/${gen('bk-admin')}/verify`, { password: pw('bk-admin') });
    assert.equal(viaAdmin.status, 200, viaAdmin.text);
    for (const report of [viaCli, viaAdmin.json as { intact: boolean; decrypts: boolean | null }]) assert.deepEqual([report.intact, report.decrypts], [true, true]);
    const fromCli = auditOf('op.verify', 'cli', id('bk-cli'));
    assert.deepEqual(comparable(fromCli, ['generation']), { event: 'op.verify', outcome: 'ok', decrypts: true, intact: true, problem: false });
    assert.deepEqual(comparable(auditOf('op.verify', 'admin', id('bk-admin')), ['generation']), comparable(fromCli, ['generation']));
  });

  it('restore: the mailbox is replaced and its state before is kept as a pre-restore generation, from the CLI and the admin API alike', async () => {
    for (const name of ['rs-cli', 'rs-admin']) {
      await appendOne(name, `${name}-kept`);
      await cli(['backup', 'now', addr(name)]);
    }
    const gen = (name: string): string => listGenerations(inst.dir, mailboxId(name)).at(-1)!.id;
    const viaCli = JSON.parse(await cli(['restore', addr('rs-cli'), gen('rs-cli'), '--password-stdin', '--json'], `${pw('rs-cli')}\n`).then((out) => out.trim().split('\n').at(-1)!)) as { restored: string; preRestore: string };
    const result = (await job(await admin.post(`/api/backups/${id('rs-admin')}/${gen('rs-admin')}/restore`, { password: pw('rs-admin') }))) as { mode: string; restored: string; preRestore: string };
    assert.equal(result.mode, 'replace');
    for (const [name, preRestore] of [['rs-cli', viaCli.preRestore], ['rs-admin', result.preRestore]] as const) {
      const kinds = listGenerations(inst.dir, mailboxId(name)).map((g) => [g.id, g.kind]);
      assert.ok(kinds.some(([g, kind]) => g === preRestore && kind === 'pre-restore'), `${name}: pre-restore generation kept: ${JSON.stringify(kinds)}`);
    }
    const fromCli = auditOf('op.restore', 'cli', id('rs-cli'));
    assert.deepEqual(comparable(fromCli, ['generation']), { event: 'op.restore', outcome: 'ok', folders: 0, remote: false, mode: 'replace' });
    assert.deepEqual(comparable(auditOf('op.restore', 'admin', id('rs-admin')), ['generation']), comparable(fromCli, ['generation']));
  });

  it('export: an encrypted SQLite file that is not plaintext SQLite, from the CLI and the admin API (download) alike', async () => {
    for (const name of ['ex-cli', 'ex-admin']) await appendOne(name, `${name}-msg`);
    const out = path.join(inst.dir, '..', `ops-export-${process.pid}.sqlite`);
    fs.rmSync(out, { force: true });
    await cli(['export', addr('ex-cli'), '--format', 'sqlite', '--out', out, '--password-stdin'], `${pw('ex-cli')}\n`);
    const made = (await job(await admin.post(`/api/backups/${id('ex-admin')}/export`, { password: pw('ex-admin') }))) as { download: string };
    const download = await admin.get(made.download);
    assert.equal(download.status, 200);
    const cliFile = fs.readFileSync(out);
    fs.rmSync(out, { force: true });
    for (const bytes of [cliFile, download.body]) {
      assert.ok(bytes.length > 4096, 'a mailbox file');
      assert.notEqual(bytes.subarray(0, 15).toString('latin1'), 'SQLite format 3', 'encrypted, not plaintext SQLite');
    }
    const fromCli = auditOf('op.export', 'cli', id('ex-cli'));
    assert.equal(fromCli.format, 'sqlite');
    assert.deepEqual(fieldNames(auditOf('op.export', 'admin', id('ex-admin'))), fieldNames(fromCli));
    assert.deepEqual(comparable(auditOf('op.export', 'admin', id('ex-admin'))), comparable(fromCli));
  });

  it('import: messages land in the mailbox (CLI only: the admin API and the scheduler do not offer it)', async () => {
    const archive = path.join(inst.dir, '..', `ops-import-${process.pid}.mbox`);
    fs.writeFileSync(archive, `From x@example.org Thu Jan  1 00:00:00 2026\nFrom: x@example.org\nSubject: imported\nMessage-ID: <imported-1@example.org>\n\nhello\n`);
    const out = await cli(['import', addr('im-cli'), archive, '--password-stdin', '--json'], `${pw('im-cli')}\n`);
    fs.rmSync(archive, { force: true });
    assert.match(out, /"imported":1/);
    assert.deepEqual(comparable(auditOf('op.import', 'cli', id('im-cli'))), { event: 'op.import', outcome: 'ok', imported: 1, skipped: 0, kind: 'mbox' });
  });

  it('a refused operation writes its audit line as failed with the error code, whoever calls', async () => {
    const gen = listGenerations(inst.dir, mailboxId('bk-cli')).at(-1)!.id;
    const viaCli = await inst.cli(['backup', 'verify', addr('bk-cli'), gen, '--password-stdin'], 'not the password\n');
    assert.notEqual(viaCli.code, 0);
    const viaAdmin = await admin.post(`/api/backups/${id('bk-admin')}/${listGenerations(inst.dir, mailboxId('bk-admin')).at(-1)!.id}/verify`, { password: 'not the password' });
    assert.ok(viaAdmin.status >= 400 && viaAdmin.status < 500, viaAdmin.text);
    const failed = (via: string, aliasId: string): AuditLine => {
      const lines = auditLinesIn(inst.logs, 'op.verify').filter((l) => l.via === via && l.aliasId === aliasId && l.outcome === 'failed');
      assert.equal(lines.length, 1);
      return lines[0]!;
    };
    assert.deepEqual(comparable(failed('cli', id('bk-cli')), ['generation']), { event: 'op.verify', outcome: 'failed', code: 'AUTH_FAILED' });
    assert.deepEqual(comparable(failed('admin', id('bk-admin')), ['generation']), comparable(failed('cli', id('bk-cli')), ['generation']));
  });

  it('push: the backups of an alias reach the remote target, from the CLI and the admin API alike (the scheduler pushes after its backup, below)', async () => {
    const added = await admin.post('/api/remotes', { name: 'lab', kind: 's3', bucket: s3.bucket, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secret, endpoint: s3.endpoint });
    assert.equal(added.status, 201, added.text);
    const result = (await job(await admin.post('/api/remotes/lab/push', { aliasId: id('bk-admin') }))) as { uploaded: number; aliases: number };
    assert.deepEqual(result, { uploaded: 1, aliases: 1 });
    const remote = (await admin.get(`/api/remotes/lab/backups/${id('bk-admin')}`)).json as { id: string }[];
    assert.deepEqual(remote.map((g) => g.id), [listGenerations(inst.dir, mailboxId('bk-admin')).filter((g) => g.kind !== 'pre-restore').at(-1)!.id]);
    assert.deepEqual(comparable(auditOf('op.push', 'admin', null)), { event: 'op.push', outcome: 'ok', aliases: 1, all: false, uploaded: 1, pruned: 0 });
    // The CLI's push runs the same operation in the server, over the control socket.
    assert.match(await cli(['remote', 'push', addr('bk-cli'), '--target', 'lab']), new RegExp(`^${addr('bk-cli').replace(/[.]/g, '\\.')}: uploaded 1, pruned 0, 1 on lab\n$`));
    const remoteCli = (await admin.get(`/api/remotes/lab/backups/${id('bk-cli')}`)).json as { id: string }[];
    assert.deepEqual(remoteCli.map((g) => g.id), [listGenerations(inst.dir, mailboxId('bk-cli')).filter((g) => g.kind !== 'pre-restore').at(-1)!.id]);
    assert.deepEqual(comparable(auditOf('op.push', 'cli', null)), comparable(auditOf('op.push', 'admin', null)));
  });

  it('backup now from the scheduler: the same operation, with retention, the same audit line (server stopped first: one writer per data dir)', async () => {
    await inst.stop('SIGTERM');
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const ctx = await openContext({ env: { ...inst.env, SEALPOST_LOG_LEVEL: 'info' } }, { logger });
    try {
      const before = listGenerations(inst.dir, mailboxId('bk-sched')).length;
      const report = await runScheduledBackups(ctx, { time: '03:15', retention: DEFAULT_RETENTION, enabled: true });
      assert.equal(report.failed, 0);
      assert.equal(listGenerations(inst.dir, mailboxId('bk-sched')).length, before + 1, 'a generation for an alias never backed up');
      // The backed-up aliases of the earlier tests keep one generation a day: unchanged, nothing new.
      assert.equal(listGenerations(inst.dir, mailboxId('bk-cli')).filter((g) => g.kind !== 'pre-restore').length, 1);
      const fromScheduler = auditOf('op.backup', 'scheduler', null, lines);
      const fromCli = auditLinesIn(inst.logs, 'op.backup').filter((l) => l.via === 'cli')[0]!;
      assert.deepEqual(fieldNames(fromScheduler), fieldNames(fromCli), 'the same fields whoever calls');
      assert.equal(fromScheduler.kind, 'scheduled');
      assert.equal(fromScheduler.all, true);
      assert.equal(fromScheduler.failed, 0);
      assert.equal(fromScheduler.created, report.created);
      assert.equal(fromScheduler.pruned, report.pruned);
      // The remote target added above: the scheduler's backup pushes each alias and the directory to it.
      assert.ok(report.pushed >= 2, `pushed ${report.pushed}`);
      assert.equal(fromScheduler.pushed, report.pushed);
      const onRemote = await remotesOf(ctx).listBackups(mailboxId('bk-sched'), { target: 'lab' });
      assert.deepEqual(onRemote.map((g) => g.id), listGenerations(inst.dir, mailboxId('bk-sched')).map((g) => g.id));
    } finally {
      await closeContext(ctx);
    }
  });

  it('with no server running, the CLI runs the same operation in its own process and writes the same audit line', async () => {
    assert.equal(inst.child?.exitCode !== null || inst.child?.signalCode !== null, true, 'serve is stopped (previous test)');
    const gen = listGenerations(inst.dir, mailboxId('bk-cli')).at(-1)!.id;
    const result = await inst.cli(['backup', 'verify', addr('bk-cli'), gen, '--password-stdin', '--json'], `${pw('bk-cli')}\n`);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual([(JSON.parse(result.stdout) as { intact: boolean }).intact, (JSON.parse(result.stdout) as { decrypts: boolean }).decrypts], [true, true]);
    const here = auditOf('op.verify', 'cli', id('bk-cli'), result.stderr.split('\n'));
    const inServer = auditLinesIn(inst.logs, 'op.verify').find((l) => l.via === 'cli' && l.outcome === 'ok')!;
    assert.deepEqual(comparable(here, ['generation']), comparable(inServer, ['generation']));
  });
});
