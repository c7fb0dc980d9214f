// Free TCP ports on 127.0.0.1 for tests that must pass a concrete port (e.g. to a child process).
// The OS picks each port (bind to 0), we close the probe socket and hand the number out; holding every
// probe open until all are chosen guarantees freePorts(n) returns n distinct ports.
import net from 'node:net';

function probe(): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function portOf(server: net.Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('probe socket has no TCP address');
  return address.port;
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Returns n distinct ports that were free on 127.0.0.1 a moment ago. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) servers.push(await probe());
    return servers.map(portOf);
  } finally {
    await Promise.all(servers.map(close));
  }
}

/** Returns one port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}
