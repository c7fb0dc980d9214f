// Declarations for WildDuck's POP3 server and connection (server/pop3). Only what we call or override.
declare module '@zone-eu/wildduck/lib/pop3/server.js' {
  import type { EventEmitter } from 'node:events';
  import type net from 'node:net';

  export interface Pop3ListedMessage {
    /** Shown by UIDL. */
    id: string;
    uid: number;
    size: number;
    mailbox: string;
    seen: boolean;
    /** Set by the connection: DELE'd in this session. */
    popped?: boolean;
    /** Set by the connection: RETR'd in this session. */
    fetched?: boolean;
  }

  export interface Pop3Listing {
    messages: Pop3ListedMessage[];
    count: number;
    size: number;
  }

  export interface Pop3Session {
    id: string;
    state: 'AUTHORIZATION' | 'TRANSACTION' | 'UPDATE';
    remoteAddress: string;
    user?: { id: string; username: string } | string | false;
    listing?: Pop3Listing;
  }

  export interface Pop3AuthRequest {
    method: 'USER' | 'PLAIN';
    username: string;
    password: string;
  }

  export type Pop3Callback<T> = (err: (Error & { response?: string; responseMessage?: string }) | null, value?: T) => void;

  export interface Pop3ServerOptions {
    secure?: boolean;
    needsUpgrade?: boolean;
    key?: string;
    cert?: string;
    minVersion?: string;
    ciphers?: string;
    honorCipherOrder?: boolean;
    SNICallback?: (servername: unknown, callback: (err: Error | null, ctx?: unknown) => void) => void;
    ignoreSTARTTLS?: boolean;
    disableSTARTTLS?: boolean;
    disableVersionString?: boolean;
    id?: { name?: string; version?: string };
    logger?: false;
    socketTimeout?: number;
    closeTimeout?: number;
    onAuth?: (auth: Pop3AuthRequest, session: Pop3Session, callback: Pop3Callback<{ user: { id: string; username: string } } | { message: string }>) => void;
    onListMessages?: (session: Pop3Session, callback: Pop3Callback<Pop3Listing>) => void;
    onFetchMessage?: (message: Pop3ListedMessage, session: Pop3Session, callback: Pop3Callback<NodeJS.ReadableStream>) => void;
    onUpdate?: (update: { deleted: Pop3ListedMessage[]; seen: Pop3ListedMessage[] }, session: Pop3Session, callback: (err?: Error | null) => void) => void;
    onClose?: (session: Pop3Session | false | null, callback: () => void) => void;
  }

  export default class POP3Server extends EventEmitter {
    constructor(options: Pop3ServerOptions);
    options: Pop3ServerOptions;
    server: net.Server;
    /** internal: open connections */
    connections: Set<unknown>;
    /** WildDuck logs structured events through this; it must be set. */
    loggelf: (message: Record<string, unknown>) => void;
    onConnect?: (session: Pop3Session, callback: (err?: Error | null) => void) => void;
    /** internal: wraps an accepted socket in a connection and starts it */
    connect(socket: net.Socket, socketOptions: Record<string, unknown>): void;
    listen(port: number, host: string, callback?: () => void): void;
    close(callback?: () => void): void;
  }
}

declare module '@zone-eu/wildduck/lib/pop3/connection.js' {
  import type { EventEmitter } from 'node:events';
  import type net from 'node:net';
  import type POP3Server from '@zone-eu/wildduck/lib/pop3/server.js';
  import type { Pop3Session } from '@zone-eu/wildduck/lib/pop3/server.js';

  export default class POP3Connection extends EventEmitter {
    constructor(server: POP3Server, socket: net.Socket, options: Record<string, unknown>);
    id: string;
    remoteAddress: string;
    secured: boolean;
    session: Pop3Session | false | null;
    /** internal */
    _server: POP3Server;
    /** internal: unterminated input line */
    _remainder: string;
    /** internal: the (possibly TLS) socket */
    _socket: net.Socket;
    /** internal: complete input lines waiting for processQueue */
    queue: string[];
    /** internal: a read/process cycle is running */
    processing: boolean;
    /** internal: handles the next queued line, then reads again */
    processQueue(): void;
    init(): void;
    send(payload: string | string[]): void;
    close(): void;
    read(): void;
    /** internal */
    _onClose(): void;
  }
}
