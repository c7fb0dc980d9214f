// A line-level client for the STARTTLS/STLS and connection-cap tests: sends exact bytes (several commands in
// one write), reads the server's replies line by line, and upgrades the same connection to TLS.
import net from 'node:net';
import tls from 'node:tls';

export class LineClient {
  private buffer = '';
  private waiters: (() => void)[] = [];
  private ended = false;
  /** Resolves when the connection is closed (by either side). */
  readonly closed: Promise<void>;
  private markClosed: () => void = () => undefined;

  private constructor(private socket: net.Socket) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.attach(socket);
  }

  /** Connects to 127.0.0.1:port (from localAddress when given, e.g. 127.0.0.2 to count as another IP). */
  static connect(port: number, localAddress?: string): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }

  private attach(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('latin1');
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.ended = true;
      this.markClosed();
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The next line (without CRLF); null once the connection closed with no further line. */
  async readLine(timeoutMs = 15_000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.buffer.indexOf('\r\n');
      if (end >= 0) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        return line;
      }
      if (this.ended) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line within ${timeoutMs} ms; buffered: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Reads lines until one matches (returns every line read, the matching one last). */
  async readUntil(pattern: RegExp): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.readLine();
      if (line === null) throw new Error(`closed before ${pattern}; got ${JSON.stringify(lines)}`);
      lines.push(line);
      if (pattern.test(line)) return lines;
    }
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** Whatever arrived and was not read yet (plaintext left over must be empty before a TLS upgrade). */
  get unread(): string {
    return this.buffer;
  }

  /** Starts TLS on this connection (self-signed certificate accepted) and reads on from the TLS socket. */
  async startTls(): Promise<void> {
    const raw = this.socket;
    raw.removeAllListeners('data');
    this.buffer = '';
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: raw, rejectUnauthorized: false, servername: 'localhost' }, () => resolve(s));
      s.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  close(): void {
    this.socket.destroy();
  }
}
