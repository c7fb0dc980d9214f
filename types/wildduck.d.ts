// Declarations for the parts of @zone-eu/wildduck we use. Declare only what we call.

// ---- indexer (server/mime) ----
declare module '@zone-eu/wildduck/imap-core/lib/indexer/indexer.js' {
  /** A parsed Content-Type / Content-Disposition value. */
  export interface IndexerHeaderValue {
    value: string;
    type: string;
    subtype: string;
    params: Record<string, string>;
    hasParams?: boolean;
  }
  /** One node of the indexer's MIME tree (lib/indexer/parse-mime-tree.js). */
  export interface IndexerNode {
    rootNode?: boolean;
    /** Header fields, continuation lines joined with CRLF, as 'binary' strings. */
    header: string[];
    /** Lower-cased field name → value (strings, arrays, parsed Content-Type, address lists). */
    parsedHeader: Record<string, unknown>;
    /** Part body (line breaks normalised to CRLF). */
    body?: Buffer | false;
    /** Body size after CRLF normalisation (BODYSTRUCTURE size). */
    size?: number;
    lineCount?: number;
    /** Multipart subtype, or false. */
    multipart: string | false;
    boundary: string | false;
    childNodes?: IndexerNode[];
    /** Encapsulated message of an unencoded message/rfc822 part. */
    message?: IndexerNode | false;
  }
  export default class Indexer {
    constructor(options?: Record<string, unknown>);
    /** Returns false only for input it cannot make a node of. */
    parseMimeTree(rfc822: Buffer | string): IndexerNode | false;
    getEnvelope(tree: IndexerNode): unknown[];
    getBodyStructure(tree: IndexerNode): unknown[];
    getBody(tree: IndexerNode): unknown[];
  }
}

// ---- imap-core (server/imap) ----
// Only the surface server/imap touches: the server, its connections and sessions, the hook callbacks,
// the command modules we wrap at runtime, and the response compiler. Private members are marked "internal".
declare module '@zone-eu/wildduck/imap-core/index.js' {
  import type { EventEmitter } from 'node:events';
  import type net from 'node:net';
  import type tls from 'node:tls';
  import type { Transform, Writable } from 'node:stream';

  /** A parsed protocol token: atoms, strings, literals, sections (see handler/imap-parser.js). */
  export interface ImapNode {
    type: string;
    value?: string | Buffer;
    section?: ImapAttribute[];
    partial?: number[];
    sensitive?: boolean;
  }
  export type ImapAttribute = ImapNode | ImapAttribute[] | string | number | Buffer | null | undefined;

  /** What handler/imap-parser.js yields for one command. */
  export interface ImapParsedCommand {
    tag: string;
    command: string;
    attributes: ImapAttribute[];
  }

  /** What a command handler passes to its callback; IMAPCommand turns it into the tagged reply. */
  export interface ImapCommandResponse {
    response: 'OK' | 'NO' | 'BAD';
    code?: string | false;
    message?: string | false;
  }
  export type ImapCommandCallback = (err: (Error & { response?: string }) | null, response?: ImapCommandResponse) => void;

  export interface ImapCommandModule {
    state?: string | string[];
    schema?: unknown;
    disableNotifications?: boolean;
    handler(this: ImapConnection, command: ImapParsedCommand, callback: ImapCommandCallback, next: () => void): void;
  }

  /** A pending live update (imap-core's notification entry). */
  export interface ImapUpdate {
    command: 'EXISTS' | 'EXPUNGE' | 'FETCH';
    uid: number;
    modseq?: number;
    flags?: string[];
    /** Connection id that already told its client about this change. */
    ignore?: string;
  }

  /** A compiled-response object for writeStream.write / imapHandler.compiler. */
  export interface ImapResponse {
    tag: string;
    command: string;
    attributes: ImapAttribute[];
  }

  export interface ImapSelected {
    modifyIndex: number;
    uidList: number[];
    notifications: ImapUpdate[];
    condstoreEnabled: boolean;
    readOnly: boolean;
    /** Whatever onOpen returned as `_id`; compared with toString(). */
    mailbox: { toString(): string };
    path: string;
  }

  /** FETCH item as built by commands/fetch.js. */
  export interface ImapFetchItem {
    query: string;
    item: string;
    original: ImapNode;
    path?: string;
    type?: string;
    headers?: string[];
    isLiteral?: boolean;
    partial?: { startFrom: number; maxLength: number };
  }

  export interface ImapSession {
    id: string;
    remoteAddress: string;
    clientHostname: string;
    user?: { id: string } & Record<string, unknown>;
    selected: ImapSelected | false;
    writeStream: Transform;
    socket: net.Socket | tls.TLSSocket;
    formatResponse(command: string, uid: number, data?: Record<string, unknown>): ImapResponse | false;
    isUTF8Enabled(): boolean;
    commandCounters: Record<string, number>;
  }

  export interface ImapConnection extends EventEmitter {
    id: string;
    session: ImapSession;
    state: 'Not Authenticated' | 'Authenticated' | 'Selected' | 'Logout' | 'Closed';
    secure: boolean;
    remoteAddress: string;
    clientHostname: string | false;
    selected: ImapSelected | false;
    idling: boolean;
    condstoreEnabled: boolean;
    acceptUTF8Enabled?: boolean;
    compression: boolean;
    writeStream: Transform;
    user?: { id: string };
    loggelf: (message: unknown) => void;
    send(payload: string, callback?: () => void): void;
    close(force?: boolean): void;
    emitNotifications(): void;
    formatResponse(command: string, uid: number, data?: Record<string, unknown>): ImapResponse | false;
    setUser(user: { id: string }): void;
    setupNotificationListener(): void;
    clearNotificationListener(): void;
    init(): void;
    // internal
    _server: IMAPServer;
    _socket: net.Socket | tls.TLSSocket;
    _parser: (Writable & { oncommand: (command: ImapStreamCommand, callback?: (err?: Error | null) => void) => void; _remainder: string; _expecting: number }) | false;
    _deflate: (Transform & { flush(): void }) | false | null;
    _inflate: Transform | false | null;
    _nextHandler: ((payload: string, next: (err?: Error | null) => void) => void) | false;
    _closing: boolean;
    _closed: boolean;
    _upgrading: boolean;
    _setListeners(): void;
    _onClose(): void;
    _onError(err: Error): void;
    _onTimeout(): void;
    _onCommand(command: ImapStreamCommand, callback?: (err?: Error | null) => void): void;
    _currentCommand: unknown;
  }

  /** One line (or line + literal) handed from IMAPStream to the connection. */
  export interface ImapStreamCommand {
    value: string;
    final: boolean;
    expecting?: number;
    literal?: Writable;
    readyCallback?: () => void;
  }

  export interface ImapNotifier {
    addListener(session: ImapSession, listener: (message?: { command: string; mailbox?: unknown; reason?: string }) => void): void;
    removeListener(session: ImapSession, listener: (message?: unknown) => void): void;
    getUpdates(mailbox: { toString(): string }, modifyIndex: number, callback: (err: Error | null, updates?: ImapUpdate[]) => void): void;
    releaseConnection?(data: unknown, callback: () => void): void;
  }

  export interface ImapServerOptions {
    secure?: boolean;
    needsUpgrade?: boolean;
    disableSTARTTLS?: boolean;
    ignoreSTARTTLS?: boolean;
    key?: string;
    cert?: string;
    minVersion?: string;
    SNICallback?: unknown;
    id?: Record<string, string>;
    logger?: false;
    maxMessage?: number;
    enableCompression?: boolean;
    socketTimeout?: number;
    idleTimeout?: number;
    skipFetchLog?: boolean;
    closeTimeout?: number;
    [key: string]: unknown;
  }

  export class IMAPServer extends EventEmitter {
    constructor(options: ImapServerOptions);
    options: ImapServerOptions;
    server: net.Server;
    connections: Set<ImapConnection>;
    notifier: ImapNotifier;
    secureContext: Map<string, tls.SecureContext>;
    loggelf: (message: unknown) => void;
    listen(port: number, host: string, callback?: () => void): void;
    close(callback: () => void): void;
    updateSecureContext(options?: Record<string, unknown>): void;
    connect(socket: net.Socket | tls.TLSSocket, socketOptions: { id: string; remoteAddress?: string; ignore?: boolean }): void;
    // hooks (assigned by us)
    onAuth?: unknown;
    onList?: unknown;
    onLsub?: unknown;
    onCreate?: unknown;
    onRename?: unknown;
    onDelete?: unknown;
    onSubscribe?: unknown;
    onUnsubscribe?: unknown;
    onOpen?: unknown;
    onStatus?: unknown;
    onAppend?: unknown;
    onStore?: unknown;
    onExpunge?: unknown;
    onCopy?: unknown;
    onMove?: unknown;
    onFetch?: unknown;
    onSearch?: unknown;
    onGetQuotaRoot?: unknown;
    onGetQuota?: unknown;
    onConnect?: unknown;
    onClose?: unknown;
  }

  export interface ImapHandler {
    parser(input: string | Buffer, options?: { literals?: Buffer[] }): ImapParsedCommand;
    compiler(response: ImapResponse | { attributes: ImapAttribute | ImapAttribute[] }, asArray?: false, isLogging?: boolean): string;
  }

  const imapCore: { IMAPServer: typeof IMAPServer; imapHandler: ImapHandler };
  export default imapCore;
}

declare module '@zone-eu/wildduck/imap-core/lib/imap-tools.js' {
  import type { ImapConnection } from '@zone-eu/wildduck/imap-core/index.js';
  interface ImapTools {
    /** Modified UTF-7 (RFC 3501 mailbox names). */
    utf7encode(value: string): string;
    utf7decode(value: string): string;
    normalizeMailbox(mailbox: string, utf7Encoded?: boolean): string;
    validateSequence(range: string): boolean;
    getMessageRange(uidList: number[], range: string, isUid: boolean): number[];
    packMessageRange(uids: number[]): string;
    formatInternalDate(date: Date): string;
    /** Replaced at runtime by server/imap/capabilities.ts. */
    sendCapabilityResponse(connection: ImapConnection): void;
    /** Mutates envelope/bodystructure values of `message` in place (encodes words). */
    getQueryResponse(query: unknown[], message: Record<string, unknown>, options?: { acceptUTF8Enabled?: boolean }): unknown[];
  }
  const imapTools: ImapTools;
  export default imapTools;
}

declare module '@zone-eu/wildduck/lib/errors.js' {
  interface WildduckErrors {
    /** Where imap-core reports exceptions (default: console.error with stack and payload). */
    setGelf(handler: { emit(channel: string, message: unknown): void }): void;
  }
  const errors: WildduckErrors;
  export default errors;
}

declare module '@zone-eu/wildduck/imap-core/lib/imap-connection.js' {
  import type net from 'node:net';
  import type tls from 'node:tls';
  import type { IMAPServer, ImapConnection } from '@zone-eu/wildduck/imap-core/index.js';
  export const IMAPConnection: new (
    server: IMAPServer,
    socket: net.Socket | tls.TLSSocket,
    options: { id: string; remoteAddress?: string; ignore?: boolean },
  ) => ImapConnection;
}
