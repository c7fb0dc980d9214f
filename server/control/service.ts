// The control channel of a running `serve`: a unix socket (named pipe on Windows) speaking JSON lines, so a
// CLI command on the same data dir hands mailbox changes (password, restore, import, removal…) to the
// server, which does them with its own handles and ends the sessions they affect. Authenticated by a
// random token in a 0600 file. Also: sessions end when a restore replaces their mailbox, remembered
// aliases unlock at start, and a second `serve` on the same data dir is refused.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { isUserError } from '../config/errors.js';
import type { AppContext, Listener, Service } from '../context.js';
import { backupEvents, type MailboxReplaceEvent } from '../backup/index.js';
import { ListenError } from '../net.js';
import { pingServer } from './client.js';
import { isOpName, parseArgs, runOp, type OpName } from './ops.js';
import { controlTokenPath, prepareControlSocket, releaseControlSocket, type ControlSocketLocation } from './paths.js';
import { unlockRemembered } from '../accounts/remember.js';

/** A request line larger than this is refused (a request holds a few short strings). */
const MAX_REQUEST_BYTES = 64 * 1024;

/** Errors whose message is written for the user (mirrors the CLI's isExpectedError). */
const EXPECTED = new Set(['AppKeyError', 'KeyFileError', 'WrongKey', 'MailboxLocked', 'OverQuota', 'InvalidRequest', 'NoSuchFolder']);

export interface WireError {
  readonly name: string;
  readonly code: string | null;
  readonly message: string;
  /** A user error: the CLI prints the message alone. */
  readonly user: boolean;
}

export function toWireError(error: unknown): WireError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, code: typeof code === 'string' ? code : null, message: error.message, user: isUserError(error) || EXPECTED.has(error.name) };
  }
  return { name: 'Error', code: null, message: String(error), user: false };
}

export function createControlService(ctx: AppContext): Service {
  const log = ctx.logger.child({ service: 'control' });
  let location: ControlSocketLocation | null = null;
  const tokenPath = controlTokenPath(ctx.paths.root);
  let server: net.Server | null = null;
  let token: Buffer | null = null;
  const connections = new Set<net.Socket>();
  let background: Promise<unknown> = Promise.resolve();

  const onReplacing = (event: MailboxReplaceEvent): void => {
    ctx.accounts.revokeMailboxSessions(event.mailboxId, 'restored');
  };

  const handle = (socket: net.Socket): void => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    let started = false;
    const send = (message: Record<string, unknown>): void => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      if (started) return;
      buffered += chunk;
      const end = buffered.indexOf('\n');
      if (end < 0) {
        if (buffered.length > MAX_REQUEST_BYTES) {
          send({ type: 'error', error: { name: 'BadRequest', code: 'TOO_LARGE', message: 'Control request too large.', user: true } });
          socket.end();
        }
        return;
      }
      started = true;
      const line = buffered.slice(0, end);
      buffered = '';
      void serveRequest(line, send).finally(() => socket.end());
    });
  };

  const serveRequest = async (line: string, send: (message: Record<string, unknown>) => void): Promise<void> => {
    let op: OpName | null = null;
    try {
      const request = JSON.parse(line) as { token?: unknown; op?: unknown; args?: unknown };
      const given = typeof request.token === 'string' && /^[0-9a-f]{64}$/.test(request.token) ? Buffer.from(request.token, 'hex') : Buffer.alloc(32);
      if (!token || !crypto.timingSafeEqual(given, token)) {
        log.warn({ event: 'control.bad_token' }, 'control request with a wrong token refused');
        send({ type: 'error', error: { name: 'ControlAuthFailed', code: 'CONTROL_AUTH', message: 'The control token does not match this server (restart the command).', user: true } });
        return;
      }
      if (!isOpName(request.op)) {
        send({ type: 'error', error: { name: 'BadRequest', code: 'BAD_REQUEST', message: 'Unknown control operation (is the CLI newer than the running server?).', user: true } });
        return;
      }
      op = request.op;
      const args = parseArgs(op, request.args ?? {});
      const result = await runOp(ctx, op, args, (progress) => send({ type: 'progress', progress }));
      if (op !== 'ping') log.info({ event: 'control.op', op }, 'CLI operation done by the server');
      send({ type: 'result', result });
    } catch (error) {
      const wire = toWireError(error);
      // Never the message: user messages may name an address. Name and code only.
      log.info({ event: 'control.op_failed', op, err: wire.name, code: wire.code }, 'CLI operation failed');
      send({ type: 'error', error: wire });
    }
  };

  return {
    name: 'control',
    async start(): Promise<Listener[]> {
      if (await pingServer(ctx.paths.root)) {
        throw new ListenError(`Another Sealpost server is already running on the data dir ${ctx.paths.root}`, 'Stop it first, or give this one another data directory with --data');
      }
      // A private directory (0700, ours) for the socket, checked; refused with one sentence otherwise.
      const where = prepareControlSocket(ctx.paths.root, ctx.config.env);
      if (where.kind !== 'pipe') fs.rmSync(where.socket, { force: true }); // stale: its server died
      token = crypto.randomBytes(32);
      const tmp = `${tokenPath}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, `${token.toString('hex')}\n`, { mode: 0o600 });
      fs.chmodSync(tmp, 0o600);
      fs.renameSync(tmp, tokenPath);
      const listening = net.createServer(handle);
      try {
        await new Promise<void>((resolve, reject) => {
          listening.once('error', reject);
          listening.listen(where.socket, () => {
            listening.off('error', reject);
            resolve();
          });
        });
      } catch (error) {
        releaseControlSocket(ctx.paths.root, where);
        throw error;
      }
      if (where.kind !== 'pipe') fs.chmodSync(where.socket, 0o600);
      location = where;
      if (where.kind !== 'data-dir') log.info({ event: 'control.socket_elsewhere', kind: where.kind }, 'the control socket is in a private directory outside the data dir (see control.path)');
      server = listening;
      backupEvents.on('replacing', onReplacing);
      log.info({ event: 'control.listening' }, 'control socket ready');
      const pending = ctx.accounts.pendingPasswordChanges();
      if (pending.length) log.warn({ event: 'alias.password_change_pending', aliasIds: pending }, 'interrupted password changes: resolved at the next login with either password');
      // Remembered aliases unlock (and drain their queues) in the background: listeners do not wait on a big queue.
      background = unlockRemembered(ctx)
        .then((count) => {
          if (count > 0) log.info({ event: 'alias.remembered_unlocked', aliases: count }, 'remembered mailboxes unlocked');
        })
        .catch((error: unknown) => log.warn({ event: 'alias.remembered_unlock_failed', err: error instanceof Error ? error.name : 'error' }, 'unlocking remembered mailboxes failed'));
      return [];
    },
    async stop(): Promise<void> {
      backupEvents.off('replacing', onReplacing);
      await background;
      const closing = server;
      server = null;
      if (closing) {
        await new Promise<void>((resolve) => {
          closing.close(() => resolve());
          for (const socket of connections) socket.destroy();
        });
        // Remove only what is ours: a token file another server wrote meanwhile stays.
        try {
          if (token && fs.readFileSync(tokenPath, 'utf8').trim() === token.toString('hex')) fs.rmSync(tokenPath, { force: true });
        } catch {}
        if (location) releaseControlSocket(ctx.paths.root, location);
        location = null;
      }
      token = null;
    },
  };
}
