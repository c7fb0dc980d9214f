// Waiting on an imapflow session for mail that lands after login (the sealed queue drains in the
// background): the server announces it as `* n EXISTS`, which imapflow turns into 'exists' events.
import type { ImapFlow } from 'imapflow';

/** Resolves with the EXISTS count once the selected mailbox has at least `count` messages; NOOP every pollMs. */
export async function waitForExists(client: ImapFlow, count: number, options: { timeoutMs?: number; pollMs?: number } = {}): Promise<number> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const pollMs = options.pollMs ?? 250;
  const current = (): number => (client.mailbox && typeof client.mailbox === 'object' ? client.mailbox.exists : 0);
  while (current() < count) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} messages (EXISTS ${current()})`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, pollMs);
      function done(): void {
        clearTimeout(timer);
        client.off('exists', done);
        resolve();
      }
      client.on('exists', done);
    });
    if (current() < count) await client.noop();
  }
  return current();
}

/**
 * Logs in over IMAP (imapflow, STARTTLS not required on loopback) and waits until INBOX holds at least
 * `count` messages: mail sealed while the mailbox was locked drains behind the login.
 */
export async function waitForInboxCount(port: number, user: string, pass: string, count: number, timeoutMs = 120_000): Promise<number> {
  const { ImapFlow } = await import('imapflow');
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user, pass }, tls: { rejectUnauthorized: false }, logger: false });
  await client.connect();
  try {
    await client.mailboxOpen('INBOX');
    return await waitForExists(client, count, { timeoutMs });
  } finally {
    await client.logout().catch(() => undefined);
  }
}
