// Shared set-up for the backup/export/remote tests: a real data dir with a real encrypted mailbox
// (server/mailbox store) filled from the generated corpus, and a byte-level plaintext scan.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { openMailboxStore } from '../../server/mailbox/index.js';
import type { Mailbox, MailboxId, MailboxStore } from '../../server/mailbox/types.js';
import { dataLayout, ensureDataDir } from '../../server/config/index.js';
import { generateCorpus, type CorpusMessage } from '../helpers/corpus.js';

export interface MailboxFixture {
  readonly dir: string;
  readonly store: MailboxStore;
  readonly id: MailboxId;
  readonly key: Buffer;
  mailbox: Mailbox;
  readonly corpus: CorpusMessage[];
  reopen(): Promise<Mailbox>;
  cleanup(): Promise<void>;
}

/** A data dir with one mailbox: `inbox` corpus messages in INBOX, `archive` in Archive/2024 (flagged \Seen). */
export async function mailboxFixture(options: { inbox?: number; archive?: number; seed?: number } = {}): Promise<MailboxFixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  ensureDataDir(dataLayout(dir));
  const store = openMailboxStore(dir);
  const id = randomUUID() as MailboxId;
  const key = randomBytes(32);
  await store.create(id, key);
  const mailbox = await store.open(id, key);
  const inbox = options.inbox ?? 12;
  const archive = options.archive ?? 6;
  const corpus = generateCorpus(inbox + archive, options.seed ?? 7);
  mailbox.createFolder('Archive/2024');
  for (let i = 0; i < corpus.length; i++) {
    const m = corpus[i] as CorpusMessage;
    if (i < inbox) await mailbox.append('INBOX', m.raw, { flags: i % 3 === 0 ? ['\\Seen'] : [], internalDate: m.date });
    else await mailbox.append('Archive/2024', m.raw, { flags: ['\\Seen', '$Important'], internalDate: m.date });
  }
  const fixture: MailboxFixture = {
    dir,
    store,
    id,
    key,
    mailbox,
    corpus,
    async reopen() {
      fixture.mailbox = await store.open(id, key);
      return fixture.mailbox;
    },
    async cleanup() {
      await store.closeAll();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}

/** Needles that would betray plaintext: tokens (in base64/QP bodies too? tokens are in plain text parts), addresses. */
export function needlesOf(corpus: readonly CorpusMessage[]): string[] {
  return corpus.flatMap((m) => [m.token, m.from, m.messageId]);
}

/** Bytes of every message of a folder, ascending UID. */
export async function folderBytes(mailbox: Mailbox, folder: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const meta of mailbox.listMessages(folder)) out.push(await mailbox.readMessage(folder, meta.uid));
  return out;
}
