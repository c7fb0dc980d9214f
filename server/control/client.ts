// The CLI side of the control channel: if a `serve` answers on the data dir's control socket, an operation
// is sent to it (it has the mailboxes open); otherwise the command opens the data dir and runs it itself.
import net from 'node:net';
import { resolveDataDir, type ConfigFlags } from '../config/index.js';
import { UserError } from '../errors.js';
import type { Emit, OpArgs, OpName, OpResult } from './ops.js';
import { ControlPermissionError, locateControlSocket, readControlToken } from './paths.js';

/** An error the server reported for a failed operation. */
export class ControlError extends Error {
  constructor(
    readonly remoteName: string,
    readonly code: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

interface ServerLine {
  type?: unknown;
  result?: unknown;
  progress?: unknown;
  error?: { name?: unknown; code?: unknown; message?: unknown; user?: unknown };
}

/** Connects to the data dir's control socket; null when no server listens there (no socket, or a stale one). */
function connect(dataDir: string, timeoutMs: number): Promise<net.Socket | null> {
  let socketPath: string;
  try {
    // Checked before connecting: the socket and its directory must be ours and private (else one sentence).
    const location = locateControlSocket(dataDir);
    if (!location) return Promise.resolve(null);
    socketPath = location.socket;
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(null);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // A socket file left by a killed server: nobody listens, run locally.
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT' || error.code === 'ENOTSOCK') resolve(null);
      else reject(new UserError(`Cannot reach the Sealpost server running on ${dataDir} (${error.code ?? error.message}).`, 'CONTROL_UNREACHABLE'));
    });
  });
}

/** True when a server answers on the data dir's control socket. */
export async function pingServer(dataDir: string): Promise<boolean> {
  const socket = await connect(dataDir, 2000).catch(() => null);
  if (!socket) return false;
  socket.destroy();
  return true;
}

/**
 * Sends one operation to the server running on dataDir. Resolves { result } when it ran there, or null when
 * no server is running. Progress lines go to onProgress. A failure there is rethrown here (UserError for
 * user errors, so the CLI prints one sentence).
 */
export async function callServer<K extends OpName>(dataDir: string, op: K, args: OpArgs<K>, onProgress?: Emit): Promise<{ result: OpResult<K> } | null> {
  const socket = await connect(dataDir, 5000);
  if (!socket) return null;
  let token: string;
  try {
    token = readControlToken(dataDir);
  } catch (error) {
    socket.destroy();
    if (error instanceof ControlPermissionError) throw error;
    throw new UserError(`A Sealpost server is running on ${dataDir} but its control token cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}); run this command as the user running the server.`, 'CONTROL_TOKEN');
  }
  return new Promise((resolve, reject) => {
    let buffered = '';
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      fn();
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let end: number;
      while ((end = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        let message: ServerLine;
        try {
          message = JSON.parse(line) as ServerLine;
        } catch {
          finish(() => reject(new UserError('The running server sent a reply this CLI does not understand.', 'CONTROL_PROTOCOL')));
          return;
        }
        if (message.type === 'progress' && message.progress && typeof message.progress === 'object') {
          onProgress?.(message.progress as Parameters<Emit>[0]);
        } else if (message.type === 'result') {
          finish(() => resolve({ result: message.result as OpResult<K> }));
          return;
        } else if (message.type === 'error') {
          const e = message.error ?? {};
          const text = typeof e.message === 'string' ? e.message : 'The operation failed in the running server.';
          const code = typeof e.code === 'string' ? e.code : null;
          finish(() => reject(e.user === true ? new UserError(text, code ?? 'USER_ERROR') : new ControlError(typeof e.name === 'string' ? e.name : 'Error', code, text)));
          return;
        }
      }
    });
    socket.on('error', (error: Error) => finish(() => reject(new UserError(`The connection to the running server failed (${error.message}).`, 'CONTROL_UNREACHABLE'))));
    socket.on('close', () => finish(() => reject(new UserError('The running server closed the connection before answering (did it stop?); see its log.', 'CONTROL_CLOSED'))));
    socket.write(`${JSON.stringify({ v: 1, token, op, args })}\n`);
  });
}

/**
 * Runs an operation in the server running on the data dir when there is one, else here through `local`
 * (which opens the data dir itself). The CLI's one way to change mailboxes.
 */
export async function runControlOp<K extends OpName>(
  flags: ConfigFlags,
  op: K,
  args: OpArgs<K>,
  local: (op: K, args: OpArgs<K>, emit: Emit) => Promise<OpResult<K>>,
  onProgress?: Emit,
): Promise<OpResult<K>> {
  const dataDir = resolveDataDir(process.env, flags);
  const remote = await callServer(dataDir, op, args, onProgress);
  if (remote) return remote.result;
  return local(op, args, onProgress ?? (() => undefined));
}
