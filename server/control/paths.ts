// Where the local control channel of a data dir lives: a unix socket (a named pipe on Windows) that only the
// data dir's owner can reach, and the 0600 token file a client must present.
import { createHash } from 'node:crypto';
import path from 'node:path';

/** Linux/macOS limit a socket path to ~104–108 bytes; longer data dirs get a hashed name under /tmp. */
const MAX_SOCKET_PATH = 100;

/** The control endpoint of a data dir (same answer in the server and in every CLI process). */
export function controlSocketPath(dataDir: string, platform: NodeJS.Platform = process.platform): string {
  const root = path.resolve(dataDir);
  const digest = createHash('sha256').update(root).digest('hex').slice(0, 24);
  if (platform === 'win32') return `\\\\.\\pipe\\sealpost-control-${digest}`;
  const inDir = path.join(root, 'control.sock');
  return inDir.length <= MAX_SOCKET_PATH ? inDir : path.join('/tmp', `sealpost-control-${digest}.sock`);
}

/** The token file: written 0600 by `serve` at start, removed at stop. */
export function controlTokenPath(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'control.token');
}
