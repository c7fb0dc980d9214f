// Test scaffolding for the mailbox store: a temp data dir, a store over it, fresh mailbox ids and keys.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { openMailboxStore, type MailboxStoreOptions } from '../../server/mailbox/index.js';
import type { Mailbox, MailboxId, MailboxStore } from '../../server/mailbox/types.js';

export interface StoreFixture {
  readonly dataDir: string;
  readonly store: MailboxStore;
  /** Creates a mailbox with a fresh key and opens it. */
  newMailbox(quotaBytes?: number | null): Promise<{ id: MailboxId; key: Buffer; mailbox: Mailbox }>;
  cleanup(): Promise<void>;
}

export const newMailboxId = (): MailboxId => randomUUID() as MailboxId;

export function storeFixture(options: MailboxStoreOptions = {}): StoreFixture {
  const dataDir = mkdtempSync(join(tmpdir(), 'sealpost-'));
  const store = openMailboxStore(dataDir, options);
  return {
    dataDir,
    store,
    async newMailbox(quotaBytes = null) {
      const id = newMailboxId();
      const key = randomBytes(32);
      await store.create(id, key, quotaBytes);
      return { id, key, mailbox: await store.open(id, key) };
    },
    async cleanup() {
      await store.closeAll();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A small CRLF message. */
export function simpleMessage(subject: string, body: string, extraHeaders: string[] = []): Buffer {
  return Buffer.from(
    [
      'From: Alice Example <alice@example.com>',
      'To: Bob Example <bob@example.org>',
      `Subject: ${subject}`,
      'Date: Tue, 02 Jan 2024 10:00:00 +0000',
      `Message-ID: <${randomUUID()}@example.com>`,
      ...extraHeaders,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
      '',
    ].join('\r\n'),
  );
}
