// Stand-in listeners for protocols not built yet: they accept a connection (TLS where the real one would)
// and answer the protocol's own "not implemented" line, so `serve` binds every configured port from day one.
// Each protocol's issue replaces its line in server/app.ts with the real createXxxService(ctx).
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { UserError, type ListenerName } from './config/index.js';
import type { AppContext, Listener, ListenerSecurity, Service } from './context.js';

export interface PlaceholderListener {
  readonly name: ListenerName;
  readonly security: Extract<ListenerSecurity, 'plain' | 'starttls' | 'tls'>;
}

/** The line each protocol sends before closing (its own "service not available" form). */
const GOODBYE: Record<string, string> = {
  smtp: '421 4.3.0 not implemented yet\r\n',
  imap: '* BYE not implemented yet\r\n',
  pop3: '-ERR not implemented yet\r\n',
};

export function createPlaceholderService(ctx: AppContext, name: string, protocol: 'smtp' | 'imap' | 'pop3', listeners: readonly PlaceholderListener[]): Service {
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const greet = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(30_000, () => socket.destroy());
    socket.end(GOODBYE[protocol]);
  };
  return {
    name,
    async start(): Promise<Listener[]> {
      const opened: Listener[] = [];
      for (const listener of listeners) {
        const port = ctx.config.ports[listener.name];
        if (port === 0) continue;
        const server = listener.security === 'tls' ? tls.createServer(ctx.tls.tlsOptions(), greet) : net.createServer(greet);
        if (server instanceof tls.Server) server.on('tlsClientError', () => undefined);
        servers.push(server);
        opened.push(await listen(server, ctx.config.host, port, listener.name, listener.security));
      }
      return opened;
    },
    async stop(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.splice(0).map(close));
    },
  };
}

/** Admin HTTP placeholder: 503 with a short text until the admin UI lands. */
export function createAdminPlaceholderService(ctx: AppContext): Service {
  let server: http.Server | null = null;
  return {
    name: 'admin',
    async start(): Promise<Listener[]> {
      const port = ctx.config.ports.admin;
      if (port === 0) return [];
      server = http.createServer((_request, response) => {
        response.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
        response.end('Sealpost admin UI: not implemented yet\n');
      });
      return [await listen(server, ctx.config.host, port, 'admin', 'http')];
    },
    async stop(): Promise<void> {
      if (!server) return;
      server.closeAllConnections();
      await close(server);
      server = null;
    },
  };
}

/** Binds a server; rejects with a clear message when the port is taken. */
export function listen(server: net.Server, host: string, port: number, name: string, security: ListenerSecurity): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const reason = error.code === 'EADDRINUSE' ? 'the port is already in use' : error.code === 'EACCES' ? 'permission denied' : error.message;
      reject(new ListenError(`Cannot open the ${name} listener on ${host}:${port}: ${reason}.`));
    };
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      const address = server.address();
      const bound = address && typeof address === 'object' ? address.port : port;
      resolve({ name, host, port: bound, security });
    });
  });
}

/**
 * Opens a protocol's STARTTLS listener and its implicit-TLS one (a port of 0 is skipped): make(secure) builds
 * each server, which goes into `started` before it binds so stop() closes it even when binding fails.
 */
export async function listenPlainAndTls<S extends { readonly server: net.Server }>(
  ctx: Pick<AppContext, 'config'>,
  names: { readonly plain: ListenerName; readonly tls: ListenerName },
  make: (secure: boolean) => S,
  started: S[],
): Promise<Listener[]> {
  const opened: Listener[] = [];
  const plan = [
    { name: names.plain, secure: false, security: 'starttls' },
    { name: names.tls, secure: true, security: 'tls' },
  ] as const;
  for (const p of plan) {
    const port = ctx.config.ports[p.name];
    if (port === 0) continue;
    const server = make(p.secure);
    started.push(server);
    opened.push(await listen(server.server, ctx.config.host, port, p.name, p.security));
  }
  return opened;
}

export class ListenError extends UserError {
  constructor(message: string) {
    super(message, 'LISTEN_FAILED');
  }
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}
