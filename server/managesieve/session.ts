// One ManageSieve connection (RFC 5804): states (not logged in, SASL exchange, logged in), the commands of §2,
// and the one place store errors become responses. Every answer is OK, NO or BYE with an optional response code
// (§1.3); bad input gets NO (or BYE when the connection cannot go on), never a crash.
import type net from 'node:net';
import type tls from 'node:tls';
import type { AliasSession } from '../accounts/index.js';
import { loginRefusal, type Accounts } from '../accounts/index.js';
import type { Logger } from '../log.js';
import { MailboxError } from '../mailbox/errors.js';
import { NoSuchScript, ScriptActive, ScriptExists } from '../mailbox/sieve-store.js';
import { isLoopbackAddress } from '../net.js';
import type { SieveChecker } from './checker.js';
import type { ManageSieveLimits } from './settings.js';
import { ManageSieveReader, sieveString, type ReadEvent, type Token } from './wire.js';

export interface SessionDeps {
  readonly accounts: Pick<Accounts, 'authenticate'>;
  readonly limits: ManageSieveLimits;
  readonly checker: SieveChecker;
  readonly logger: Logger;
  readonly upgrade: (socket: net.Socket, callback: (err: Error | null, secured?: tls.TLSSocket) => void) => void;
  /** A security event about this connection's IP (rate-bounded by the caller). */
  readonly securityEvent: (event: 'tls.failed' | 'conn.closed', reason: string) => void;
}

/** A response ending a command: OK or NO with an optional response code (RFC 5804 §1.3). */
class Refusal extends Error {
  constructor(
    readonly text: string,
    readonly code?: string,
  ) {
    super(text);
  }
}

/** Script names (RFC 5804 §1.6): no controls, no line or paragraph separators; length is ours to cap. */
const MAX_NAME_CHARS = 128;
// eslint-disable-next-line no-control-regex -- control characters are exactly what a script name may not hold
const NAME_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

const errText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export class ManageSieveSession {
  private socket: net.Socket;
  private secured = false;
  private state: 'greeting' | 'unauth' | 'sasl' | 'auth' | 'ended' = 'greeting';
  private held: AliasSession | null = null;
  private commandsBeforeAuth = 0;
  private authFailures = 0;
  private busy = false;
  private upgrading = false;
  private readonly reader: ManageSieveReader;
  private readonly ip: string;
  private markClosed: () => void = () => undefined;
  /** Resolves once the connection is closed and the mailbox released. */
  readonly closed: Promise<void> = new Promise((resolve) => (this.markClosed = resolve));

  constructor(
    socket: net.Socket,
    private readonly deps: SessionDeps,
  ) {
    this.socket = socket;
    this.ip = socket.remoteAddress ?? 'unknown';
    this.reader = new ManageSieveReader({ maxLineBytes: deps.limits.maxLineBytes, maxLiteralBytes: deps.limits.maxScriptBytes });
  }

  start(): void {
    this.socket.setNoDelay(true);
    this.attach(this.socket);
    this.state = 'unauth';
    this.send([...this.capabilities(), 'OK "Sealpost ManageSieve ready"']);
  }

  /** Server stopping: BYE and close. */
  shutdown(): void {
    this.bye('Server shutting down', 'TRYLATER');
  }

  private readonly onData = (chunk: Buffer): void => {
    this.reader.push(chunk);
    void this.pump();
  };

  private readonly onTimeout = (): void => {
    if (this.state === 'unauth' || this.state === 'sasl') this.deps.securityEvent('conn.closed', 'idle-before-login');
    this.bye('Idle for too long, closing');
  };

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('timeout', this.onTimeout);
    socket.on('error', () => undefined);
    socket.once('close', () => this.finish());
    this.resetTimeout();
  }

  private resetTimeout(): void {
    this.socket.setTimeout(this.state === 'auth' ? this.deps.limits.timeoutMs : this.deps.limits.loginTimeoutMs);
  }

  private async pump(): Promise<void> {
    if (this.busy || this.upgrading) return;
    this.busy = true;
    try {
      let event: ReadEvent | null;
      while (this.state !== 'ended' && !this.upgrading && (event = this.reader.next()) !== null) {
        this.resetTimeout();
        this.socket.pause(); // nothing piles up in memory while a command awaits (AUTHENTICATE)
        try {
          await this.handle(event);
          // A client that pipelines GETSCRIPTs without reading gets its next answer after the socket drains.
          if (this.socket.writableNeedDrain) await this.drained();
        } finally {
          if (!this.upgrading && !this.ended()) this.socket.resume();
        }
      }
    } catch (error) {
      this.deps.logger.warn({ event: 'managesieve.session_failed', err: errText(error) }, 'ManageSieve session failed');
      this.bye('Internal error, try again');
    } finally {
      this.busy = false;
    }
  }

  private drained(): Promise<void> {
    const socket = this.socket;
    return new Promise((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.once('drain', done);
      socket.once('close', done);
    });
  }

  private async handle(event: ReadEvent): Promise<void> {
    if (event.type === 'line-too-long') {
      this.deps.securityEvent('conn.closed', 'line-too-long');
      return this.bye(`Command line longer than ${this.deps.limits.maxLineBytes} bytes`);
    }
    if (this.state === 'unauth' && ++this.commandsBeforeAuth > this.deps.limits.maxCommandsBeforeAuth) {
      this.deps.securityEvent('conn.closed', 'too-many-commands-before-login');
      return this.bye('Too many commands before login');
    }
    if (event.type === 'literal-too-big') {
      if (this.state === 'sasl') this.state = 'unauth';
      return this.no(`Too big: at most ${this.deps.limits.maxScriptBytes} bytes`, 'QUOTA/MAXSIZE');
    }
    if (event.type === 'syntax') {
      if (this.state === 'sasl') this.state = 'unauth';
      return this.no(event.message);
    }
    if (this.state === 'sasl') return this.saslResponse(event.tokens);
    const [first, ...args] = event.tokens;
    if (first?.kind !== 'atom') return this.no('A command name was expected');
    const name = first.value.toUpperCase();
    try {
      const done = await this.command(name, args);
      if (done !== null) this.send(done);
    } catch (error) {
      if (error instanceof Refusal) return this.no(error.text, error.code);
      this.send(this.mailboxRefusal(error));
    }
  }

  /** Runs one command; returns the final response (null when it already answered or closed). */
  private async command(name: string, args: readonly Token[]): Promise<string | null> {
    switch (name) {
      case 'CAPABILITY':
        arity(args, 0, 0);
        return [...this.capabilities(), 'OK "Capability completed"'].join('\r\n');
      case 'NOOP': {
        arity(args, 0, 1);
        const tag = args[0] ? text(args[0], 'tag') : null;
        return tag === null ? 'OK "Done"' : `OK (TAG ${sieveString(tag)}) "Done"`;
      }
      case 'LOGOUT':
        arity(args, 0, 0);
        this.end('OK "Logout completed"');
        return null;
      case 'STARTTLS':
        arity(args, 0, 0);
        if (this.secured) throw new Refusal('TLS is already active');
        if (this.state === 'auth') throw new Refusal('STARTTLS is only possible before login');
        this.startTls();
        return null;
      case 'AUTHENTICATE':
        return this.authenticate(args);
    }
    if (this.state !== 'auth') throw new Refusal(KNOWN.has(name) ? 'Log in first (AUTHENTICATE)' : 'Unknown command');
    const sieve = this.held!.mailbox.sieve;
    switch (name) {
      case 'UNAUTHENTICATE':
        arity(args, 0, 0);
        this.releaseMailbox();
        this.state = 'unauth';
        this.commandsBeforeAuth = 0;
        return 'OK "Logged out; log in again to go on"';
      case 'HAVESPACE': {
        arity(args, 2, 2);
        const scriptName = this.scriptName(args[0]!);
        const size = args[1]!.kind === 'atom' && /^\d{1,15}$/.test(args[1]!.value) ? Number(args[1]!.value) : NaN;
        if (!Number.isFinite(size)) throw new Refusal('HAVESPACE needs a script name and a size in bytes');
        this.checkSpace(scriptName, size);
        return 'OK "There is room"';
      }
      case 'PUTSCRIPT': {
        arity(args, 2, 2);
        const scriptName = this.scriptName(args[0]!);
        const script = this.scriptText(args[1]!);
        this.checkSpace(scriptName, Buffer.byteLength(script));
        const warnings = this.check(script);
        sieve.put(scriptName, script);
        this.deps.logger.info({ event: 'managesieve.put', aliasId: this.held!.alias.id, bytes: Buffer.byteLength(script) }, 'ManageSieve script stored');
        return warnings;
      }
      case 'CHECKSCRIPT':
        arity(args, 1, 1);
        return this.check(this.scriptText(args[0]!));
      case 'LISTSCRIPTS':
        arity(args, 0, 0);
        return [...sieve.list().map((s) => (s.active ? `${sieveString(s.name)} ACTIVE` : sieveString(s.name))), 'OK "Listscripts completed"'].join('\r\n');
      case 'SETACTIVE': {
        arity(args, 1, 1);
        const raw = text(args[0]!, 'script name');
        sieve.setActive(raw === '' ? null : this.scriptName(args[0]!));
        return raw === '' ? 'OK "No script is active now"' : 'OK "Script is active"';
      }
      case 'GETSCRIPT': {
        arity(args, 1, 1);
        const script = sieve.get(this.scriptName(args[0]!));
        if (script === null) throw new NoSuchScript();
        return `{${Buffer.byteLength(script)}}\r\n${script}\r\nOK "Getscript completed"`;
      }
      case 'DELETESCRIPT':
        arity(args, 1, 1);
        sieve.delete(this.scriptName(args[0]!));
        return 'OK "Script deleted"';
      case 'RENAMESCRIPT':
        arity(args, 2, 2);
        sieve.rename(this.scriptName(args[0]!), this.scriptName(args[1]!));
        return 'OK "Script renamed"';
      default:
        throw new Refusal('Unknown command');
    }
  }

  /** RFC 5804 §2.3: one script's size, the number of scripts and their total size, all within the limits. */
  private checkSpace(scriptName: string, size: number): void {
    const { maxScriptBytes, maxScripts, maxTotalBytes } = this.deps.limits;
    if (size > maxScriptBytes) throw new Refusal(`A script may have at most ${maxScriptBytes} bytes`, 'QUOTA/MAXSIZE');
    const scripts = this.held!.mailbox.sieve.list();
    const existing = scripts.find((s) => s.name === scriptName);
    if (!existing && scripts.length >= maxScripts) throw new Refusal(`At most ${maxScripts} scripts; delete one first`, 'QUOTA/MAXSCRIPTS');
    const total = scripts.reduce((sum, s) => sum + s.size, 0) - (existing?.size ?? 0) + size;
    if (total > maxTotalBytes) throw new Refusal(`All scripts together may have at most ${maxTotalBytes} bytes`, 'QUOTA/MAXSIZE');
  }

  /** The checker's verdict as the final response (RFC 5804 §2.6: NO with the error; OK (WARNINGS) for warnings). */
  private check(script: string): string {
    const result = this.deps.checker.check(script);
    if (!result.ok) throw new Refusal(`line ${result.line}: ${result.message}`);
    if (result.warnings && result.warnings.length > 0) return `OK (WARNINGS) ${sieveString(result.warnings.join('; '))}`;
    return 'OK "Script is valid"';
  }

  private scriptName(token: Token): string {
    const name = text(token, 'script name');
    if (name === '' || NAME_FORBIDDEN.test(name) || [...name].length > MAX_NAME_CHARS) {
      throw new Refusal(`A script name is 1 to ${MAX_NAME_CHARS} characters without control characters`);
    }
    return name;
  }

  private scriptText(token: Token): string {
    if (token.kind !== 'string') throw new Refusal('The script must be a string or literal');
    try {
      return utf8.decode(token.value);
    } catch {
      throw new Refusal('A script must be UTF-8 text');
    }
  }

  // ── login ────────────────────────────────────────────────────────────

  /** PLAIN is offered once the connection is encrypted, or on loopback when the setting allows it. */
  private plaintextLoginAllowed(): boolean {
    return this.secured || (this.deps.limits.plaintextLoginOnLoopback && isLoopbackAddress(this.ip));
  }

  private async authenticate(args: readonly Token[]): Promise<string | null> {
    arity(args, 1, 2);
    if (this.state === 'auth') throw new Refusal('Already logged in');
    if (!this.plaintextLoginAllowed()) throw new Refusal('Use STARTTLS before logging in', 'ENCRYPT-NEEDED');
    const mechanism = text(args[0]!, 'mechanism').toUpperCase();
    if (mechanism !== 'PLAIN') throw new Refusal('Only the PLAIN mechanism is supported');
    if (args[1]) return this.plain(args[1]);
    this.state = 'sasl';
    this.send('""'); // RFC 5804 §2.1: an empty challenge; the client answers with its credentials
    return null;
  }

  private async saslResponse(tokens: readonly Token[]): Promise<void> {
    this.state = 'unauth';
    if (tokens.length !== 1 || tokens[0]!.kind !== 'string') return this.no('A string with the credentials was expected');
    if (tokens[0]!.value.toString('latin1') === '*') return this.no('Authentication cancelled');
    try {
      const done = await this.plain(tokens[0]!);
      if (done !== null) this.send(done);
    } catch (error) {
      if (error instanceof Refusal) return this.no(error.text, error.code);
      throw error;
    }
  }

  /** SASL PLAIN (RFC 4616): base64 of [authzid] NUL authcid NUL password. */
  private async plain(token: Token): Promise<string | null> {
    const encoded = token.kind === 'string' ? token.value.toString('latin1') : token.value;
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return this.authFailed('The credentials are not valid base64');
    const parts = Buffer.from(encoded, 'base64').toString('utf8').split('\0');
    if (parts.length !== 3 || parts[1] === '' || parts[2] === '') return this.authFailed('PLAIN credentials are [authzid] NUL address NUL password');
    const [authzid, address, password] = parts as [string, string, string];
    if (authzid !== '' && authzid !== address) return this.authFailed('Logging in as someone else is not supported');
    let held: AliasSession;
    try {
      held = await this.deps.accounts.authenticate(address, password, { ip: this.ip, protocol: 'managesieve' });
    } catch (error) {
      const refusal = loginRefusal(error);
      if (refusal === 'too-many-attempts') return this.authFailed('Too many failed logins, try again later', 'TRYLATER');
      if (refusal === 'invalid-credentials') return this.authFailed('Invalid address or password');
      throw error;
    }
    if (this.ended()) {
      held.release();
      return null;
    }
    this.held = held;
    this.state = 'auth';
    // Password changed, alias locked or removed, mailbox restored: the session ends (RFC 5804 §1.3 BYE).
    held.onRevoked?.(() => this.bye('The mailbox was locked or its password changed; log in again'));
    this.deps.logger.info({ event: 'managesieve.login', aliasId: held.alias.id }, 'ManageSieve login');
    return 'OK "Logged in"';
  }

  private authFailed(message: string, code?: string): string | null {
    this.authFailures += 1;
    if (this.authFailures >= this.deps.limits.maxAuthFailures) {
      this.deps.securityEvent('conn.closed', 'too-many-auth-failures');
      this.bye('Too many failed logins on this connection');
      return null;
    }
    return respond('NO', message, code);
  }

  // ── TLS ──────────────────────────────────────────────────────────────

  /**
   * STARTTLS (RFC 5804 §2.2): whatever the client sent behind the STARTTLS line arrived in plaintext and is
   * dropped, so it can never run as a command inside TLS; after the handshake the capabilities are sent again.
   */
  private startTls(): void {
    this.upgrading = true;
    this.reader.reset();
    const raw = this.socket;
    raw.write('OK "Begin TLS negotiation now"\r\n');
    raw.removeListener('data', this.onData);
    raw.removeListener('timeout', this.onTimeout);
    raw.setTimeout(0);
    raw.resume(); // paused by pump(); the TLS socket reads from it from here on
    this.deps.upgrade(raw, (err, secure) => {
      if (err || !secure) {
        if (err && !/closed/i.test(err.message) && (err as { code?: string }).code !== 'ERR_TLS_HANDSHAKE_TIMEOUT') this.deps.securityEvent('tls.failed', 'handshake-failed');
        this.state = 'ended';
        this.finish();
        return;
      }
      this.reader.reset();
      this.socket = secure;
      this.secured = true;
      this.upgrading = false;
      this.attach(secure);
      this.send([...this.capabilities(), 'OK "TLS is active"']);
      void this.pump();
    });
  }

  // ── responses and closing ────────────────────────────────────────────

  private capabilities(): string[] {
    const { checker } = this.deps;
    const lines = ['"IMPLEMENTATION" "Sealpost"', `"SASL" "${this.plaintextLoginAllowed() && this.state !== 'auth' ? 'PLAIN' : ''}"`, `"SIEVE" ${sieveString(checker.extensions.join(' '))}`];
    if (!this.secured) lines.push('"STARTTLS"');
    if (checker.maxRedirects !== null) lines.push(`"MAXREDIRECTS" "${checker.maxRedirects}"`);
    lines.push('"VERSION" "1.0"');
    return lines;
  }

  /** The one place store errors become responses (RFC 5804 §1.3 response codes). */
  private mailboxRefusal(error: unknown): string {
    if (error instanceof NoSuchScript) return respond('NO', 'There is no script of that name', 'NONEXISTENT');
    if (error instanceof ScriptExists) return respond('NO', 'A script of that name already exists', 'ALREADYEXISTS');
    if (error instanceof ScriptActive) return respond('NO', 'The active script cannot be deleted; deactivate it first', 'ACTIVE');
    if (error instanceof MailboxError && (error.code === 'RETRYABLE' || error.code === 'MAILBOX_LOCKED')) return respond('NO', 'The mailbox is busy, try again later', 'TRYLATER');
    this.deps.logger.warn({ event: 'managesieve.command_failed', err: errText(error) }, 'ManageSieve command failed');
    return respond('NO', 'Internal error, try again later', 'TRYLATER');
  }

  private no(message: string, code?: string): void {
    this.send(respond('NO', message, code));
  }

  private send(lines: string | readonly string[]): void {
    if (this.state === 'ended' || this.socket.destroyed) return;
    this.socket.write(`${typeof lines === 'string' ? lines : lines.join('\r\n')}\r\n`);
  }

  private bye(message: string, code?: string): void {
    this.end(respond('BYE', message, code));
  }

  /** Sends a last line and closes (destroying the socket if the client does not read it). */
  private end(line: string): void {
    if (this.state === 'ended') return;
    this.send(line);
    this.state = 'ended';
    const socket = this.socket;
    socket.pause();
    const timer = setTimeout(() => socket.destroy(), 1000);
    timer.unref();
    socket.end(() => {
      clearTimeout(timer);
      socket.destroy();
    });
    this.releaseMailbox();
  }

  /** Read through a call: TypeScript would otherwise keep a narrowing across the awaits that change it. */
  private ended(): boolean {
    return this.state === 'ended';
  }

  private releaseMailbox(): void {
    const held = this.held;
    this.held = null;
    held?.release();
  }

  private finish(): void {
    this.state = 'ended';
    this.releaseMailbox();
    if (!this.upgrading && !this.socket.destroyed) this.socket.destroy();
    this.markClosed();
  }
}

/** Commands that need a login: refused with "log in first" rather than "unknown". */
const KNOWN = new Set(['UNAUTHENTICATE', 'HAVESPACE', 'PUTSCRIPT', 'CHECKSCRIPT', 'LISTSCRIPTS', 'SETACTIVE', 'GETSCRIPT', 'DELETESCRIPT', 'RENAMESCRIPT']);

function respond(kind: 'OK' | 'NO' | 'BYE', message: string, code?: string): string {
  return `${kind}${code ? ` (${code})` : ''} ${sieveString(message)}`;
}

function arity(args: readonly Token[], min: number, max: number): void {
  if (args.length < min || args.length > max) throw new Refusal(min === max ? `This command takes ${min} argument(s)` : `This command takes ${min} to ${max} arguments`);
}

/** A string argument as UTF-8 text (atoms are accepted where clients send them bare). */
function text(token: Token, what: string): string {
  if (token.kind === 'atom') return token.value;
  try {
    return utf8.decode(token.value);
  } catch {
    throw new Refusal(`The ${what} must be UTF-8`);
  }
}
