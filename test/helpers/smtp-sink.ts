// A real SMTP server (smtp-server) on 127.0.0.1 that accepts everything and records each message:
// the envelope and the raw bytes. Used as the "remote MX" / relay in forwarding and outbound tests.
import { SMTPServer } from 'smtp-server';
import type { SMTPServerAddress } from 'smtp-server';

export interface SinkMessage {
  readonly mailFrom: string;
  readonly rcptTo: string[];
  readonly raw: Buffer;
  readonly helo: string;
  readonly remoteAddress: string;
  readonly secure: boolean;
}

export interface SinkOptions {
  /** Port to bind (default 0 = any free port). */
  port?: number;
  /** Offer STARTTLS with this key/cert (default: no TLS offered). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Return a reply code (e.g. 450, 550) to refuse a recipient, or null to accept it. */
  rejectRecipient?: (address: string) => number | null;
  /** Return a reply code to refuse a whole message after DATA, or null to accept it. */
  rejectMessage?: (message: SinkMessage) => number | null;
  /** Require AUTH with these credentials (for relay tests). */
  auth?: { username: string; password: string };
  /**
   * Wait this long between recording a message and answering its end of data (a remote MX that commits,
   * then replies): widens the window in which the sender has handed a message over without its 250.
   */
  replyDelayMs?: number;
}

export interface SmtpSink {
  readonly port: number;
  readonly messages: SinkMessage[];
  /** Resolves when at least `count` messages were recorded (or rejects after timeoutMs). */
  waitFor(count: number, timeoutMs?: number): Promise<SinkMessage[]>;
  /** TCP connections accepted so far (a test that expects "no connection made" asserts 0). */
  connections(): number;
  /** The most messages ever recorded at the same time without their end-of-data reply sent yet. */
  peakUnanswered(): number;
  close(): Promise<void>;
}

export async function startSmtpSink(options: SinkOptions = {}): Promise<SmtpSink> {
  const messages: SinkMessage[] = [];
  let unanswered = 0;
  let peakUnanswered = 0;
  const waiters: { count: number; resolve: (m: SinkMessage[]) => void }[] = [];
  const notify = (): void => {
    for (const w of [...waiters]) {
      if (messages.length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(messages.slice());
      }
    }
  };

  const server = new SMTPServer({
    name: 'sink.test',
    banner: 'test sink',
    logger: false,
    secure: false,
    disabledCommands: [...(options.auth ? [] : ['AUTH']), ...(options.tls ? [] : ['STARTTLS'])],
    authOptional: !options.auth,
    allowInsecureAuth: true,
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
    size: 100 * 1024 * 1024,
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.username && auth.password === options.auth.password) {
        callback(null, { user: auth.username });
      } else callback(new Error('Invalid credentials'));
    },
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      const code = options.rejectRecipient?.(address.address) ?? null;
      if (code === null) return callback();
      const err = Object.assign(new Error(`recipient refused by sink (${code})`), { responseCode: code });
      callback(err);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const envelope = session.envelope;
        const message: SinkMessage = {
          mailFrom: envelope.mailFrom === false ? '' : envelope.mailFrom.address,
          rcptTo: envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          helo: session.hostNameAppearsAs,
          remoteAddress: session.remoteAddress,
          secure: session.secure,
        };
        const code = options.rejectMessage?.(message) ?? null;
        if (code !== null) {
          callback(Object.assign(new Error(`message refused by sink (${code})`), { responseCode: code }));
          return;
        }
        messages.push(message);
        notify();
        if (!options.replyDelayMs) return callback(null);
        unanswered++;
        peakUnanswered = Math.max(peakUnanswered, unanswered);
        setTimeout(() => {
          unanswered--;
          callback(null);
        }, options.replyDelayMs);
      });
    },
  });
  server.on('error', () => undefined);

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('sink has no TCP address');
  let connections = 0;
  server.server.on('connection', () => connections++);

  return {
    port: address.port,
    messages,
    waitFor(count, timeoutMs = 15_000) {
      if (messages.length >= count) return Promise.resolve(messages.slice());
      return new Promise((resolve, reject) => {
        const waiter = { count, resolve: (m: SinkMessage[]) => (clearTimeout(timer), resolve(m)) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`smtp sink: ${messages.length} of ${count} messages after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    connections: () => connections,
    peakUnanswered: () => peakUnanswered,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
