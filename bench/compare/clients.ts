// Lean IMAP and POP3 clients for the comparison: one command at a time per connection, literals read
// without copying the whole stream again and again, so the client is not what limits the figures.
import net from 'node:net';

const CRLF = Buffer.from('\r\n');

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

  /**
   * Reads up to and including the line that starts with `prefix`, counting the lines before it without
   * keeping them (only the first `keep`); for big literal-free responses such as FETCH 1:* (UID FLAGS).
   */
  async linesUntil(prefix: string, keep: number, timeoutMs: number): Promise<{ last: string | null; count: number; kept: string[] }> {
    const kept: string[] = [];
    let count = 0;
    const needle = Buffer.from('\r\n');
    for (;;) {
      if (this.length > 0) {
        const all = this.flat();
        let start = 0;
        for (let i = all.indexOf(needle, start); i >= 0; i = all.indexOf(needle, start)) {
          // Only lines that may be the tagged one (or are kept) become strings.
          if (all[start] !== 0x2a /* '*' */ || kept.length < keep) {
            const line = all.toString('latin1', start, i);
            if (line.startsWith(prefix)) {
              this.take(i + 2);
              return { last: line, count, kept };
            }
            if (kept.length < keep) kept.push(line);
          }
          count++;
          start = i + 2;
        }
        this.take(start);
      }
      if (this.closed) return { last: null, count, kept };
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

/** noDelay false leaves Nagle's algorithm on, as clients that never set TCP_NODELAY do (Python's imaplib). */
function connectSocket(port: number, localAddress?: string, noDelay = true): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
    socket.setNoDelay(noDelay);
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

  static async connect(port: number, localAddress?: string, options: { noDelay?: boolean } = {}): Promise<ImapClient> {
    const reader = new Reader(await connectSocket(port, localAddress, options.noDelay ?? true));
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

  /**
   * A command whose response has no literals, read without keeping its untagged lines (the first `keep`
   * are returned): `untagged` counts them. For FETCH 1:* (UID FLAGS) over very large mailboxes.
   */
  async counted(text: string, keep = 0, timeoutMs = 600_000): Promise<{ status: string; tagged: string; untagged: number; kept: string[] }> {
    const tag = `b${++this.tag}`;
    this.reader.socket.write(`${tag} ${text}\r\n`);
    const { last, count, kept } = await this.reader.linesUntil(`${tag} `, keep, timeoutMs);
    return { status: last === null ? '' : (last.slice(tag.length + 1).split(' ', 1)[0] ?? ''), tagged: last ?? '', untagged: count, kept };
  }

  /**
   * APPEND with a synchronising literal. By default the literal and the CRLF that ends the command go in two
   * writes (as Python's imaplib sends them); `joined` sends them in one.
   */
  async append(mailbox: string, raw: Buffer, flags = '', options: { joined?: boolean } = {}): Promise<ImapResponse> {
    const tag = `b${++this.tag}`;
    this.reader.socket.write(`${tag} APPEND ${mailbox}${flags ? ` (${flags})` : ''} {${raw.length}}\r\n`);
    const go = await this.reader.line(60_000);
    if (go === null || !go.startsWith('+')) return { status: go?.startsWith(`${tag} `) ? (go.split(' ')[1] ?? '') : '', tagged: go ?? '', untagged: [], literalBytes: 0, literals: 0 };
    if (options.joined) {
      this.reader.socket.write(Buffer.concat([raw, CRLF]));
    } else {
      this.reader.socket.write(raw);
      this.reader.socket.write(CRLF);
    }
    return this.response(tag, 60_000);
  }

  /**
   * LOGIN with both arguments as synchronising literals: LOGIN {n}, user, then {m}, password. Split: each
   * literal and the text after it in two writes; joined: in one.
   */
  async loginLiteral(user: string, password: string, options: { joined?: boolean } = {}): Promise<ImapResponse> {
    const tag = `b${++this.tag}`;
    const u = Buffer.from(user);
    const p = Buffer.from(password);
    const fail = (go: string | null): ImapResponse => ({ status: go?.startsWith(`${tag} `) ? (go.split(' ')[1] ?? '') : '', tagged: go ?? '', untagged: [], literalBytes: 0, literals: 0 });
    this.reader.socket.write(`${tag} LOGIN {${u.length}}\r\n`);
    let go = await this.reader.line(60_000);
    if (go === null || !go.startsWith('+')) return fail(go);
    const rest = Buffer.from(` {${p.length}}\r\n`);
    if (options.joined) {
      this.reader.socket.write(Buffer.concat([u, rest]));
    } else {
      this.reader.socket.write(u);
      this.reader.socket.write(rest);
    }
    go = await this.reader.line(60_000);
    if (go === null || !go.startsWith('+')) return fail(go);
    if (options.joined) {
      this.reader.socket.write(Buffer.concat([p, CRLF]));
    } else {
      this.reader.socket.write(p);
      this.reader.socket.write(CRLF);
    }
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
