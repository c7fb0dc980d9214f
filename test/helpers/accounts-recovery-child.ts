// Child process for the password-change crash test: `node --import tsx accounts-recovery-child.ts '<json>'`
//   {"dataDir","appKey","address","oldPassword","newPassword","crashAt"}
// Runs Accounts.changePassword and SIGKILLs itself at crashAt: an accounts point (SEALPOST_TEST_CRASH_AT,
// set by the parent) or a mailbox re-key step ("store:copied", "store:verified").
import path from 'node:path';
import { Accounts } from '../../server/accounts/index.js';
import { KeyRing } from '../../server/crypto/index.js';
import { Directory } from '../../server/directory/index.js';
import { silentLogger } from '../../server/log.js';
import { openMailboxStore } from '../../server/mailbox/index.js';
import { openSealedQueue } from '../../server/queue/index.js';

interface Job {
  dataDir: string;
  appKey: string;
  address: string;
  oldPassword: string;
  newPassword: string;
  crashAt: string;
}

export const TEST_KDF = { algorithm: 'argon2id', memoryKiB: 8192, iterations: 1, parallelism: 1 } as const;

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const appKey = Buffer.from(job.appKey, 'hex');
const directory = Directory.open(path.join(job.dataDir, 'sealpost.db'), appKey);
const mailboxes = openMailboxStore(job.dataDir, {
  rekeyStepHook: (step) => {
    if (job.crashAt === `store:${step}`) process.kill(process.pid, 'SIGKILL');
  },
});
const queue = openSealedQueue(job.dataDir, appKey);
const keyRing = new KeyRing();
const accounts = new Accounts({ directory, mailboxes, keyRing, queue, logger: silentLogger(), kdf: TEST_KDF });
await accounts.changePassword(job.address, job.oldPassword, job.newPassword);
process.stdout.write('changed\n');
keyRing.dropAll();
await mailboxes.closeAll();
queue.close();
directory.close();
