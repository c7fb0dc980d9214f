// kill -9 of `bin/sealpost serve` in the middle of an SMTP delivery burst over 4 connections, to an alias
// whose mailbox is unlocked (an IMAP session is logged in: mail goes straight into the mailbox) and to one
// that is locked (mail is sealed into the queue). After a restart and a login: every message that got its
// 250 is there exactly once, no message is there twice, integrity_check passes, every mailbox opens.
// Related crash tests elsewhere: test/unit/queue-sealed.test.ts (enqueue then SIGKILL),
// test/reliability/mailbox-rekey-crash.test.ts (re-key), test/integration/backup-restore.test.ts (restore),
// test/integration/outbound-crash.test.ts (outbound delivery).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { ImapFlow } from 'imapflow';
import {
  RELIABILITY_DOMAIN,
  checkIntegrity,
  createInstance,
  duplicates,
  messageIdsByFolder,
  smtpTransport,
  tinyMessage,
  until,
} from '../helpers/reliability-harness.js';
import { waitForInboxCount } from '../helpers/imap-wait.js';
import { Secrets, privacyLeaks } from '../helpers/reliability-privacy.js';

const CONNECTIONS = 4;

test('kill -9 during an SMTP burst to a locked and an unlocked mailbox loses nothing acknowledged and duplicates nothing', async () => {
  const open = `open@${RELIABILITY_DOMAIN}`;
  const locked = `locked@${RELIABILITY_DOMAIN}`;
  const instance = await createInstance({ aliases: [open, locked] });
  const secrets = new Secrets().add(open, locked, 'sender@sender.rel.test');
  for (const pw of instance.passwords.values()) secrets.add(pw);
  const acked = new Map<string, string>(); // Message-ID → recipient, over all rounds
  const attempted = new Map<string, string>();
  const t0 = Date.now();
  const mark = (what: string): boolean => process.stdout.write(`# ${what} at ${Date.now() - t0} ms\n`);
  try {
    for (let round = 0; round < 2; round++) {
      await instance.start();
      mark(`round ${round} started`);
      // Keep `open` unlocked for the burst.
      const session = new ImapFlow({ host: '127.0.0.1', port: instance.ports.imap, secure: false, doSTARTTLS: false, auth: { user: open, pass: instance.passwords.get(open)! }, logger: false });
      session.on('error', () => undefined);
      await session.connect();

      let stop = false;
      const sender = async (n: number): Promise<void> => {
        const transport = smtpTransport(instance.ports.smtp);
        try {
          for (let i = 0; !stop; i++) {
            const to = (i + n) % 2 === 0 ? open : locked;
            const msg = tinyMessage(to, `r${round}c${n}m${i}`);
            secrets.add(msg.subject, msg.token);
            attempted.set(msg.messageId, to);
            try {
              await transport.sendMail({ envelope: { from: 'sender@sender.rel.test', to: [to] }, raw: msg.raw });
              acked.set(msg.messageId, to);
            } catch {
              return; // the server died under us
            }
          }
        } finally {
          transport.close();
        }
      };
      const senders = Array.from({ length: CONNECTIONS }, (_, n) => sender(n));
      const killAfter = acked.size + 30 + crypto.randomInt(60);
      mark('burst');
      await until(`${killAfter} acknowledged messages`, () => acked.size >= killAfter);
      await instance.stop('SIGKILL');
      stop = true;
      await Promise.all(senders);
      session.close();

      mark('killed');
      // Restart; the first login of `locked` starts draining its queue.
      await instance.start();
      const all: string[] = [];
      for (const address of [open, locked]) {
        const mine = [...acked].filter(([, to]) => to === address).map(([id]) => id);
        // The login answers at once; mail sealed for `locked` drains behind it.
        await waitForInboxCount(instance.ports.imap, address, instance.passwords.get(address)!, mine.length);
        const ids = (await messageIdsByFolder(instance.ports.imap, address, instance.passwords.get(address)!)).get('INBOX') ?? [];
        all.push(...ids);
        const have = new Set(ids);
        const missing = mine.filter((id) => !have.has(id));
        assert.deepEqual(missing, [], `round ${round}: acknowledged messages to ${address === open ? 'the unlocked' : 'the locked'} mailbox are all there`);
        for (const id of ids) {
          if (id.includes('sender.rel.test')) assert.equal(attempted.get(id), address, `round ${round}: ${id} is in the right mailbox`);
        }
      }
      assert.deepEqual(duplicates(all), [], `round ${round}: no message was stored twice`);
      process.stdout.write(`# round ${round}: killed after ${acked.size} acknowledged of ${attempted.size} attempted; ${all.length} stored in total\n`);
      mark('checked');
      await instance.stop('SIGTERM');
      mark('stopped');
      assert.deepEqual(await checkIntegrity(instance), [], 'every mailbox opens and passes integrity_check');
      mark('integrity');
    }
    assert.deepEqual(privacyLeaks([instance.dir], instance.logs, secrets), [], 'no subject, token, address or password on disk or in the logs');
    mark('privacy');
  } finally {
    await instance.cleanup();
  }
});
