// Child process for mailbox tests that need a second process: `node --import tsx mailbox-child.ts '<json>'`.
//   {"action":"append","dataDir","id","key","count","tag"}           appends `count` messages, prints "done"
//   {"action":"rekey","dataDir","id","key","newKey","crashAt"?}      re-keys; SIGKILLs itself at step crashAt
import { openMailboxStore, type MailboxId, type RekeyStep } from '../../server/mailbox/index.js';
import { simpleMessage } from './mailbox.js';

interface Job {
  action: 'append' | 'rekey';
  dataDir: string;
  id: string;
  key: string;
  newKey?: string;
  count?: number;
  tag?: string;
  crashAt?: RekeyStep;
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const id = job.id as MailboxId;
const key = Buffer.from(job.key, 'hex');

if (job.action === 'append') {
  const store = openMailboxStore(job.dataDir);
  const mailbox = await store.open(id, key);
  for (let i = 0; i < (job.count ?? 1); i++) {
    await mailbox.append('INBOX', simpleMessage(`${job.tag ?? 'child'} ${i}`, `body ${job.tag ?? 'child'} ${i}`));
  }
  await store.closeAll();
} else {
  const store = openMailboxStore(job.dataDir, {
    rekeyStepHook: (step) => {
      if (step === job.crashAt) process.kill(process.pid, 'SIGKILL');
    },
  });
  process.stdout.write('rekey-start\n'); // the parent times random kills from here
  await store.rekey(id, key, Buffer.from(job.newKey ?? '', 'hex'));
  await store.closeAll();
}
process.stdout.write('done\n');
