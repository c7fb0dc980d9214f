// Runtime extension of imap-core's command table (never edited on disk): every command handler is wrapped in
// a guard that answers exactly once and never lets a throw escape, plus the few commands we answer ourselves.
// imap-core's IMAPCommand looks handlers up in a module-level Map of the very objects require() returns, so
// replacing `handler` on those objects (once per process) changes what every connection runs.
import { createRequire } from 'node:module';
import type {
  ImapCommandCallback,
  ImapCommandModule,
  ImapCommandResponse,
  ImapConnection,
  ImapParsedCommand,
} from '@zone-eu/wildduck/imap-core/index.js';
import imapTools from '@zone-eu/wildduck/imap-core/lib/imap-tools.js';
import { loginAllowed, sendCapabilityResponse } from './capabilities.js';
import { compressCommand } from './compress.js';
import { errorSummary, type ImapReply } from './errors.js';
import { enableCommand, fetchWithVanished, selectWithQresync } from './qresync.js';
import { getQuotaCommand, getQuotaRootCommand } from './hooks/quota.js';
import { runtimeOf, type ImapRuntime } from './runtime.js';
import { upgradeToTls } from './starttls.js';
import { searchCommand } from './search.js';
import { listCommand, lsubCommand } from './list.js';
import { stateOf, type ConnectionState } from './state.js';

const require = createRequire(import.meta.url);
const COMMANDS_DIR = '@zone-eu/wildduck/imap-core/lib/commands/';

function commandModule(file: string): ImapCommandModule {
  return require(`${COMMANDS_DIR}${file}.js`) as ImapCommandModule;
}

/** Every file imap-core registers a command from (lib/imap-command.js). */
const COMMAND_FILES = [
  'noop', 'capability', 'logout', 'id', 'starttls', 'login', 'authenticate-plain', 'namespace', 'list', 'lsub',
  'subscribe', 'unsubscribe', 'create', 'delete', 'rename', 'select', 'idle', 'check', 'status', 'append', 'store',
  'uid-store', 'expunge', 'uid-expunge', 'close', 'unselect', 'copy', 'move', 'fetch', 'search', 'enable',
  'getquotaroot', 'setquota', 'getquota', 'compress', 'xapplepushservice',
] as const;

type Handler = ImapCommandModule['handler'];

function stateIfAny(connection: ImapConnection): ConnectionState | null {
  try {
    return stateOf(connection.session);
  } catch {
    return null;
  }
}

function asResponse(reply: ImapReply): ImapCommandResponse {
  return { response: reply.response, code: reply.code ?? false, message: reply.message };
}

/** Wraps a handler: one tagged reply, pending hook replies win, synchronous throws become BAD/NO. */
function guard(name: string, handler: Handler): Handler {
  return function guarded(this: ImapConnection, command: ImapParsedCommand, callback: ImapCommandCallback, next: () => void): void {
    const state = stateIfAny(this);
    let answered = false;
    const answer: ImapCommandCallback = (err, response) => {
      if (answered) return;
      answered = true;
      if (state) {
        state.current = null;
        const pending = state.pendingReply;
        state.pendingReply = null;
        if (pending) return callback(null, asResponse(pending));
      }
      callback(err, response);
    };
    if (state) {
      state.pendingReply = null;
      state.current = { name, finish: (reply) => answer(null, asResponse(reply)) };
    }
    try {
      handler.call(this, command, answer, next);
    } catch (error) {
      try {
        runtimeOf(this._server).logger.warn({ command: name, err: errorSummary(error) }, 'IMAP command handler threw');
      } catch {}
      // A throw before any hook ran is imap-core choking on arguments it did not expect: the client's fault.
      answer(null, { response: 'BAD', message: 'Invalid arguments' });
    }
  };
}

/** LOGIN / AUTHENTICATE in plaintext only from loopback; elsewhere the client must STARTTLS first. */
function requireTls(original: Handler, response: 'BAD' | 'NO'): Handler {
  return function (this: ImapConnection, command, callback, next) {
    if (!loginAllowed(this)) {
      return callback(null, { response, code: 'PRIVACYREQUIRED', message: 'Run STARTTLS first' });
    }
    return original.call(this, command, callback, next);
  };
}

/** STARTTLS: refused after login; upgraded by us (starttls.ts), so plaintext pipelined behind it is never run. */
function starttlsGuarded(): Handler {
  return function (this: ImapConnection, _command, callback) {
    if (this.state !== 'Not Authenticated') {
      return callback(null, { response: 'BAD', message: 'STARTTLS is only allowed before login' });
    }
    if (this.secure) return callback(null, { response: 'NO', message: 'Connection is already secured' });
    let runtime: ImapRuntime | null = null;
    try {
      runtime = runtimeOf(this._server);
    } catch {}
    if (!runtime?.tlsAvailable) return callback(null, { response: 'NO', message: 'TLS is not available' });
    const state = stateIfAny(this);
    if (state) state.starttlsPending = true;
    const tlsRuntime = runtime;
    // The tagged OK goes out in plaintext first; the handshake starts once it is written.
    setImmediate(() => upgradeToTls(this, state, tlsRuntime));
    callback(null, { response: 'OK', message: 'Begin TLS negotiation now' });
  };
}

const unknownCommand: Handler = function (this: ImapConnection, command, callback) {
  callback(null, { response: 'BAD', message: `Unknown command: ${String(command.command).toUpperCase().slice(0, 40)}` });
};

let installed = false;

/** Installs the guards and extensions once per process. */
export function installCommandExtensions(): void {
  if (installed) return;
  installed = true;

  // Capabilities: ours, everywhere imap-core would send its own list.
  imapTools.sendCapabilityResponse = sendCapabilityResponse;

  const replace: Partial<Record<(typeof COMMAND_FILES)[number], (original: Handler) => Handler>> = {
    // Ours (list.ts): \Noselect, LIST-STATUS; imap-core's LSUB also crashed on an empty name.
    list: () => listCommand,
    lsub: () => lsubCommand,
    login: (original) => requireTls(original, 'BAD'),
    'authenticate-plain': (original) => requireTls(original, 'NO'),
    starttls: starttlsGuarded,
    select: selectWithQresync,
    fetch: fetchWithVanished,
    search: () => searchCommand,
    enable: () => enableCommand,
    compress: () => compressCommand.handler,
    getquotaroot: () => getQuotaRootCommand,
    getquota: () => getQuotaCommand,
    xapplepushservice: () => unknownCommand,
  };

  for (const file of COMMAND_FILES) {
    const mod = commandModule(file);
    const extend = replace[file];
    const handler = extend ? extend(mod.handler) : mod.handler;
    mod.handler = guard(file, handler);
  }
  // imap-core's ENABLE wants exactly the CONDSTORE/UTF8 atoms; ours takes any list (schema checked in the handler).
  commandModule('enable').schema = false;
  // LIST/LSUB arguments (selection and RETURN options) are checked by list.ts.
  commandModule('list').schema = false;
  commandModule('lsub').schema = false;
  commandModule('compress').state = compressCommand.state;
  // STARTTLS after login would tear down a compressed/authenticated stream.
  commandModule('starttls').state = 'Not Authenticated';
}

/** XLIST and AUTHENTICATE PLAIN-CLIENTTOKEN share modules with LIST / AUTHENTICATE PLAIN; refuse them by name. */
export function isHiddenCommand(line: string): boolean {
  return /^\S+\s+(XLIST|AUTHENTICATE\s+PLAIN-CLIENTTOKEN)\b/i.test(line);
}
