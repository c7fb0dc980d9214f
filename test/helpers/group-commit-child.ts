// Child process for the group-commit crash test: `node --import tsx group-commit-child.ts '<json>'`.
//   {"target":"mailbox","dataDir","id","key","count"}              appends `count` messages at once
//   {"target":"queue","dataDir","id","appKey","publicKey","count"}  enqueues `count` messages at once
// Prints "ok <n> <uid or queue id>" (synchronously, the moment the promise resolved) for each message,
// then "done". The parent SIGKILLs it part-way and checks that every printed message is on disk.
import { writeSync } from 'node:fs';
import { openMailboxStore, type MailboxId } from '../../server/mailbox/index.js';
import { SealedQueue } from '../../server/queue/index.js';
import { crashMessage } from './group-commit-messages.js';

interface Job {
  target: 'mailbox' | 'queue';
  dataDir: string;
  id: string;
  key?: string;
  appKey?: string;
  publicKey?: string;
  count: number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const report = (n: number, what: string | number): void => void writeSync(1, `ok ${n} ${what}\n`);

if (job.target === 'mailbox') {
  const store = openMailboxStore(job.dataDir);
  const mailbox = await store.open(job.id as MailboxId, Buffer.from(job.key ?? '', 'hex'));
  await Promise.all(Array.from({ length: job.count }, (_, n) => mailbox.append('INBOX', crashMessage(n)).then((r) => report(n, r.uid))));
  await store.closeAll();
} else {
  const queue = new SealedQueue(job.dataDir, Buffer.from(job.appKey ?? '', 'hex'));
  const publicKey = Buffer.from(job.publicKey ?? '', 'hex');
  await Promise.all(
    Array.from({ length: job.count }, (_, n) => queue.enqueue(job.id, publicKey, crashMessage(n), { receivedAt: new Date(n) }).then((id) => report(n, id))),
  );
  queue.close();
}
writeSync(1, 'done\n');
