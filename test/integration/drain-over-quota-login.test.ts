// A drain that cannot finish never locks the owner out. Sealed mail that no longer fits (the mailbox filled
// up, or the quota was lowered, after it was accepted) stops the background drain with the rest kept
// sealed; IMAP LOGIN (RFC 3501 §6.2.3) and POP3 PASS (RFC 1939 §7) still answer OK, the mail that is in
// can be read, `sealpost queue status` says plainly that a full mailbox holds the rest back, and once the
// owner deletes mail (EXPUNGE, RFC 3501 §6.4.3) the drain resumes on its own and the rest arrives.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ImapFlow } from 'imapflow';
import type { AppContext } from '../../server/context.js';
import type { AliasRecord } from '../../server/directory/index.js';
import { waitForExists } from '../helpers/imap-wait.js';
import { runCli } from '../helpers/sealpost-cli.js';
import { LOCAL_DOMAIN, PASSWORD, makeDkimKey, message, senderZones, startMxApp, type MxApp } from './mx-fixture.js';

const QUOTA = 8000;
const ADDRESS = `full@${LOCAL_DOMAIN}`;

/** A message of exactly `size` bytes with a token header. */
function sized(token: string, size: number): Buffer {
  const head = message({ from: 'news@good.test', to: ADDRESS, subject: token, body: '', extraHeaders: [`X-Token: ${token}`] });
  return Buffer.concat([head, Buffer.from(`${'b'.repeat(size - head.length - 2)}\r\n`)]);
}

/** POP3 USER/PASS/STAT/QUIT over a plain loopback socket; returns the replies. */
async function pop3Session(port: number, user: string, pass: string): Promise<string[]> {
  const socket = net.connect(port, '127.0.0.1');
  const lines: string[] = [];
  let buffer = '';
  const waiters: (() => void)[] = [];
  socket.on('data', (d: Buffer) => {
    buffer += d.toString('latin1');
    let i: number;
    while ((i = buffer.indexOf('\r\n')) >= 0) {
      lines.push(buffer.slice(0, i));
      buffer = buffer.slice(i + 2);
      waiters.shift()?.();
    }
  });
  const next = (): Promise<string> => (lines.length ? Promise.resolve(lines.shift()!) : new Promise((resolve) => waiters.push(() => resolve(lines.shift()!))));
  const replies = [await next()];
  for (const command of [`USER ${user}`, `PASS ${pass}`, 'STAT', 'QUIT']) {
    socket.write(`${command}\r\n`);
    replies.push(await next());
  }
  socket.destroy();
  return replies;
}

describe('a drain stopped by a full mailbox never fails a login', () => {
  let app: MxApp;
  let ctx: AppContext;
  let alias: AliasRecord;

  before(async () => {
    app = await startMxApp({ zones: senderZones(makeDkimKey('good.test')), listeners: ['smtp', 'imap', 'pop3'] });
    ctx = app.running.ctx;
    ctx.directory.addDomain(LOCAL_DOMAIN);
    alias = (await ctx.accounts.createAlias(ADDRESS, PASSWORD, { quotaBytes: QUOTA })).alias;
    await ctx.accounts.unlock(ADDRESS, PASSWORD);
    assert.equal((await ctx.accounts.deliverOrQueue(alias, sized('filler', 5000), { receivedAt: new Date() })).stored, 'mailbox');
    await ctx.accounts.lock(alias.id);
    // Three sealed messages of 1600 bytes accepted earlier: only the first still fits (5000 + 1600 ≤ 8000 < 5000 + 3200).
    for (const token of ['q1', 'q2', 'q3']) await ctx.queue.enqueue(alias.mailboxId, alias.publicKey, sized(token, 1600), { receivedAt: new Date(), folder: 'INBOX' });
  });

  after(async () => {
    await app?.stop();
  });

  test('IMAP LOGIN and POP3 PASS answer OK, reading works, the status says over quota; EXPUNGE resumes the drain', async () => {
    const client = new ImapFlow({ host: '127.0.0.1', port: app.port('imap'), secure: false, auth: { user: ADDRESS, pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false });
    await client.connect(); // LOGIN answered OK
    try {
      await client.mailboxOpen('INBOX');
      await waitForExists(client, 2);
      assert.equal(await ctx.accounts.whenDrained(alias.id, 30_000), true);
      const status = ctx.accounts.drainStatus(alias);
      assert.equal(status.state, 'over-quota');
      assert.equal(status.queued, 2, 'the two that do not fit stay sealed, none deleted');
      assert.equal(client.mailbox && client.mailbox.exists, 2);
      const read = await client.fetchOne('2', { source: true });
      assert.ok(read && read.source?.toString('latin1').includes('X-Token: q1'), 'the owner reads what did arrive');

      // POP3 logs in too (its maildrop is what is in INBOX).
      const pop = await pop3Session(app.port('pop3'), ADDRESS, PASSWORD);
      assert.match(pop[2] ?? '', /^\+OK/, `PASS: ${pop[2]}`);
      assert.match(pop[3] ?? '', /^\+OK 2 /, `STAT: ${pop[3]}`);

      // Another process (the CLI) reads the stall from the directory and says what to do.
      const cli = await runCli(['queue', 'status'], { env: app.env });
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /over-quota: stopped: the mailbox is full; 2 message\(s\) wait sealed\. Delete mail/);
      const json = await runCli(['queue', 'status', '--json'], { env: app.env });
      const parsed = JSON.parse(json.stdout) as { inbound: { aliases: { queued: number; drain: { state: string } }[] } };
      assert.deepEqual(parsed.inbound.aliases.map((a) => [a.queued, a.drain.state]), [[2, 'over-quota']]);

      // The owner deletes the large filler: the drain resumes by itself and the rest arrives in this session.
      assert.equal(await client.messageDelete('1'), true);
      await waitForExists(client, 3);
      assert.equal(await ctx.accounts.whenDrained(alias.id, 30_000), true);
      assert.deepEqual({ state: ctx.accounts.drainStatus(alias).state, queued: ctx.accounts.queuedCount(alias) }, { state: 'idle', queued: 0 });
      const tokens: string[] = [];
      for await (const msg of client.fetch('1:*', { headers: ['x-token'] })) tokens.push(/X-Token: (\S+)/i.exec(msg.headers?.toString('latin1') ?? '')?.[1] ?? '?');
      assert.deepEqual(tokens, ['q1', 'q2', 'q3'], 'in arrival order, once each');
    } finally {
      await client.logout();
    }
    const after = await runCli(['queue', 'status', '--json'], { env: app.env });
    assert.deepEqual((JSON.parse(after.stdout) as { inbound: { total: number } }).inbound.total, 0);
  });
});
