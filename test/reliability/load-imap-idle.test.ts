// Load: 200 concurrent IMAP connections to `bin/sealpost serve` (8 aliases × 25: 15 in IDLE, 10 busy with
// FETCH/SEARCH/STATUS/NOOP) while an SMTP burst delivers to every alias over 4 connections. No command
// fails, no connection drops, and every IDLE client is told about every new message (EXISTS).
// Connections come from 4 loopback addresses: the server allows 64 per address and 32 per alias.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawImap } from '../helpers/imap-raw.js';
import { RELIABILITY_DOMAIN, checkIntegrity, createInstance, messageIdsByFolder, sleep, smtpTransport, tinyMessage } from '../helpers/reliability-harness.js';
import { Secrets, privacyLeaks } from '../helpers/reliability-privacy.js';

const ALIASES = 8;
const PER_ALIAS = 25;
const IDLERS_PER_ALIAS = 15;
const BURST_PER_ALIAS = 6;

test('200 IMAP connections (IDLE and busy) during an SMTP burst: no errors, every IDLE client sees every message', async () => {
  const users = Array.from({ length: ALIASES }, (_, i) => `load${i}@${RELIABILITY_DOMAIN}`);
  const instance = await createInstance({ aliases: users });
  const secrets = new Secrets().add(...users, ...instance.passwords.values());
  const errors: string[] = [];
  const clients: RawImap[] = [];
  try {
    const t0 = Date.now();
    const mark = (what: string): boolean => process.stdout.write(`# ${what} at ${Date.now() - t0} ms\n`);
    await instance.start();
    mark('started');
    // Connect and log in everyone (20 at a time).
    const plan = users.flatMap((user, a) => Array.from({ length: PER_ALIAS }, (_, j) => ({ user, idle: j < IDLERS_PER_ALIAS, n: a * PER_ALIAS + j })));
    const sessions: { user: string; idle: boolean; client: RawImap }[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < plan.length) {
          const p = plan[next++]!;
          const client = await RawImap.connect(instance.ports.imap, { localAddress: `127.0.0.${1 + (p.n % 4)}` });
          clients.push(client);
          const login = await client.command(`LOGIN "${p.user}" "${instance.passwords.get(p.user)}"`, 60_000);
          if (!/^\S+ OK/.test(login.tagged)) errors.push(`LOGIN: ${login.tagged || 'closed'}`);
          const select = await client.command('SELECT INBOX', 60_000);
          if (!/^\S+ OK/.test(select.tagged)) errors.push(`SELECT: ${select.tagged || 'closed'}`);
          sessions.push({ user: p.user, idle: p.idle, client });
        }
      }),
    );
    assert.equal(errors.length, 0, `all 200 connections logged in: ${errors.join('; ')}`);
    assert.equal(sessions.length, ALIASES * PER_ALIAS);

    mark('all logged in');
    // IDLE clients: enter IDLE, then wait for EXISTS to reach the burst size.
    const idlers = sessions.filter((s) => s.idle);
    for (const s of idlers) {
      s.client.write('idle1 IDLE\r\n');
      const go = await s.client.readLine(30_000);
      if (!go.startsWith('+')) errors.push(`IDLE: ${go}`);
    }
    const seen = idlers.map(async (s) => {
      let exists = 0;
      const deadline = Date.now() + 120_000;
      while (exists < BURST_PER_ALIAS) {
        const line = await s.client.readLine(Math.max(1, deadline - Date.now())).catch(() => '');
        if (line === '') {
          errors.push(`IDLE client of ${s.user} saw ${exists} of ${BURST_PER_ALIAS} messages`);
          return;
        }
        const m = /^\* (\d+) EXISTS/.exec(line);
        if (m) exists = Number(m[1]);
      }
      s.client.write('DONE\r\n');
      const done = await s.client.until('idle1', 30_000);
      if (!/^\S+ OK/.test(done.tagged)) errors.push(`IDLE end: ${done.tagged}`);
    });

    // Busy clients: a loop of ordinary commands until the burst is delivered and seen.
    let burstDone = false;
    let busyCommands = 0;
    const busy = sessions
      .filter((s) => !s.idle)
      .map(async (s, i) => {
        const commands = ['NOOP', 'UID FETCH 1:* (FLAGS RFC822.SIZE)', 'SEARCH ALL', 'STATUS INBOX (MESSAGES UIDNEXT)', 'UID SEARCH UNSEEN', 'UID FETCH 1:* (ENVELOPE)'];
        for (let k = i; !burstDone; k++) {
          const command = commands[k % commands.length]!;
          const r = await s.client.command(command, 60_000);
          busyCommands++;
          await sleep(10); // a busy client, not a flood: the burst must get CPU too
          if (!/^\S+ OK/.test(r.tagged)) {
            errors.push(`${command}: ${r.tagged || 'connection closed'}`);
            return;
          }
        }
      });

    // The burst.
    const acked: string[] = [];
    const work = users.flatMap((user) => Array.from({ length: BURST_PER_ALIAS }, (_, i) => tinyMessage(user, `load ${i}`)).map((m) => ({ user, m })));
    for (const { m } of work) secrets.add(m.subject, m.token);
    let w = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        const transport = smtpTransport(instance.ports.smtp);
        try {
          while (w < work.length) {
            const { user, m } = work[w++]!;
            await transport.sendMail({ envelope: { from: 'sender@sender.rel.test', to: [user] }, raw: m.raw });
            acked.push(m.messageId);
          }
        } finally {
          transport.close();
        }
      }),
    );
    mark('burst delivered');
    assert.equal(acked.length, work.length, 'every message of the burst was accepted');
    await Promise.all(seen);
    burstDone = true;
    await Promise.all(busy);
    mark('all seen');
    process.stdout.write(`# ${sessions.length} connections, ${idlers.length} in IDLE, ${busyCommands} busy commands, ${acked.length} messages\n`);
    assert.deepEqual(errors, [], 'no command failed and every IDLE client saw every message');
    assert.ok(clients.every((c) => !c.isClosed), 'no connection was dropped');
    for (const c of clients) c.close();

    const ids = (await messageIdsByFolder(instance.ports.imap, users[0]!, instance.passwords.get(users[0]!)!)).get('INBOX')!;
    assert.equal(ids.length, BURST_PER_ALIAS);
    await instance.stop('SIGTERM');
    assert.deepEqual(await checkIntegrity(instance), []);
    assert.deepEqual(privacyLeaks([instance.dir], instance.logs, secrets), []);
  } finally {
    for (const c of clients) c.close();
    await instance.cleanup();
  }
});
