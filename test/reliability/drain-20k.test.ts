// 20,000 messages sealed for a locked mailbox, then the first IMAP login: LOGIN answers before the drain
// ends (INBOX holds fewer than 20,000 at login), the open session sees the rest arrive as untagged EXISTS
// while it IDLEs (RFC 2177 §3, RFC 3501 §7.3.1), the server is killed with SIGKILL mid-drain, and after a
// restart and a new login every message is in INBOX exactly once (checked by a unique header token).
// The messages are sealed through the queue's own API (server/queue enqueueMany, the call the MX makes)
// because 20,000 SMTP transactions would dominate the run; the drain, the logins and the kill are real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { closeContext, openContext } from '../../server/app.js';
import { silentLogger } from '../../server/log.js';
import { waitForExists } from '../helpers/imap-wait.js';
import { RELIABILITY_DOMAIN, createInstance, duplicates, sleep, type Instance } from '../helpers/reliability-harness.js';

const MESSAGES = Number(process.env.SEALPOST_TEST_DRAIN_MESSAGES ?? 20_000);
const BATCH = 500;

function tokenMessage(to: string, i: number): Buffer {
  return Buffer.from(
    `From: Sender <sender@sender.rel.test>\r\nTo: <${to}>\r\nSubject: drain ${i}\r\nMessage-ID: <d${i}@sender.rel.test>\r\n` +
      `X-Token: d${i}\r\nDate: Tue, 07 Jan 2025 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nmessage ${i}\r\n`,
  );
}

/** Seals MESSAGES messages into the alias's queue while the server is stopped; returns when all are durable. */
async function sealAll(instance: Instance, address: string): Promise<void> {
  const ctx = await openContext({ env: { ...instance.env, SEALPOST_LOG_LEVEL: 'error' } }, { logger: silentLogger() });
  try {
    const alias = ctx.directory.requireAlias(address);
    const receivedAt = new Date();
    for (let start = 0; start < MESSAGES; start += BATCH) {
      const items = [];
      for (let i = start; i < Math.min(MESSAGES, start + BATCH); i++) {
        items.push({ mailboxId: alias.mailboxId, publicKey: alias.publicKey, raw: tokenMessage(address, i), meta: { receivedAt, folder: 'INBOX' } });
      }
      await ctx.queue.enqueueMany?.(items);
    }
    assert.equal(ctx.queue.count(alias.mailboxId), MESSAGES);
  } finally {
    await closeContext(ctx);
  }
}

function client(instance: Instance, user: string): ImapFlow {
  const c = new ImapFlow({ host: '127.0.0.1', port: instance.ports.imap, secure: false, auth: { user, pass: instance.passwords.get(user)! }, tls: { rejectUnauthorized: false }, logger: false });
  c.on('error', () => undefined); // the server is killed under it
  return c;
}

test(`${MESSAGES} sealed messages: LOGIN answers before the drain ends, IDLE sees EXISTS grow, kill -9 mid-drain loses and duplicates nothing`, { timeout: 1_800_000 }, async () => {
  const user = `bulk@${RELIABILITY_DOMAIN}`;
  const instance = await createInstance({ aliases: [user] });
  try {
    const t0 = Date.now();
    await sealAll(instance, user);
    process.stdout.write(`# sealed ${MESSAGES} in ${Date.now() - t0} ms\n`);
    await instance.start();

    // First login: answered while the queue is still draining.
    const first = client(instance, user);
    await first.connect();
    const atLogin = await first.status('INBOX', { messages: true });
    assert.ok((atLogin.messages ?? 0) < MESSAGES, `LOGIN answered before the drain ended (INBOX held ${atLogin.messages} of ${MESSAGES})`);
    await first.mailboxOpen('INBOX');
    const seen: number[] = [];
    first.on('exists', (data: { count: number }) => seen.push(data.count));
    // IDLE now (imapflow would only start it after a pause); the promise settles when the IDLE ends.
    const idling = first.idle().catch(() => undefined);
    // The session IDLEs (imapflow does so on its own when nothing else is asked) and is told of arrivals.
    const t1 = Date.now();
    const existsNow = (c: ImapFlow): number => (c.mailbox ? c.mailbox.exists : 0);
    while (existsNow(first) < MESSAGES / 5) {
      // Below the runner's 10-minute limit for the whole file, so a stalled drain fails here, with serve's log.
      if (Date.now() - t1 > 240_000) throw new Error(`drain too slow: ${existsNow(first)} after 4 min:\n${instance.logs.slice(-20).join('\n')}`);
      await sleep(200);
    }
    const mid = first.mailbox ? first.mailbox.exists : 0;
    assert.ok(seen.length >= 2 && seen.every((n, i) => i === 0 || n >= seen[i - 1]!), `untagged EXISTS grew while idling: ${seen.slice(0, 5).join(', ')}…`);
    assert.ok(mid < MESSAGES, 'still draining when killed');
    process.stdout.write(`# ${seen.length} EXISTS updates while idling; `);
    process.stdout.write(`${mid} of ${MESSAGES} in INBOX after ${Date.now() - t1} ms (${Math.round((mid * 1000) / Math.max(1, Date.now() - t1))} msg/s); SIGKILL\n`);
    await instance.stop('SIGKILL');
    // The server is gone: neither the LOGOUT nor the IDLE may hold the test (a client whose socket died mid-IDLE).
    await Promise.race([first.logout().catch(() => undefined), sleep(10_000)]);
    await Promise.race([idling, sleep(10_000)]);
    first.close();

    // Restart and log in again: the drain resumes in the background and ends with every message once.
    await instance.start();
    const second = client(instance, user);
    await second.connect();
    try {
      await second.mailboxOpen('INBOX');
      const afterRestart = second.mailbox ? second.mailbox.exists : 0;
      assert.ok(afterRestart >= mid - 64 && afterRestart < MESSAGES, `the second login also answered before the drain ended (${afterRestart})`);
      const t2 = Date.now();
      await waitForExists(second, MESSAGES, { timeoutMs: 240_000, pollMs: 2000 }).catch((error: unknown) => {
        throw new Error(`${error instanceof Error ? error.message : String(error)}\n${instance.logs.slice(-20).join('\n')}`);
      });
      process.stdout.write(`# rest drained in ${Date.now() - t2} ms\n`);
      await sleep(500);
      assert.equal(second.mailbox && second.mailbox.exists, MESSAGES, 'no more than the sealed messages');
      const tokens: string[] = [];
      for await (const msg of second.fetch('1:*', { uid: true, headers: ['x-token'] })) tokens.push(/X-Token: (\S+)/i.exec(msg.headers?.toString('utf8') ?? '')?.[1] ?? '?');
      assert.equal(tokens.length, MESSAGES);
      assert.deepEqual(duplicates(tokens), [], 'no message stored twice');
      const expected = new Set(Array.from({ length: MESSAGES }, (_, i) => `d${i}`));
      assert.deepEqual(tokens.filter((t) => !expected.has(t)), []);
      assert.equal(new Set(tokens).size, MESSAGES, 'every sealed message arrived');
      // UIDs follow arrival order (small messages parse in submission order; a drain restarts in seq order).
      const outOfOrder = tokens.filter((t, i) => i > 0 && Number(t.slice(1)) < Number(tokens[i - 1]!.slice(1))).length;
      assert.equal(outOfOrder, 0, 'UIDs are in arrival order');
    } finally {
      await Promise.race([second.logout().catch(() => undefined), sleep(10_000)]);
      second.close();
    }
    const status = await instance.cli(['queue', 'status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { inbound: { total: number } }).inbound.total, 0, 'the queue is empty');
  } finally {
    await instance.cleanup();
  }
});
