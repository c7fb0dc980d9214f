// A minimal line-level IMAP client for tests that must send exact bytes (malformed input, extensions
// imapflow does not expose). Reads the server's literals correctly so FETCH responses can be inspected.
import net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';

export interface RawReply {
  /** Untagged and continuation lines, literals inlined as text (binary). */
  readonly lines: string[];
  /** The tagged status line, e.g. "a1 OK [READ-WRITE] SELECT completed". */
  readonly tagged: string;
}

export class RawImap {
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private closed = false;
  private tagCounter = 0;
  private inflate: zlib.Inflate | null = null;
  private deflate: zlib.Deflate | null = null;
  greeting = '';

  private constructor(private socket: net.Socket) {
    this.attach(socket);
  }

  private attach(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => this.feed(chunk));
    socket.on('close', () => {
      // With COMPRESS on, the last bytes may still sit in the inflater: the connection counts as closed only once
      // they are read, so a final BYE is never lost to this client's own timing.
      const inflate = this.inflate;
      if (inflate && !inflate.writableEnded) {
        inflate.once('close', () => {
          this.closed = true;
          this.wake();
        });
        inflate.end();
        return;
      }
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {
      this.closed = true;
      this.wake();
    });
  }

  private feed(chunk: Buffer): void {
    if (this.inflate) {
      this.inflate.write(chunk);
      return;
    }
    this.buffer = Buffer.concat([this.buffer, chunk]);
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static async connect(port: number, options: { tls?: tls.ConnectionOptions; host?: string; localAddress?: string } = {}): Promise<RawImap> {
    const host = options.host ?? '127.0.0.1';
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = options.tls
        ? tls.connect({ host, port, ...options.tls }, () => resolve(s))
        : net.connect({ host, port, localAddress: options.localAddress }, () => resolve(s));
      s.once('error', reject);
    });
    const client = new RawImap(socket);
    client.greeting = await client.readLine(5000);
    return client;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Reads one line (without CRLF); resolves '' when the connection closed. */
  async readLine(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buffer.indexOf('\r\n');
      if (i >= 0) {
        let line = this.buffer.subarray(0, i).toString('binary');
        this.buffer = this.buffer.subarray(i + 2);
        const literal = /\{(\d+)\}$/.exec(line);
        if (literal) {
          const size = Number(literal[1]);
          await this.waitFor(() => this.buffer.length >= size, deadline);
          line += '\r\n' + this.buffer.subarray(0, size).toString('binary');
          this.buffer = this.buffer.subarray(size);
          line += await this.readLine(Math.max(1, deadline - Date.now()));
        }
        return line;
      }
      if (this.closed) return '';
      await this.waitFor(() => this.buffer.indexOf('\r\n') >= 0 || this.closed, deadline);
    }
  }

  private async waitFor(ready: () => boolean, deadline: number): Promise<void> {
    while (!ready()) {
      if (this.closed) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for the server');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends raw bytes. */
  write(data: string | Buffer): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'binary') : data;
    if (this.deflate) {
      this.deflate.write(bytes);
      this.deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    } else {
      this.socket.write(bytes);
    }
  }

  /** Sends `TAG command` and collects lines until the tagged reply (or close). */
  async command(command: string, timeoutMs = 10_000): Promise<RawReply> {
    const tag = `t${++this.tagCounter}`;
    this.write(`${tag} ${command}\r\n`);
    return this.until(tag, timeoutMs);
  }

  async until(tag: string, timeoutMs = 10_000): Promise<RawReply> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.readLine(timeoutMs);
      if (line === '' && this.closed) return { lines, tagged: '' };
      if (line.startsWith(`${tag} `)) return { lines, tagged: line };
      lines.push(line);
    }
  }

  /** Sends a command with a synchronising literal: waits for "+" before the literal bytes. */
  async commandWithLiteral(prefix: string, literal: Buffer | string, suffix = ''): Promise<RawReply> {
    const tag = `t${++this.tagCounter}`;
    const bytes = typeof literal === 'string' ? Buffer.from(literal) : literal;
    this.write(`${tag} ${prefix} {${bytes.length}}\r\n`);
    const go = await this.readLine();
    if (!go.startsWith('+')) return { lines: [], tagged: go };
    this.write(Buffer.concat([bytes, Buffer.from(`${suffix}\r\n`)]));
    return this.until(tag);
  }

  /** After "COMPRESS DEFLATE" succeeded: switch both directions to raw DEFLATE. */
  startCompression(): void {
    this.deflate = zlib.createDeflateRaw();
    this.deflate.on('data', (chunk: Buffer) => this.socket.write(chunk));
    this.deflate.on('error', () => undefined);
    const inflate = zlib.createInflateRaw();
    inflate.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    inflate.on('error', () => undefined);
    // Anything already buffered arrived uncompressed before the switch.
    this.inflate = inflate;
  }

  /** Writes pre-compressed bytes straight to the socket (for bomb tests). */
  writeRawSocket(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  async upgradeTls(options: tls.ConnectionOptions): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: plain, ...options }, () => resolve(s));
      s.once('error', reject);
    });
    this.socket = secure;
    this.buffer = Buffer.alloc(0);
    this.attach(secure);
  }

  close(): void {
    this.socket.destroy();
  }
}
