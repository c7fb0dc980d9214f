// kill -9 of `bin/sealpost serve` while two IMAP clients APPEND, MOVE and EXPUNGE in the same mailbox.
// After the restart, for every message whose last command got its OK: an APPEND is there, a MOVE is in
// the target folder and not in INBOX, an EXPUNGE is gone. A command in flight at the kill may have happened
// or not, but never half: no message is in two folders or twice in one. integrity_check passes.
// (Re-key, restore and outbound crash tests live elsewhere: see crash-smtp-burst.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { ImapFlow } from 'imapflow';
import { RELIABILITY_DOMAIN, checkIntegrity, createInstance, duplicates, messageIdsByFolder, tinyMessage, until } from '../helpers/reliability-harness.js';
import { Secrets, privacyLeaks } from '../helpers/reliability-privacy.js';

type State = 'appending' | 'inbox' | 'moving' | 'kept' | 'expunging' | 'gone';
const KEPT = 'Kept';

test('kill -9 during IMAP APPEND, MOVE and EXPUNGE keeps every acknowledged change and never half of one', async () => {
  const user = `imapcrash@${RELIABILITY_DOMAIN}`;
  const instance = await createInstance({ aliases: [user] });
  const password = instance.passwords.get(user)!;
  const secrets = new Secrets().add(user, password);
  const states = new Map<string, State>();
  let acknowledged = 0;
  try {
    for (let round = 0; round < 2; round++) {
      await instance.start();
      let stop = false;
      const worker = async (n: number): Promise<void> => {
        const client = new ImapFlow({ host: '127.0.0.1', port: instance.ports.imap, secure: false, doSTARTTLS: false, auth: { user, pass: password }, logger: false });
        client.on('error', () => undefined);
        const inInbox: { id: string; uid: number }[] = [];
        const inKept: { id: string; uid: number }[] = [];
        try {
          await client.connect();
          if (n === 0 && round === 0) await client.mailboxCreate(KEPT).catch(() => undefined);
          for (let i = 0; !stop; i++) {
            const msg = tinyMessage(user, `imap r${round} c${n} #${i}`);
            secrets.add(msg.subject, msg.token);
            states.set(msg.messageId, 'appending');
            const appended = await client.append('INBOX', msg.raw);
            if (!appended || typeof appended.uid !== 'number') throw new Error('APPEND gave no UID');
            states.set(msg.messageId, 'inbox');
            acknowledged++;
            inInbox.push({ id: msg.messageId, uid: appended.uid });
            if (i % 2 === 1) {
              const victim = inInbox.shift()!;
              states.set(victim.id, 'moving');
              await client.mailboxOpen('INBOX');
              const moved = await client.messageMove(String(victim.uid), KEPT, { uid: true });
              const newUid = moved && moved.uidMap ? moved.uidMap.get(victim.uid) : undefined;
              if (newUid === undefined) throw new Error('MOVE gave no COPYUID');
              states.set(victim.id, 'kept');
              acknowledged++;
              inKept.push({ id: victim.id, uid: newUid });
            }
            if (i % 3 === 2 && inKept.length > 0) {
              const victim = inKept.shift()!;
              states.set(victim.id, 'expunging');
              await client.mailboxOpen(KEPT);
              const deleted = await client.messageDelete(String(victim.uid), { uid: true });
              if (!deleted) throw new Error('EXPUNGE failed');
              states.set(victim.id, 'gone');
              acknowledged++;
            }
          }
        } catch {
          // the server was killed under us
        } finally {
          client.close();
        }
      };
      const workers = [worker(0), worker(1)];
      const killAt = acknowledged + 40 + crypto.randomInt(60);
      await until(`${killAt} acknowledged IMAP commands`, () => acknowledged >= killAt);
      await instance.stop('SIGKILL');
      stop = true;
      await Promise.all(workers);

      await instance.start();
      const byFolder = await messageIdsByFolder(instance.ports.imap, user, password, ['INBOX', KEPT]);
      const inbox = new Set(byFolder.get('INBOX'));
      const kept = new Set(byFolder.get(KEPT));
      assert.deepEqual(duplicates([...byFolder.get('INBOX')!, ...byFolder.get(KEPT)!]), [], `round ${round}: no message twice or in two folders`);
      const wrong: string[] = [];
      for (const [id, state] of states) {
        const where = inbox.has(id) ? 'inbox' : kept.has(id) ? 'kept' : 'gone';
        const allowed: Record<State, readonly string[]> = {
          appending: ['inbox', 'gone'],
          inbox: ['inbox'],
          moving: ['inbox', 'kept'],
          kept: ['kept'],
          expunging: ['kept', 'gone'],
          gone: ['gone'],
        };
        if (!allowed[state].includes(where)) wrong.push(`${id}: acknowledged as ${state}, found ${where}`);
        // Settle in-flight states to what the server has now, for the next round.
        if (state === 'appending' || state === 'moving' || state === 'expunging') states.set(id, where === 'inbox' ? 'inbox' : where === 'kept' ? 'kept' : 'gone');
      }
      assert.deepEqual(wrong, [], `round ${round}: every acknowledged APPEND/MOVE/EXPUNGE survived the kill`);
      process.stdout.write(`# round ${round}: ${acknowledged} acknowledged commands; INBOX ${inbox.size}, ${KEPT} ${kept.size}\n`);
      await instance.stop('SIGTERM');
      assert.deepEqual(await checkIntegrity(instance), [], 'the mailbox opens and passes integrity_check');
    }
    assert.deepEqual(privacyLeaks([instance.dir], instance.logs, secrets), [], 'no subject, token, address or password on disk or in the logs');
  } finally {
    await instance.cleanup();
  }
});
