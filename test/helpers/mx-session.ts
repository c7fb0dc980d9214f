// A raw SMTP client for MX security tests: one socket, replies read one at a time, and the close seen
// (next() resolves with null once the server has closed and every reply was read).
import net from 'node:net';

export interface RawSmtp {
  /** The next complete reply (multi-line replies joined by CRLF), or null when the server closed. */
  next(): Promise<string | null>;
  /** Sends one command line (CRLF added) and reads its reply. */
  command(line: string): Promise<string | null>;
  write(text: string): void;
  readonly closed: boolean;
  destroy(): void;
}

export function rawSmtp(port: number): Promise<RawSmtp> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buffer = '';
    let closed = false;
    const ready: string[] = [];
    const waiters: ((reply: string | null) => void)[] = [];
    const flush = (): void => {
      for (;;) {
        const match = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(buffer);
        if (!match) break;
        buffer = buffer.slice(match[0].length);
        const waiter = waiters.shift();
        if (waiter) waiter(match[0].trimEnd());
        else ready.push(match[0].trimEnd());
      }
      if (closed) while (waiters.length) waiters.shift()?.(null);
    };
    socket.on('data', (data: Buffer) => {
      buffer += data.toString('utf8');
      flush();
    });
    socket.on('close', () => {
      closed = true;
      flush();
    });
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      const client: RawSmtp = {
        next: () => (ready.length ? Promise.resolve(ready.shift() as string) : closed ? Promise.resolve(null) : new Promise((r) => waiters.push(r))),
        command: (line) => {
          if (!closed) socket.write(`${line}\r\n`);
          return client.next();
        },
        write: (text) => {
          if (!closed) socket.write(text);
        },
        get closed() {
          return closed;
        },
        destroy: () => socket.destroy(),
      };
      resolve(client);
    });
    socket.once('error', reject);
  });
}
