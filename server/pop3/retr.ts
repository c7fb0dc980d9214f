// A POP3 multi-line reply (RFC 1939 §3) built in one buffer: the status line, the message with every line
// ending in CRLF and every line that starts with "." byte-stuffed, then the terminating ".\r\n". One buffer is
// one socket write: a RETR costs one send() instead of a stream pipeline with a write per piece.
const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n', 'latin1');
const STUFFED_DOT = Buffer.from('.', 'latin1');
const END_AFTER_LF = Buffer.from('.\r\n', 'latin1');
const END_AFTER_CR = Buffer.from('\n.\r\n', 'latin1');
const END_AFTER_TEXT = Buffer.from('\r\n.\r\n', 'latin1');

/**
 * `${status}\r\n`, then `message` with bare LF turned into CRLF and an extra "." before every line that starts
 * with ".", then the terminator: the last line is completed with CRLF when it has no line end of its own.
 * A lone CR is not a line end (it is passed through, as by nodemailer's SMTP DATA encoder).
 */
export function multilineReply(status: string, message: Buffer): Buffer {
  const head = Buffer.from(`${status}\r\n`, 'latin1');
  const pieces: Buffer[] = [head];
  let total = head.length;
  const push = (piece: Buffer): void => {
    if (piece.length === 0) return;
    pieces.push(piece);
    total += piece.length;
  };
  if (message.length === 0) {
    push(END_AFTER_LF);
    return Buffer.concat(pieces, total);
  }
  if (message[0] === DOT) push(STUFFED_DOT);
  let from = 0;
  for (let lf = message.indexOf(LF); lf !== -1; lf = message.indexOf(LF, lf + 1)) {
    const bare = lf === 0 || message[lf - 1] !== CR;
    const dotNext = message[lf + 1] === DOT;
    if (!bare && !dotNext) continue;
    if (bare) {
      push(message.subarray(from, lf));
      push(CRLF);
    } else {
      push(message.subarray(from, lf + 1));
    }
    if (dotNext) push(STUFFED_DOT);
    from = lf + 1;
  }
  push(message.subarray(from));
  const last = message[message.length - 1];
  push(last === LF ? END_AFTER_LF : last === CR ? END_AFTER_CR : END_AFTER_TEXT);
  return Buffer.concat(pieces, total);
}
