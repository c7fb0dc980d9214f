// Free TCP ports on 127.0.0.1 for tests that must pass a concrete port (e.g. to a child process).
// Ports are drawn at random below the kernel's ephemeral range, each probed by listening on it; every probe
// stays open until all are chosen, so freePorts(n) returns n distinct ports. Below the ephemeral range, because
// a port the kernel handed to bind(0) and we released goes back into the pool that outgoing connections draw
// their local ports from: with a few hundred client connections a second in a test run, one of them took a
// port a server was about to listen on (EADDRINUSE in CI). Where the range cannot be read, the kernel picks.
import fs from 'node:fs';
import net from 'node:net';
import { LISTENER_NAMES, PORT_SOURCES, type ListenerName } from '../../server/config/index.js';
import type { Listener } from '../../server/context.js';

/** Lowest port drawn from; the top is one below the ephemeral range. */
const LOWEST = 20_000;

/** [from, to] to draw from: below Linux's ip_local_port_range, or null to let the kernel pick (bind to 0). */
function drawRange(): readonly [number, number] | null {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low - 1 - LOWEST >= 1000 ? [LOWEST, low - 1] : null;
  } catch {
    return null;
  }
}
const RANGE = drawRange();

function probe(port: number): Promise<net.Server | null> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (port !== 0 && (error.code === 'EADDRINUSE' || error.code === 'EACCES')) resolve(null);
      else reject(error);
    });
    server.listen(port, '127.0.0.1', () => resolve(server));
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

/** One probe that is listening: on a random port of RANGE (a few tries), else on one the kernel picks. */
async function listeningProbe(): Promise<net.Server> {
  if (RANGE) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = RANGE[0] + Math.floor(Math.random() * (RANGE[1] - RANGE[0] + 1));
      const server = await probe(port);
      if (server) return server;
    }
  }
  return (await probe(0))!;
}

/** Returns n distinct ports that were free on 127.0.0.1 a moment ago. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) servers.push(await listeningProbe());
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
