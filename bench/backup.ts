// `npm run bench -- backup [--mb=N]`: snapshot seconds per GB of an unlocked mailbox (VACUUM INTO +
// reopen/quick_check + content fingerprint + SHA-256, in the worker) and of a locked one (copy under
// the lock + SHA-256), beside a plain copy + fsync of the same file (the physical floor), and restore
// (replace) seconds per GB. The mailbox is filled through the real store from the generated corpus.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { openMailboxStore } from '../server/mailbox/index.js';
import type { MailboxId } from '../server/mailbox/types.js';
import { dataLayout, ensureDataDir } from '../server/config/index.js';
import { snapshotMailbox, restoreReplace } from '../server/backup/index.js';
import { inWorker } from '../server/backup/worker.js';
import { generateCorpus } from '../test/helpers/corpus.js';

const GB = 1024 ** 3;

function secondsPerGb(bytes: number, ms: number): number {
  return Math.round((ms / 1000 / (bytes / GB)) * 100) / 100;
}

async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

export async function run(flags: string[]): Promise<void> {
  const mb = Number(flags.find((f) => f.startsWith('--mb='))?.slice(5) ?? 200);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-bench-backup-'));
  try {
    const layout = dataLayout(dir);
    ensureDataDir(layout);
    const store = openMailboxStore(dir);
    const id = randomUUID() as MailboxId;
    const key = randomBytes(32);
    await store.create(id, key);
    const mailbox = await store.open(id, key);
    const file = layout.mailboxFile(id);
    let seed = 1;
    let messages = 0;
    const fill = await timed(async () => {
      while (fs.statSync(file).size + (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0) < mb * 1024 * 1024) {
        for (const m of generateCorpus(500, seed++)) await mailbox.append('INBOX', m.raw, { internalDate: m.date });
        messages += 500;
      }
    });
    await store.close(id); // checkpoint: the file alone is the mailbox
    const bytes = fs.statSync(file).size;

    await inWorker.hash(layout.directoryDb.replace('sealpost.db', 'mailboxes')).catch(() => undefined); // start the worker thread outside the timings
    await inWorker.hash(file);
    const copyTarget = path.join(dir, 'plain-copy.sqlite');
    const plain = await timed(() => {
      fs.copyFileSync(file, copyTarget);
      const fd = fs.openSync(copyTarget, 'r+');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    });
    fs.rmSync(copyTarget);

    const locked = await timed(() => snapshotMailbox({ dataDir: dir, mailboxId: id }));
    await store.open(id, key);
    const unlocked = await timed(() => snapshotMailbox({ dataDir: dir, mailboxId: id, key, openHere: true }));
    const restore = await timed(() => restoreReplace({ dataDir: dir, mailboxId: id, generationId: unlocked.value.generation.id, key, store }));
    await store.closeAll();

    const figures = {
      bench: 'backup',
      loadAverage1m: Math.round(os.loadavg()[0]! * 10) / 10,
      mailboxBytes: bytes,
      messages,
      fillSeconds: Math.round(fill.ms / 100) / 10,
      plainCopySecondsPerGb: secondsPerGb(bytes, plain.ms),
      snapshotLockedSecondsPerGb: secondsPerGb(bytes, locked.ms),
      snapshotUnlockedSecondsPerGb: secondsPerGb(bytes, unlocked.ms),
      snapshotUnlockedBytes: unlocked.value.generation.size,
      restoreSecondsPerGb: secondsPerGb(bytes, restore.ms),
    };
    process.stdout.write(JSON.stringify(figures) + '\n');
    process.stdout.write(
      `backup: ${Math.round(bytes / 1024 / 1024)} MB mailbox — plain copy ${figures.plainCopySecondsPerGb} s/GB, locked snapshot ${figures.snapshotLockedSecondsPerGb} s/GB, ` +
        `unlocked snapshot ${figures.snapshotUnlockedSecondsPerGb} s/GB, restore ${figures.restoreSecondsPerGb} s/GB\n`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
