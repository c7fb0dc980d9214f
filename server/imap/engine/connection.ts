// One IMAP connection: frames the client's bytes (wire/reader.ts), runs one command at a time in order
// (pipelined commands wait, unframed, in the reader; the socket is paused while too much waits), maps errors to
// tagged replies, reports live updates before each tagged reply, and switches the transport for STARTTLS and
// COMPRESS. Implements the Session the command modules see (engine/types.ts).
import type net from 'node:net';
import type tls from 'node:tls';
import zlib from 'node:zlib';
import type { AliasSession, LoginContext } from '../../accounts/index.js';
import type { Logger } from '../../log.js';
import type { Mailbox } from '../../mailbox/types.js';
import { MailboxError } from '../../mailbox/errors.js';
import { quickAck, type ConnectionGate } from '../../net.js';
import { errorSummary, imapNo, isExpected, replyFor, type ImapReply } from '../errors.js';
import type { ImapLimits } from '../runtime.js';
import { createCursor } from '../wire/cursor.js';
import { encodeLine } from '../wire/encode.js';
import { CommandReader, type LiteralDecision, type LiteralRequest } from '../wire/reader.js';
import { ParseError, type FramedCommand, type Value } from '../wire/types.js';
import { capabilityList } from './capabilities.js';
import { Output } from './output.js';
import { claimRecent, recentFrom } from './recent.js';
import { Selected } from './selected.js';
import type { CommandSpec, Completion, Enabled, FlushListener, FlushReport, FolderChange, ImapUser, Session, SessionState } from './types.js';
import { flushSelected, type FlushContext, type UpdateHub, type UpdateListener } from './updates.js';
import { stageStart, timeStage } from '../../stages.js';

export type Authenticate = (address: string, password: string, context: LoginContext) => Promise<AliasSession>;
export type TlsUpgradeFn = (socket: net.Socket, callback: (err: Error | null, secured?: tls.TLSSocket) => void) => void;

/** What every connection of one server shares. */
export interface EngineShared {
  readonly logger: Logger;
  readonly limits: ImapLimits;
  readonly table: ReadonlyMap<string, CommandSpec>;
  /** Capability names of the command table (capabilities.ts contributedCapabilities). */
  readonly contributed: readonly string[];
  readonly hub: UpdateHub;
  readonly perAlias: ConnectionGate;
  readonly authenticate: Authenticate;
  /** STARTTLS handshake (server/net.ts tlsUpgrade), null without a certificate. */
  readonly upgrade: TlsUpgradeFn | null;
  /** Called once when the connection is gone. */
  closed(connection: Connection): void;
}

/**
 * The pre-login line cap is raised to fit the largest ID command RFC 2971 allows (ID is valid before login):
 * 30 pairs of a quoted 30-octet field and a quoted 1024-octet value: 30 × (32 + 1 + 1026) + 29 SP + 2 parens
 * = 31,801 octets, plus a tag (≤ 64) and " ID " = 31,869 < 32 KiB. (Strings needing escapes can be sent as
 * literals, which do not count against the line.) It stays at most limits.maxLineBytes.
 */
export const ID_MAX_LINE_BYTES = 32 * 1024;

/** Unframed input above which the socket is paused while a command runs (pipelined commands wait in the reader). */
export const INPUT_HIGH_WATER = 256 * 1024;

/** The connection went away while a command waited for the client. */
class ConnectionGone extends Error {
  constructor() {
    super('connection closed');
    this.name = 'ConnectionGone';
  }
}

/** NOTIFY notifications waiting for delivery per session; beyond, NOTIFICATIONOVERFLOW (RFC 5465 §5.8). */
const MAX_PENDING_NOTIFICATIONS = 1000;

type AfterTagged = 'starttls' | 'compress' | 'close' | null;

export class Connection implements Session, UpdateListener {
  state: SessionState = 'not-authenticated';
  user: ImapUser | null = null;
  view: Selected | null = null;
  readonly enabled = new Set<Enabled>();
  compressed = false;
  secure: boolean;
  readonly limits: ImapLimits;
  readonly logger: Logger;

  private socket: net.Socket;
  private readonly reader: CommandReader;
  private readonly out: Output;
  /** A command is running (the reader is not asked for the next one). */
  private running = false;
  private pumping = false;
  private paused = false;
  /** A command waits for the client's next raw line (AUTHENTICATE, IDLE). */
  private lineWaiter: ((line: Buffer | null, tooLong?: boolean) => void) | null = null;
  /** Set while IDLE: a change event flushes at once. */
  private idleNotify: (() => void) | null = null;
  private flushChain: Promise<void> = Promise.resolve();
  /**
   * The store reported a change in the selected folder since the last journal pull. The flush before each tagged
   * reply pulls only then (or when expunges wait); NOOP, CHECK, IDLE and other explicit flushes always pull.
   */
  private journalDirty = false;
  /** The command in progress is a UID command (UID in unsolicited FETCH). */
  private uidCommand = false;
  private afterTagged: AfterTagged = null;
  private closing = false;
  private closedFlag = false;
  private preAuthTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private inflate: zlib.InflateRaw | null = null;
  private deflate: zlib.DeflateRaw | null = null;
  private compressedIn = 0;
  private inflatedIn = 0;
  private inflateTripped = false;
  /** \Recent claimed at SELECT: [from, to). */
  private recentClaim = { from: 0, to: 0 };
  /** Listeners to the selected folder's flushes (RFC 5267 contexts); dropped with the selection. */
  private flushListeners: FlushListener[] = [];

  constructor(
    readonly id: string,
    readonly ip: string,
    socket: net.Socket,
    secure: boolean,
    /** Plaintext LOGIN allowed on this connection (loopback client, and the server permits it). */
    private readonly plaintextLogin: boolean,
    private readonly shared: EngineShared,
  ) {
    this.socket = socket;
    this.secure = secure;
    this.limits = shared.limits;
    this.logger = shared.logger;
    this.out = new Output(socket);
    // Never above the after-login cap: an operator who lowers SEALPOST_IMAP_MAX_LINE_BYTES lowers both.
    const preAuthLine = Math.max(shared.limits.maxLineBytesPreAuth, Math.min(ID_MAX_LINE_BYTES, shared.limits.maxLineBytes));
    const readerLimits = { ...shared.limits, maxLineBytesPreAuth: preAuthLine };
    this.reader = new CommandReader({ limits: readerLimits, onLiteral: (request) => this.judgeLiteral(request) });
  }

  // ---- Session ----

  get loginAllowed(): boolean {
    return this.secure || this.plaintextLogin;
  }

  get selected(): Selected | null {
    return this.view;
  }

  get tlsAvailable(): boolean {
    return this.shared.upgrade !== null;
  }

  get isClosed(): boolean {
    return this.closedFlag || this.closing;
  }

  /** Bytes received but not framed yet, and bytes written but not yet taken by the socket (tests, metrics). */
  buffered(): { readonly unframed: number; readonly unsent: number } {
    return { unframed: this.reader.pendingBytes, unsent: this.out.unsentBytes };
  }

  capabilities(): string[] {
    return capabilityList(
      {
        state: this.state,
        secure: this.secure,
        loginAllowed: this.loginAllowed,
        tlsAvailable: this.tlsAvailable,
        compressed: this.compressed,
        maxMessageBytes: this.limits.maxMessageBytes,
      },
      this.shared.contributed,
    );
  }

  private get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT') || this.enabled.has('IMAP4rev2');
  }

  async untagged(...values: (Value | string)[]): Promise<void> {
    await this.out.pieces(encodeLine('*', values, { utf8: this.utf8 }));
  }

  async untaggedLines(text: string): Promise<void> {
    await this.out.pieces([Buffer.from(text, 'utf8')]);
  }

  async continuation(text: string): Promise<Buffer> {
    await this.out.line(`+ ${text}`);
    await this.out.flush();
    quickAck(this.socket);
    return this.nextLine();
  }

  enable(extension: Enabled): void {
    this.enabled.add(extension);
    if (extension === 'QRESYNC') this.enabled.add('CONDSTORE');
  }

  login(user: ImapUser): void {
    this.user = user;
    this.state = 'authenticated';
    this.reader.setAuthenticated(true);
    if (this.preAuthTimer) clearTimeout(this.preAuthTimer);
    this.preAuthTimer = null;
    this.shared.hub.add(user.mailbox.id, this);
  }

  async authenticate(username: string, password: string, method: 'LOGIN' | 'PLAIN'): Promise<void> {
    if (this.user) throw imapNo(null, 'Already authenticated');
    let result: AliasSession;
    try {
      result = await timeStage(stageStart('imap.login'), this.shared.authenticate(username, password, { ip: this.ip, protocol: 'imap' }));
    } catch (error) {
      // The outcome by connection id only: never the address or the password.
      this.logger.info({ event: 'imap.login_failed', cid: this.id, method, code: replyFor(error, 'auth').code }, 'IMAP login refused');
      throw error;
    }
    const aliasId = String(result.alias.id);
    if (this.isClosed) {
      result.release();
      throw imapNo('UNAVAILABLE', 'Connection closed');
    }
    if (this.shared.perAlias.admit(aliasId) !== null) {
      result.release();
      this.logger.warn({ event: 'imap.alias_connection_limit', cid: this.id, aliasId }, 'too many IMAP sessions for one alias');
      throw imapNo('UNAVAILABLE', 'Too many connections for this account');
    }
    let released = false;
    const perAlias = this.shared.perAlias;
    this.login({
      id: aliasId,
      mailbox: result.mailbox.deferredSync(),
      release: () => {
        if (released) return;
        released = true;
        perAlias.release(aliasId);
        result.release();
      },
    });
    // Password changed, alias locked/removed or mailbox restored on the server: this session's handle is dead.
    result.onRevoked?.((reason) => {
      if (this.isClosed) return;
      void this.byeAndClose(
        reason === 'app-password-revoked' ? 'This app password was revoked' : 'The mailbox was changed on the server (password, lock or restore); please log in again',
      );
    });
    this.logger.info({ event: 'imap.login', cid: this.id, aliasId, method, secure: this.secure }, 'IMAP login');
  }

  select(path: string, readOnly: boolean): Selected {
    const user = this.requireUser();
    this.unselect();
    const mailbox = user.mailbox;
    // Counters first: a change committed after them is reported as a live update, never lost.
    const status = mailbox.status(path);
    // A name kept only for its child folders (RFC 3501 §6.3.4) holds no messages.
    if (status.noselect) throw imapNo(null, 'Folder cannot be selected (\\Noselect)');
    const listing = mailbox.listUidFlags(status.path);
    const view = new Selected(status.path, readOnly, status.uidValidity, listing.uids, status.highestModseq);
    // Lists are shared per flag combination: their keywords are looked at once per list, not per message.
    const lists = new Set<readonly string[]>();
    for (let i = 0; i < listing.uids.length; i++) {
      const flags = listing.flags[i]!;
      view.flags.set(listing.uids[i]!, flags);
      if (lists.has(flags)) continue;
      lists.add(flags);
      for (const flag of flags) if (!flag.startsWith('\\')) view.keywords.add(flag);
    }
    if (!readOnly) {
      this.recentClaim = claimRecent(mailbox, status.path);
      for (const uid of view.uids) if (uid >= this.recentClaim.from && uid < this.recentClaim.to) view.recent.add(uid);
    } else {
      this.recentClaim = { from: 0, to: 0 };
      const from = recentFrom(mailbox, status.path);
      for (const uid of view.uids) if (uid >= from) view.recent.add(uid);
    }
    this.view = view;
    this.state = 'selected';
    this.journalDirty = false;
    return view;
  }

  unselect(): void {
    this.view = null;
    this.flushListeners = [];
    if (this.state === 'selected') this.state = 'authenticated';
  }

  async flushUpdates(expunges: boolean): Promise<void> {
    const view = this.view;
    const user = this.user;
    if (!view || !user || this.isClosed) return;
    this.journalDirty = false;
    const claim = this.recentClaim;
    try {
      const context: FlushContext = {
        mailbox: user.mailbox,
        view,
        qresync: this.enabled.has('QRESYNC'),
        condstore: this.enabled.has('CONDSTORE'),
        rev2: this.enabled.has('IMAP4rev2'),
        uidCommand: this.uidCommand,
        untagged: (text) => this.untagged(text),
        claimedAtSelect: claim,
      };
      if (this.flushListeners.length) await this.flushWithListeners(context, view, user.mailbox, expunges);
      else await flushSelected(context, expunges);
    } catch (error) {
      if (error instanceof MailboxError && error.code === 'NO_SUCH_FOLDER') {
        // Another session deleted (or renamed) the selected folder: this session cannot go on with it.
        await this.byeAndClose('The selected folder was deleted or renamed');
        return;
      }
      throw error;
    }
  }

  onFlush(listener: FlushListener): () => void {
    this.flushListeners.push(listener);
    return () => {
      this.flushListeners = this.flushListeners.filter((l) => l !== listener);
    };
  }

  /**
   * A flush with listeners: new messages and flag changes first (expunges held), then the listeners, then the
   * expunges, so what a listener numbers still counts the expunged messages, as the client does at that moment.
   */
  private async flushWithListeners(context: FlushContext, view: Selected, mailbox: Mailbox, expunges: boolean): Promise<void> {
    let from = view.pulledModseq;
    let largest = view.largestUid;
    await flushSelected(context, false);
    await this.tellFlushListeners(this.flushReport(view, mailbox, from, largest, expunges ? [...view.held.keys()] : null));
    if (!expunges || view.held.size === 0 || this.view !== view) return;
    from = view.pulledModseq;
    largest = view.largestUid;
    await flushSelected(context, true);
    // Changes committed while the listeners wrote were reported by this second pull: tell the listeners too.
    if (view.pulledModseq > from && this.view === view) await this.tellFlushListeners(this.flushReport(view, mailbox, from, largest, null, true));
  }

  /** What the journal entries in (from, view.pulledModseq] changed, as the view now numbers it. */
  private flushReport(view: Selected, mailbox: Mailbox, from: number, largest: number, gone: number[] | null, goneFromJournal = false): FlushReport {
    const flagged = new Set<number>();
    const expunged = new Set<number>(gone ?? []);
    if (view.pulledModseq > from) {
      for (const entry of mailbox.changesSince(view.path, from)) {
        if (entry.modseq > view.pulledModseq) continue;
        if (entry.kind === 'flags' && entry.uid <= largest) flagged.add(entry.uid);
        else if (entry.kind === 'expunge' && goneFromJournal) expunged.add(entry.uid);
      }
    }
    let first = view.uids.length;
    while (first > 0 && (view.uids[first - 1] as number) > largest) first--;
    const byNumber = (a: number, b: number): number => a - b;
    return {
      added: view.uids.slice(first),
      flagged: [...flagged].filter((uid) => view.seqOf(uid) > 0 && !view.held.has(uid) && !expunged.has(uid)).sort(byNumber),
      gone: [...expunged].sort(byNumber),
    };
  }

  private async tellFlushListeners(report: FlushReport): Promise<void> {
    if (!report.added.length && !report.flagged.length && !report.gone.length) return;
    for (const listener of [...this.flushListeners]) {
      try {
        await listener(report);
      } catch (error) {
        this.logger.warn({ cid: this.id, err: errorSummary(error) }, 'IMAP flush listener failed');
      }
    }
  }

  ownChange(modseq: number): void {
    this.view?.own.add(modseq);
  }

  startTls(): Promise<void> {
    this.afterTagged = 'starttls';
    return Promise.resolve();
  }

  startCompression(): void {
    this.afterTagged = 'compress';
  }

  close(): void {
    if (this.running) this.afterTagged = 'close';
    else void this.shutdown();
  }

  async idle(): Promise<Buffer> {
    await this.out.line('+ idling');
    const line = this.nextLine();
    this.socket.setTimeout(0);
    this.idleTimer = setTimeout(() => void this.byeAndClose('IDLE timed out'), this.limits.idleTimeoutMs);
    this.idleTimer.unref();
    this.idleNotify = () => {
      this.flushChain = this.flushChain
        .then(async () => {
          await this.flushUpdates(true);
          await this.out.flush();
        })
        .catch((error: unknown) => this.logger.warn({ cid: this.id, err: errorSummary(error) }, 'IMAP update during IDLE failed'));
    };
    // What happened before IDLE is reported at once (RFC 2177: the server may send updates at any time).
    this.idleNotify();
    try {
      return await line;
    } finally {
      this.idleNotify = null;
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.idleTimer = null;
      if (!this.isClosed) this.socket.setTimeout(this.limits.socketTimeoutMs);
      await this.flushChain;
    }
  }

  // ---- UpdateListener ----

  selectedFolder(): string | null {
    return this.view ? this.view.path : null;
  }

  dirty(): void {
    this.journalDirty = true;
  }

  // ---- NOTIFY (RFC 5465): the watcher commands/notify.ts installs ----

  private watcher: ((change: FolderChange) => Promise<void>) | null = null;
  private pendingChanges: FolderChange[] = [];

  watchFolders(watcher: ((change: FolderChange) => Promise<void>) | null): void {
    this.watcher = watcher;
    this.pendingChanges = [];
  }

  publishFolderChange(change: FolderChange): void {
    if (this.user) this.shared.hub.publish(this.user.mailbox.id, this, change);
  }

  folderChanged(change: FolderChange): void {
    if (!this.watcher || this.isClosed) return;
    if (this.pendingChanges.length >= MAX_PENDING_NOTIFICATIONS) {
      // RFC 5465 §5.8: too much to report: say so and stop notifying.
      this.watcher = null;
      this.pendingChanges = [];
      void this.writeNow('* OK [NOTIFICATIONOVERFLOW] Too many changes; NOTIFY is off');
      return;
    }
    this.pendingChanges.push(change);
    if (this.idleNotify) {
      this.flushChain = this.flushChain.then(() => this.drainChanges()).catch(() => undefined);
    } else if (!this.running) {
      // Between commands: deliver now, holding the next command until the lines are out.
      this.running = true;
      void this.drainChanges().finally(() => {
        this.running = false;
        this.pump();
      });
    }
  }

  /** Writes what the watcher makes of the queued changes; runs only between commands or during IDLE. */
  private async drainChanges(): Promise<void> {
    while (this.pendingChanges.length && this.watcher && !this.isClosed) {
      const change = this.pendingChanges.shift() as FolderChange;
      try {
        await this.watcher(change);
      } catch (error) {
        this.logger.warn({ cid: this.id, err: errorSummary(error) }, 'IMAP NOTIFY delivery failed');
      }
    }
    await this.out.flush();
  }

  changed(): void {
    this.idleNotify?.();
  }

  // ---- lifecycle ----

  /** Sends the greeting and starts reading. */
  start(): void {
    this.socket.setNoDelay(true);
    this.attachInput(this.socket);
    this.preAuthTimer = setTimeout(() => {
      if (this.state === 'not-authenticated') void this.byeAndClose('Login timeout');
    }, this.limits.preAuthTimeoutMs);
    this.preAuthTimer.unref();
    void this.writeNow(`* OK [CAPABILITY ${this.capabilities().join(' ')}] Sealpost IMAP ready`);
  }

  /** Server shutdown: BYE, then close. */
  shutdownWith(text: string): Promise<void> {
    return this.byeAndClose(text);
  }

  private requireUser(): ImapUser {
    if (!this.user) throw new Error('IMAP command needs a logged-in user');
    return this.user;
  }

  private readonly onRaw = (chunk: Buffer): void => {
    if (this.inflate) {
      this.compressedIn += chunk.length;
      if (!this.inflateTripped) this.inflate.write(chunk);
      return;
    }
    this.onBytes(chunk);
  };

  private readonly onError = (error: Error): void => {
    this.logger.debug({ cid: this.id, err: errorSummary(error) }, 'IMAP connection error');
  };

  private readonly onSocketClose = (): void => {
    this.cleanup();
  };

  private readonly onTimeout = (): void => {
    if (this.idleNotify) return;
    void this.byeAndClose('Connection idle for too long');
  };

  private attachInput(socket: net.Socket): void {
    socket.on('data', this.onRaw);
    socket.on('error', this.onError);
    socket.on('close', this.onSocketClose);
    socket.on('timeout', this.onTimeout);
    socket.setTimeout(this.limits.socketTimeoutMs);
  }

  /** Stops reading the plain socket before STARTTLS's OK: what follows is the TLS handshake, not ours to read. */
  private detachInput(socket: net.Socket): void {
    socket.pause();
    socket.off('data', this.onRaw);
    socket.off('timeout', this.onTimeout);
    socket.setTimeout(0);
  }

  private onBytes(chunk: Buffer): void {
    if (this.isClosed) return;
    this.reader.push(chunk);
    this.pump();
    // A command still arriving (a non-synchronizing literal, or a long one in pieces): ACK each piece at once,
    // so a Nagle client's next write (the literal, the closing CRLF) is not held for our delayed ACK.
    if (this.reader.midCommand) quickAck(this.socket);
  }

  /** Frames and dispatches as far as possible: one command at a time, raw lines to a waiting command. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.isClosed && (!this.running || this.lineWaiter)) {
        const event = this.reader.next();
        if (!event) break;
        if (event.kind === 'command') {
          this.running = true;
          void this.execute(event.command);
        } else if (event.kind === 'line') {
          const waiter = this.lineWaiter;
          this.lineWaiter = null;
          waiter?.(event.line, event.tooLong === true);
        } else if (event.kind === 'too-long') {
          void this.tooLong(event.reply);
          return;
        } else {
          // `+ Ready` for an accepted literal, or the refusal of a command the reader dropped.
          void this.writeNow(event.reply);
          if (event.kind === 'continue') quickAck(this.socket);
        }
      }
    } finally {
      this.pumping = false;
    }
    this.flowControl();
  }

  /** Pauses the socket while a command runs and much input waits; resumes otherwise. */
  private flowControl(): void {
    if (this.isClosed) return;
    const hold = this.running && !this.lineWaiter && this.reader.pendingBytes > INPUT_HIGH_WATER;
    if (hold && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!hold && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private nextLine(): Promise<Buffer> {
    if (this.isClosed) return Promise.reject(new ConnectionGone());
    this.reader.expectLine();
    const line = new Promise<Buffer>((resolve, reject) => {
      this.lineWaiter = (value, tooLong) => {
        if (!value) reject(new ConnectionGone());
        else if (tooLong) reject(new ParseError('Line too long'));
        else resolve(value);
      };
    });
    // A line may be buffered already (pipelined DONE, SASL-IR-less clients sending at once).
    setImmediate(() => this.pump());
    return line;
  }

  /**
   * Literal announcements: judged against the command (unknown commands, APPEND vs others) before any data is
   * read. The state is checked when the command runs (a literal of a command not valid now is still read).
   */
  private judgeLiteral(request: LiteralRequest): LiteralDecision {
    const spec = this.shared.table.get(request.name);
    if (!spec || (request.uid && !spec.uid)) return { accept: false, reply: `${request.tag} BAD Unknown command` };
    // Only APPEND and REPLACE carry message data; for any other command a literal longer than a command line is abuse.
    if (!spec.messageLiterals && request.size > this.limits.maxLineBytes) {
      return { accept: false, reply: `${request.tag} BAD Literal too large` };
    }
    return { accept: true };
  }

  private async execute(command: FramedCommand): Promise<void> {
    const spec = this.shared.table.get(command.name);
    let completion: Completion;
    this.uidCommand = command.uid;
    try {
      if (!spec || (command.uid && !spec.uid)) {
        completion = { status: 'BAD', text: 'Unknown command' };
      } else if (!spec.states.includes(this.state)) {
        completion = { status: 'BAD', text: `${command.name} is not allowed now` };
      } else {
        const args = createCursor(command.args, { utf8: this.utf8, searchRes: this.shared.contributed.includes('SEARCHRES') });
        const result = await timeStage(stageStart(command.uid ? 'imap.cmd.UID ' : 'imap.cmd.', command.name), spec.run({ session: this, tag: command.tag, name: command.name, uid: command.uid, args }));
        completion = result ?? { status: 'OK', text: `${command.uid ? 'UID ' : ''}${command.name} completed` };
      }
    } catch (error) {
      completion = this.completionFor(error, command, spec);
    }
    // Nothing the command wrote is acknowledged (tagged reply) before it is on disk.
    try {
      await this.user?.mailbox.durable();
    } catch (error) {
      completion = this.completionFor(error, command, spec);
    }
    try {
      await this.finish(command, spec, completion);
    } catch (error) {
      this.logger.warn({ cid: this.id, command: command.name, err: errorSummary(error) }, 'IMAP reply could not be written');
      void this.shutdown();
    }
  }

  private completionFor(error: unknown, command: FramedCommand, spec: CommandSpec | undefined): Completion {
    if (error instanceof ParseError) return { status: 'BAD', text: error.message };
    if (error instanceof ConnectionGone) return { status: 'BAD', text: 'Connection closed' };
    const reply: ImapReply = replyFor(error, spec?.role ?? 'folder');
    if (!isExpected(error)) this.logger.error({ cid: this.id, command: command.name, err: errorSummary(error) }, 'IMAP command failed');
    return { status: reply.response, ...(reply.code ? { code: reply.code } : {}), text: reply.message };
  }

  private async finish(command: FramedCommand, spec: CommandSpec | undefined, completion: Completion): Promise<void> {
    const after = this.afterTagged;
    this.afterTagged = null;
    // Nothing follows a BYE (LOGOUT) but the tagged reply.
    const view = this.view;
    if (!this.isClosed && view && after !== 'close' && (this.journalDirty || view.held.size > 0)) {
      // RFC 3501 §7.4.1: no EXPUNGE while answering FETCH, STORE, SEARCH (nor after a BAD: the command did not run).
      const expunges = completion.status !== 'BAD' && spec !== undefined && (spec.expungeAllowed ? spec.expungeAllowed(command.uid) : true);
      try {
        await this.flushUpdates(expunges);
      } catch (error) {
        this.logger.warn({ cid: this.id, err: errorSummary(error) }, 'IMAP update flush failed');
      }
    }
    // STARTTLS: nothing more is read in plaintext once the OK is on its way (RFC 3501 §6.2.1, RFC 2595 §3.1).
    if (after === 'starttls' && completion.status === 'OK') this.detachInput(this.socket);
    const code = completion.code ? ` [${completion.code}]` : '';
    await this.out.line(`${command.tag} ${completion.status}${code} ${completion.text}`);
    await this.out.flush();
    if (completion.status === 'OK' && after === 'starttls') return this.upgradeTls();
    if (completion.status === 'OK' && after === 'compress') this.beginCompression();
    if (after === 'close') {
      await this.shutdown();
      return;
    }
    // NOTIFY changes that came while the command ran follow its tagged reply.
    if (this.pendingChanges.length) await this.drainChanges();
    this.running = false;
    this.pump();
  }

  private upgradeTls(): void {
    const raw = this.socket;
    const upgrade = this.shared.upgrade;
    // Whatever the client pipelined after STARTTLS arrived in plaintext: it is dropped, never run under TLS.
    this.reader.discardBuffered();
    if (!upgrade || this.isClosed) {
      void this.shutdown();
      return;
    }
    const stopTls = stageStart('imap.tls');
    upgrade(raw, (err, secured) => {
      stopTls();
      if (err || !secured) {
        this.destroy();
        return;
      }
      if (this.isClosed) {
        secured.destroy();
        return;
      }
      this.socket = secured;
      this.secure = true;
      this.out.setSink(secured);
      this.attachInput(secured);
      this.running = false;
      this.pump();
    });
  }

  /** COMPRESS=DEFLATE (RFC 4978 §3): both directions compressed right after the tagged OK. */
  private beginCompression(): void {
    if (this.isClosed) return;
    // Z_SYNC_FLUSH on every write: each response batch reaches the client at once.
    const deflate = zlib.createDeflateRaw({ windowBits: 15, flush: zlib.constants.Z_SYNC_FLUSH });
    const inflate = zlib.createInflateRaw();
    deflate.on('error', () => this.destroy());
    inflate.on('error', () => {
      if (!this.isClosed) this.logger.info({ cid: this.id }, 'IMAP client sent invalid DEFLATE data');
      this.destroy();
    });
    inflate.on('data', (chunk: Buffer) => {
      if (this.inflateTripped) return;
      this.inflatedIn += chunk.length;
      // Zip bomb guard: inflated input may be at most slack + ratio × compressed input.
      if (this.inflatedIn > this.limits.inflateSlackBytes + this.limits.inflateRatio * this.compressedIn) {
        this.inflateTripped = true;
        this.logger.warn({ cid: this.id, compressed: this.compressedIn, inflated: this.inflatedIn }, 'IMAP COMPRESS expansion bound exceeded');
        this.reader.close();
        void this.byeAndClose('Compressed input expands too much');
        return;
      }
      this.onBytes(chunk);
    });
    deflate.pipe(this.socket);
    this.out.setSink(deflate);
    this.deflate = deflate;
    this.inflate = inflate;
    this.compressed = true;
  }

  private async writeNow(line: string): Promise<void> {
    try {
      await this.out.line(line);
      await this.out.flush();
    } catch (error) {
      this.logger.debug({ cid: this.id, err: errorSummary(error) }, 'IMAP write failed');
    }
  }

  private async tooLong(reply: string): Promise<void> {
    this.logger.info({ cid: this.id, reason: 'line too long' }, 'IMAP connection closed by input guard');
    await this.shutdown([reply, '* BYE Too much input without a line break']);
  }

  private async byeAndClose(text: string): Promise<void> {
    await this.shutdown([`* BYE ${text}`]);
  }

  /**
   * Writes the final lines and what is still batched, then ends the stream. The time limit starts before the
   * writes: a client that does not read (writes waiting for 'drain') is cut off after 2 s all the same.
   */
  private async shutdown(finalLines: readonly string[] = []): Promise<void> {
    if (this.closing || this.closedFlag) return;
    this.closing = true;
    this.reader.close();
    this.lineWaiter?.(null);
    this.lineWaiter = null;
    const fallback = setTimeout(() => this.destroy(), 2000);
    fallback.unref();
    try {
      for (const line of finalLines) await this.out.line(line);
      await this.out.flush();
    } catch {}
    this.out.close();
    if (this.deflate) this.deflate.end();
    else this.socket.end();
  }

  private destroy(): void {
    this.socket.destroy();
    this.cleanup();
  }

  private cleanup(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.closing = true;
    this.reader.close();
    this.out.close();
    this.lineWaiter?.(null);
    this.lineWaiter = null;
    if (this.preAuthTimer) clearTimeout(this.preAuthTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.inflate?.destroy();
    try {
      if (this.user) this.shared.hub.remove(this.user.mailbox.id, this);
      this.user?.release();
    } catch (error) {
      this.logger.error({ err: errorSummary(error) }, 'IMAP session cleanup failed');
    }
    this.user = null;
    this.view = null;
    if (!this.socket.destroyed) this.socket.destroy();
    this.logger.debug({ event: 'imap.close', cid: this.id }, 'IMAP connection closed');
    this.shared.closed(this);
  }
}
