// Memory of a FETCH over a large mailbox: a real `bin/sealpost serve` in a child process whose mailbox is
// filled beforehand through the store API (straight into the encrypted file, no SMTP), a streaming IMAP
// client that counts what it receives without keeping it, and the server's resident-memory high-water mark
// read from /proc/<pid>/status (VmHWM, reset through /proc/<pid>/clear_refs before each measurement).
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { openContext, closeContext } from '../../server/app.js';
import { silentLogger } from '../../server/log.js';
import { generateCorpus } from './corpus.js';
import { RELIABILITY_DOMAIN, createInstance, type Instance } from './reliability-harness.js';

export interface BigMailbox {
  readonly instance: Instance;
  readonly address: string;
  readonly password: string;
  /** Per folder: messages, their total size in bytes as stored (CRLF), and the SHA-256 (hex) of each large one, in UID order. */
  readonly folders: ReadonlyMap<string, { readonly messages: number; readonly bytes: number; readonly largeSha256: readonly string[] }>;
}

/** What one folder holds: `messages` in all, the first `large` of them of about `largeBytes` each. */
export interface FolderPlan {
  readonly messages: number;
  readonly large?: number;
  readonly largeBytes?: number;
}

/** A message with a short text part and a base64 attachment of random bytes (`bytes` is its approximate size). */
export function largeMessage(n: number, bytes: number): Buffer {
  const attachment = crypto
    .randomBytes(Math.floor((bytes * 3) / 4))
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    `From: Archive <archive@sender.${RELIABILITY_DOMAIN}>\r\nTo: <fetchmem@${RELIABILITY_DOMAIN}>\r\nSubject: Scans ${n}\r\n` +
      `Message-ID: <scan-${n}-${crypto.randomUUID()}@sender.${RELIABILITY_DOMAIN}>\r\nDate: ${new Date(1_700_000_000_000 + n * 60_000).toUTCString()}\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b${n}"\r\n\r\n--b${n}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n` +
      `The scans of part ${n} are attached.\r\n--b${n}\r\nContent-Type: application/pdf; name="scan-${n}.pdf"\r\n` +
      `Content-Disposition: attachment; filename="scan-${n}.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n${attachment}\r\n--b${n}--\r\n`,
  );
}

/**
 * A stopped instance with one alias whose folders hold corpus messages (test/helpers/corpus.ts, ~12 KB on
 * average, 1–50 KB), optionally led by large ones. Appended 200 at a time so concurrent appends share a group commit.
 */
export async function createBigMailbox(folders: Readonly<Record<string, FolderPlan>>, env: Record<string, string> = {}): Promise<BigMailbox> {
  const address = `fetchmem@${RELIABILITY_DOMAIN}`;
  const instance = await createInstance({ aliases: [address], logLevel: 'warn', env });
  const password = instance.passwords.get(address) as string;
  const ctx = await openContext({ env: { ...instance.env, SEALPOST_LOG_LEVEL: 'error' } }, { logger: silentLogger() });
  const filled = new Map<string, { messages: number; bytes: number; largeSha256: string[] }>();
  try {
    const session = await ctx.accounts.authenticate(address, password, { ip: '127.0.0.1', protocol: 'cli' });
    try {
      let seed = 11;
      for (const [folder, plan] of Object.entries(folders)) {
        if (folder !== 'INBOX') session.mailbox.createFolder(folder);
        let bytes = 0;
        const largeSha256: string[] = [];
        const large = Math.min(plan.messages, plan.large ?? 0);
        for (let i = 0; i < large; i++) {
          const raw = largeMessage(i + 1, plan.largeBytes ?? 4_000_000);
          await session.mailbox.append(folder, raw);
          bytes += raw.length;
          largeSha256.push(crypto.createHash('sha256').update(raw).digest('hex'));
        }
        for (let done = large; done < plan.messages; ) {
          const batch = generateCorpus(Math.min(1000, plan.messages - done), seed++);
          for (let i = 0; i < batch.length; i += 200) {
            await Promise.all(batch.slice(i, i + 200).map((m) => session.mailbox.append(folder, m.raw)));
          }
          bytes += batch.reduce((n, m) => n + m.raw.length, 0);
          done += batch.length;
        }
        filled.set(folder, { messages: plan.messages, bytes, largeSha256 });
      }
    } finally {
      session.release();
    }
  } finally {
    await closeContext(ctx);
  }
  return { instance, address, password, folders: filled };
}

/** Resident set size now and its high-water mark since the last reset, in bytes (Linux /proc). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/** Sets the high-water mark back to the current resident size (writing 5 to clear_refs, Linux ≥ 4.0). */
export function resetPeak(pid: number): void {
  fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/**
 * A minimal IMAP client over a plain socket that reads responses as a stream: literals ({n}) are skipped by
 * count, nothing is kept beyond the current line, so the client's own memory stays flat. `paused()` stops
 * reading from the socket (the kernel buffers fill and the server sees backpressure).
 */
export class StreamingImap {
  private line: Buffer[] = [];
  private literalLeft = 0;
  private tagCounter = 0;
  private waiting: { tag: string; resolve: (r: { tagged: string; untagged: number; literalBytes: number }) => void; reject: (e: Error) => void } | null =
    null;
  private untagged = 0;
  private literalBytes = 0;
  private closed = false;
  /** Lines received so far (only the last few are kept, for error messages). */
  readonly recent: string[] = [];
  /** Bytes received so far. */
  received = 0;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.feed(chunk));
    const end = (): void => {
      this.closed = true;
      this.waiting?.reject(new Error(`connection closed; last lines: ${this.recent.join(' | ')}`));
      this.waiting = null;
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  static async connect(port: number): Promise<StreamingImap> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    const client = new StreamingImap(socket);
    await new Promise<void>((resolve) => {
      const check = (): void => (client.recent.length ? resolve() : void setTimeout(check, 10));
      check();
    });
    return client;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends a command and resolves with its tagged reply and the number of untagged responses before it. */
  command(text: string): Promise<{ tagged: string; untagged: number; literalBytes: number }> {
    const tag = `m${++this.tagCounter}`;
    this.untagged = 0;
    this.literalBytes = 0;
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('connection closed'));
      this.waiting = { tag, resolve, reject };
      this.socket.write(`${tag} ${text}\r\n`);
    });
  }

  /** Sends a command without waiting for (or reading) its reply. */
  send(text: string): void {
    this.socket.write(`s${++this.tagCounter} ${text}\r\n`);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Calls `listener` once the connection has closed. */
  onClose(listener: () => void): void {
    this.socket.once('close', listener);
  }

  close(): void {
    if (this.hiccupTimer) clearTimeout(this.hiccupTimer);
    this.socket.destroy();
  }

  /**
   * Stops reading for `ms` once `bytes` more have been received (a client busy writing what it got);
   * `beforeResume` runs at the end of the pause.
   */
  pauseAfter(bytes: number, ms: number, beforeResume: () => void = () => undefined): void {
    this.hiccup = { at: this.received + bytes, ms, beforeResume };
  }

  private hiccup: { at: number; ms: number; beforeResume: () => void } | null = null;
  private hiccupTimer: NodeJS.Timeout | null = null;

  private feed(chunk: Buffer): void {
    this.received += chunk.length;
    const hiccup = this.hiccup;
    if (hiccup && this.received >= hiccup.at) {
      this.hiccup = null;
      this.socket.pause();
      this.hiccupTimer = setTimeout(() => {
        this.hiccupTimer = null;
        hiccup.beforeResume();
        if (!this.closed) this.socket.resume();
      }, hiccup.ms);
    }
    let at = 0;
    while (at < chunk.length) {
      if (this.literalLeft > 0) {
        const take = Math.min(this.literalLeft, chunk.length - at);
        this.literalLeft -= take;
        this.literalBytes += take;
        at += take;
        continue;
      }
      const crlf = chunk.indexOf('\n', at);
      if (crlf < 0) {
        this.line.push(chunk.subarray(at));
        break;
      }
      this.line.push(chunk.subarray(at, crlf + 1));
      at = crlf + 1;
      const text = Buffer.concat(this.line).toString('latin1').replace(/\r?\n$/, '');
      this.line = [];
      const literal = /\{(\d+)\}$/.exec(text);
      if (literal) {
        this.literalLeft = Number(literal[1]);
        // The response line continues after the literal; count it once, at its start.
        if (text.startsWith('* ')) this.untagged++;
        this.remember(text);
        continue;
      }
      this.onLine(text);
    }
  }

  private onLine(text: string): void {
    this.remember(text);
    // The rest of a line after a literal starts with ')' or ' ', never with '* '.
    if (text.startsWith('* ')) this.untagged++;
    const waiting = this.waiting;
    if (waiting && text.startsWith(`${waiting.tag} `)) {
      this.waiting = null;
      waiting.resolve({ tagged: text, untagged: this.untagged, literalBytes: this.literalBytes });
    }
  }

  private remember(text: string): void {
    this.recent.push(text.length > 200 ? `${text.slice(0, 200)}…` : text);
    if (this.recent.length > 5) this.recent.shift();
  }
}
