// Input guards in front of imap-core's parser (which has no line limit and buffers literals before checking
// the command's state). Connection caps per IP, in all and per alias are ConnectionGates (server/net.ts).
import type { ImapConnection, ImapStreamCommand } from '@zone-eu/wildduck/imap-core/index.js';
import { isHiddenCommand } from './commands.js';
import type { ImapLimits } from './runtime.js';
import type { ReaderCommand } from './reader.js';
import type { ConnectionState } from './state.js';
import type { Logger } from '../log.js';

const tagOf = (line: string): string => {
  const tag = /^([^\s{}()"\\*%]{1,64})\s/.exec(line)?.[1];
  return tag ?? '*';
};

/**
 * Wraps the connection's parser: bounds line length (before and after login), the number of literals per
 * command and literal sizes before login, hides commands we do not advertise, and drops plaintext pipelined
 * behind STARTTLS.
 */
export function guardInput(connection: ImapConnection, state: ConnectionState, limits: ImapLimits, logger: Logger): void {
  const parser = connection._parser;
  if (!parser) return;
  const lineLimit = (): number => (state.user ? limits.maxLineBytes : limits.maxLineBytesPreAuth);
  let dead = false;

  const kill = (reason: string): void => {
    if (dead) return;
    dead = true;
    logger.info({ cid: connection.id, reason }, 'IMAP connection closed by input guard');
    connection.send('* BAD Line too long');
    connection.send('* BYE Too much input without a line break');
    setImmediate(() => connection.close(true));
  };

  const write = parser._write.bind(parser);
  parser._write = (chunk: Buffer, encoding: BufferEncoding, done: (error?: Error | null) => void): void => {
    if (dead) return done();
    write(chunk, encoding, (error?: Error | null) => {
      // imap-core keeps an unterminated line in _remainder and would grow it forever.
      if (state.starttlsPending && !connection.secure) parser._remainder = '';
      if (!parser._expecting && parser._remainder.length > lineLimit()) {
        parser._remainder = '';
        kill('line too long');
      }
      done(error);
    });
  };

  const oncommand = parser.oncommand;
  let currentTag = '*';
  parser.oncommand = (command: ImapStreamCommand, callback?: (err?: Error | null) => void): void => {
    const next = callback ?? ((): void => undefined);
    // A dropped line that announced a literal is refused (error), so the reader does not wait for its bytes.
    const drop = (): void => (command.final ? next() : next(new Error('input dropped')));
    if (dead) return drop();
    if (state.starttlsPending) {
      if (!connection.secure) return drop(); // pipelined plaintext after STARTTLS: never executed
      state.starttlsPending = false;
    }
    const line = typeof command.value === 'string' ? command.value : String(command.value);
    const inContinuation = typeof connection._nextHandler === 'function';
    if (state.literalCount === 0 && !inContinuation) currentTag = tagOf(line);
    const refuse = (message: string, response = 'BAD'): void => {
      connection._currentCommand = false;
      state.literalCount = 0;
      if (!inContinuation) connection.send(`${currentTag} ${response} ${message}`);
      else connection.send(`* BAD ${message}`);
      if (command.final) next();
      else next(new Error(message)); // tells the stream to forget the announced literal
    };
    if (line.length > lineLimit()) return refuse('Line too long');
    if (!inContinuation && state.literalCount === 0 && isHiddenCommand(line)) return refuse('Unknown command');
    if (!command.final) {
      state.literalCount++;
      const expecting = command.expecting ?? 0;
      if (state.literalCount > limits.maxLiteralsPerCommand) return refuse('Too many literals in one command');
      if (!state.user && expecting > limits.maxLiteralBytesPreAuth) return refuse('Literal too large before login');
      // imap-core never enforces less than 1 MiB itself: the advertised APPENDLIMIT is checked here (RFC 7889).
      if (expecting > limits.maxMessageBytes) return refuse(`[TOOBIG] Message exceeds the APPENDLIMIT of ${limits.maxMessageBytes} bytes`, 'NO');
    } else {
      state.literalCount = 0;
    }
    if (command.final) command.value = quoteForParser(line);
    if (!(command as ReaderCommand).nonSync) return oncommand(command, callback);
    // LITERAL+: the client does not wait for imap-core's "+ Go ahead", which it sends synchronously while
    // accepting the literal; the send() guard below drops it.
    state.nonSyncLiteral = true;
    try {
      oncommand(command, callback);
    } finally {
      state.nonSyncLiteral = false;
    }
  };

  const send = connection.send.bind(connection);
  connection.send = (payload: string, done?: () => void): void => {
    if (state.nonSyncLiteral && payload === '+ Go ahead') return done?.();
    send(payload, done);
  };
}

/** Lines imap-core's parser would wrongly reject, rewritten to an equivalent it accepts. */
export function quoteForParser(line: string): string {
  if (/QRESYNC/i.test(line)) return quoteQresyncSets(line);
  if (/^\S+\s+(LIST|LSUB)\s/i.test(line)) return quoteListWildcards(line);
  return line;
}

/** RFC 3501 list-mailbox allows "*" and "%" inside atoms (LSUB "" Work/*); imap-core's parser does not. */
export function quoteListWildcards(line: string): string {
  return line.replace(/(?<=\s)([^\s"(){}\\]*[*%][^\s"(){}\\]*)(?=\s|$)/g, (token) => (token === '*' || token === '%' ? token : `"${token}"`));
}

/**
 * imap-core's parser rejects sequence sets ("1:5", "1,3") inside parenthesised lists, which is exactly where
 * SELECT … (QRESYNC (uidvalidity modseq known-uids (seq-match))) puts them: quote them so they parse as strings.
 */
export function quoteQresyncSets(line: string): string {
  const at = line.search(/\(QRESYNC\s*\(/i);
  if (at < 0 || !/^\S+\s+(SELECT|EXAMINE)\s/i.test(line)) return line;
  const head = line.slice(0, at);
  const tail = line.slice(at).replace(/(?<=[\s(])([\d*]+[:,][\d:*,]*)(?=[\s)])/g, '"$1"');
  return head + tail;
}
