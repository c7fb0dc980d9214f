// Lean IMAP and POP3 clients for the comparison: one command at a time per connection, literals read
// without copying the whole stream again and again, so the client is not what limits the figures.
import net from 'node:net';

/** Line/literal reader over a socket. */
class Reader {
  private chunks: Buffer[] = [];
  private length = 0;
  private waiters: (() => void)[] = [];
  closed = false;
  error: Error | null = null;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.length += chunk.length;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', (error) => {
      this.error = error;
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private wait(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for the server')), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private flat(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.length)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private take(n: number): Buffer {
    const all = this.flat();
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    return out;
  }

  /** One line without CRLF; null when the connection closed first. */
  async line(timeoutMs: number): Promise<string | null> {
    for (;;) {
      if (this.length > 0) {
        // Search only the newest chunk boundary region when possible.
        const all = this.flat();
        const i = all.indexOf('\r\n');
        if (i >= 0) return this.take(i + 2).subarray(0, i).toString('latin1');
      }
      if (this.closed) return null;
      await this.wait(timeoutMs);
    }
  }

  /** Exactly n bytes; null when the connection closed first. */
  async bytes(n: number, timeoutMs: number): Promise<Buffer | null> {
    while (this.length < n) {
      if (this.closed) return null;
      await this.wait(timeoutMs);
    }
    return this.take(n);
  }
}

function connectSocket(port: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
    socket.setNoDelay(true);
    socket.once('error', reject);
  });
}

export interface ImapResponse {
  /** "OK" | "NO" | "BAD" | "" (connection closed). */
  readonly status: string;
  readonly tagged: string;
  /** Untagged lines (literals replaced by "{n}"). */
  readonly untagged: string[];
  /** Total bytes of literals received. */
  readonly literalBytes: number;
  readonly literals: number;
}

export class ImapClient {
  private tag = 0;
  private constructor(private readonly reader: Reader) {}

  static async connect(port: number, localAddress?: string): Promise<ImapClient> {
    const reader = new Reader(await connectSocket(port, localAddress));
    const greeting = await reader.line(15_000);
    if (greeting === null || !greeting.startsWith('* OK')) throw new Error(`IMAP greeting: ${greeting}`);
    return new ImapClient(reader);
  }

  get closed(): boolean {
    return this.reader.closed;
  }

  private async response(tag: string, timeoutMs: number): Promise<ImapResponse> {
    const untagged: string[] = [];
    let literalBytes = 0;
    let literals = 0;
    for (;;) {
      let line = await this.reader.line(timeoutMs);
      if (line === null) return { status: '', tagged: '', untagged, literalBytes, literals };
      // A line ending in {n} is followed by n literal bytes and the rest of the line.
      for (let m = /\{(\d+)\}$/.exec(line); m; m = /\{(\d+)\}$/.exec(line)) {
        const n = Number(m[1]);
        const data = await this.reader.bytes(n, timeoutMs);
        if (data === null) return { status: '', tagged: '', untagged, literalBytes, literals };
        literalBytes += n;
        literals++;
        const rest = await this.reader.line(timeoutMs);
        if (rest === null) return { status: '', tagged: '', untagged, literalBytes, literals };
        line = `${line}${n < 512 ? data.toString('latin1') : ''}${rest}`;
      }
      if (line.startsWith(`${tag} `)) {
        const status = line.slice(tag.length + 1).split(' ', 1)[0] ?? '';
        return { status, tagged: line, untagged, literalBytes, literals };
      }
      untagged.push(line);
    }
  }

  async command(text: string, timeoutMs = 300_000): Promise<ImapResponse> {
    const tag = `b${++this.tag}`;
    this.reader.socket.write(`${tag} ${text}\r\n`);
    return this.response(tag, timeoutMs);
  }

  /** APPEND with a synchronising literal. */
  async append(mailbox: string, raw: Buffer, flags = ''): Promise<ImapResponse> {
    const tag = `b${++this.tag}`;
    this.reader.socket.write(`${tag} APPEND ${mailbox}${flags ? ` (${flags})` : ''} {${raw.length}}\r\n`);
    const go = await this.reader.line(60_000);
    if (go === null || !go.startsWith('+')) return { status: go?.startsWith(`${tag} `) ? (go.split(' ')[1] ?? '') : '', tagged: go ?? '', untagged: [], literalBytes: 0, literals: 0 };
    this.reader.socket.write(raw);
    this.reader.socket.write('\r\n');
    return this.response(tag, 60_000);
  }

  close(): void {
    this.reader.socket.destroy();
  }
}

export class Pop3Client {
  private constructor(private readonly reader: Reader) {}

  static async connect(port: number): Promise<Pop3Client> {
    const reader = new Reader(await connectSocket(port));
    const greeting = await reader.line(15_000);
    if (greeting === null || !greeting.startsWith('+OK')) throw new Error(`POP3 greeting: ${greeting}`);
    return new Pop3Client(reader);
  }

  /** A single-line command; throws on -ERR or close. */
  async command(text: string): Promise<string> {
    this.reader.socket.write(`${text}\r\n`);
    const line = await this.reader.line(60_000);
    if (line === null || !line.startsWith('+OK')) throw new Error(`POP3 ${text.split(' ')[0]}: ${line}`);
    return line;
  }

  /** A multi-line command; resolves with the byte count of the body (dot-stuffed, before the final dot). */
  async multiline(text: string): Promise<number> {
    await this.command(text);
    let bytes = 0;
    for (;;) {
      const line = await this.reader.line(60_000);
      if (line === null) throw new Error(`POP3 ${text}: connection closed`);
      if (line === '.') return bytes;
      bytes += line.length + 2;
    }
  }

  close(): void {
    this.reader.socket.destroy();
  }
}
