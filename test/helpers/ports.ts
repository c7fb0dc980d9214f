// Free TCP ports on 127.0.0.1 for tests that must pass a concrete port (e.g. to a child process).
// The OS picks each port (bind to 0), we close the probe socket and hand the number out; holding every
// probe open until all are chosen guarantees freePorts(n) returns n distinct ports.
import net from 'node:net';
import { LISTENER_NAMES, PORT_SOURCES, type ListenerName } from '../../server/config/index.js';
import type { Listener } from '../../server/context.js';

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

/** Port variables for a Sealpost whose only listeners are `listeners`, on `ports` (same order); every other one is 0 (off). */
export function listenerPortsEnv(listeners: readonly ListenerName[] = [], ports: readonly number[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of LISTENER_NAMES) env[PORT_SOURCES[name].env] = '0';
  listeners.forEach((name, i) => (env[PORT_SOURCES[name].env] = String(ports[i])));
  return env;
}

/** The port a running app's listener is bound to; throws when that listener is not open. */
export function listenerPort(running: { readonly listeners: readonly Listener[] }, name: ListenerName): number {
  const listener = running.listeners.find((l) => l.name === name);
  if (!listener) throw new Error(`listener ${name} is not open`);
  return listener.port;
}
