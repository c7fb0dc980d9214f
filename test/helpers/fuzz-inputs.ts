// Seeded fuzz inputs: random lines, grammar-built IMAP/POP3/SMTP commands and their mutations, and mutated
// MIME messages. Same seed → same inputs (print the seed on failure to replay: SEALPOST_FUZZ_SEED=n).

/** mulberry32. */
export class Rng {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number, printable = false): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = printable ? 0x20 + this.int(95) : this.int(256);
    return b;
  }
}

const NUMBERS = ['0', '1', '2', '*', '4294967295', '4294967296', '-1', '99999999999999999999', '1:*', '*:1', '1,2,3', '1:0', '0:0', '2:4,7', '1:2:3', ',', ':'];
const STRINGS = ['INBOX', '"INBOX"', '""', '"Kept"', 'Trash', '"a\\"b"', '"ümlaut"', '"&AOQ-"', '"%"', '"*"', '"INBOX/../x"', '"' + 'x'.repeat(300) + '"', 'NIL', '()', '(', ')', '"\\\\"'];
const FETCH_ITEMS = ['FLAGS', 'UID', 'ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'RFC822.SIZE', 'INTERNALDATE', 'BODY[]', 'BODY.PEEK[]', 'BODY[HEADER]', 'BODY[TEXT]', 'BODY[1]', 'BODY[1.2.3.4]', 'BODY[1.MIME]', 'BODY[HEADER.FIELDS (SUBJECT FROM)]', 'BODY[HEADER.FIELDS.NOT (TO)]', 'BODY[]<0.10>', 'BODY[]<5>', 'BINARY[1]', 'BINARY.SIZE[1]', 'MODSEQ', 'ALL', 'FAST', 'FULL', 'BODY[999]', 'BODY[0]', 'BODY[]<4294967295.1>'];
const SEARCH_KEYS = ['ALL', 'SEEN', 'UNSEEN', 'BODY x', 'TEXT "a b"', 'SUBJECT ü', 'FROM a', 'OR SEEN DELETED', 'NOT ALL', 'LARGER 100', 'SMALLER 0', 'SINCE 1-Jan-2020', 'BEFORE 32-Foo-99999', 'UID 1:*', 'HEADER X-Y z', 'MODSEQ 1', '(SEEN (UNSEEN))', 'CHARSET UTF-8 BODY x', 'CHARSET X-UNKNOWN BODY x', 'KEYWORD $x', 'NOT NOT NOT', 'OR', '1:*'];
const FLAGS = ['\\Seen', '\\Deleted', '\\Flagged', '\\Answered', '\\Draft', '\\Recent', '$Junk', 'custom', '\\Bogus', '(', ')'];

function imapTemplate(r: Rng): string {
  const n = (): string => r.pick(NUMBERS);
  const s = (): string => r.pick(STRINGS);
  const items = (): string => (r.chance(0.5) ? r.pick(FETCH_ITEMS) : `(${Array.from({ length: 1 + r.int(4) }, () => r.pick(FETCH_ITEMS)).join(' ')})`);
  const flags = (): string => `(${Array.from({ length: r.int(3) }, () => r.pick(FLAGS)).join(' ')})`;
  const uid = r.chance(0.3) ? 'UID ' : '';
  const commands = [
    () => 'CAPABILITY',
    () => 'NOOP',
    () => `LOGIN ${s()} ${s()}`,
    () => `SELECT ${s()}`,
    () => `EXAMINE ${s()}`,
    () => `${uid}FETCH ${n()} ${items()}`,
    () => `${uid}FETCH ${n()} ${items()} (CHANGEDSINCE ${n()})`,
    () => `${uid}STORE ${n()} ${r.pick(['+FLAGS', '-FLAGS', 'FLAGS', '+FLAGS.SILENT', 'X'])} ${flags()}`,
    () => `${uid}SEARCH ${Array.from({ length: 1 + r.int(3) }, () => r.pick(SEARCH_KEYS)).join(' ')}`,
    () => `${uid}COPY ${n()} ${s()}`,
    () => `${uid}MOVE ${n()} ${s()}`,
    () => `${r.chance(0.5) ? 'UID ' : ''}EXPUNGE${r.chance(0.3) ? ` ${n()}` : ''}`,
    () => `LIST ${s()} ${s()}`,
    () => `LIST (SPECIAL-USE) "" "*" RETURN (STATUS (MESSAGES))`,
    () => `LSUB ${s()} ${s()}`,
    () => `STATUS ${s()} (${r.pick(['MESSAGES', 'UIDNEXT', 'UNSEEN', 'HIGHESTMODSEQ', 'BOGUS', ''])})`,
    () => `CREATE ${s()}`,
    () => `DELETE ${s()}`,
    () => `RENAME ${s()} ${s()}`,
    () => `SUBSCRIBE ${s()}`,
    () => `UNSUBSCRIBE ${s()}`,
    () => `ENABLE ${r.pick(['QRESYNC', 'CONDSTORE', 'UTF8=ACCEPT', 'X'])}`,
    () => `ID ${r.pick(['NIL', '("name" "fuzz")', '(', '("a")'])}`,
    () => `GETQUOTAROOT ${s()}`,
    () => `GETQUOTA ${s()}`,
    () => 'CHECK',
    () => 'CLOSE',
    () => 'UNSELECT',
    () => `NAMESPACE`,
    () => `SORT (DATE) UTF-8 ALL`,
    () => `THREAD REFERENCES UTF-8 ALL`,
    () => `AUTHENTICATE PLAIN ${Buffer.from(`\0${r.pick(['a', 'fuzz'])}\0${r.pick(['b', ''])}`).toString('base64')}`,
    () => `SELECT INBOX (QRESYNC (1 ${n()}))`,
  ];
  return r.pick(commands)();
}

/** Byte-level and token-level mutations of a line (never CR or LF: one input is one line). */
export function mutateLine(r: Rng, line: string): Buffer {
  let b = Buffer.from(line, 'utf8');
  const rounds = r.int(4);
  for (let i = 0; i < rounds; i++) {
    const op = r.int(8);
    const at = r.int(b.length + 1);
    if (op === 0) b = Buffer.concat([b.subarray(0, at), r.bytes(1 + r.int(8)), b.subarray(at)]);
    else if (op === 1 && b.length) b[Math.min(at, b.length - 1)] = r.int(256);
    else if (op === 2) b = b.subarray(0, at);
    else if (op === 3) b = Buffer.concat([b.subarray(0, at), Buffer.from(r.pick(['(', ')', '"', '\\', '[', ']', '<', '>', '{', '}', ' ', '*', '%', '\0', '\t', 'ÿ'])), b.subarray(at)]);
    else if (op === 4) b = Buffer.concat([b, b.subarray(0, Math.min(b.length, 200))]);
    else if (op === 5) b = Buffer.concat([b.subarray(0, at), Buffer.from(' '.repeat(1 + r.int(50))), b.subarray(at)]);
    else if (op === 6) b = Buffer.concat([b.subarray(0, at), Buffer.from('A'.repeat(r.pick([100, 1000, 9000, 70000]))), b.subarray(at)]);
    else b = Buffer.from(b.toString('latin1').toLowerCase(), 'latin1');
  }
  // One input per line; literal announcements would make the server (rightly) wait for bytes we never send.
  return Buffer.from(b.toString('latin1').replace(/[\r\n]/g, ' ').replace(/\{(\d*\+?)\}/g, '($1)'), 'latin1');
}

/** An IMAP command line without its tag: random bytes, a grammar-built command, or a mutated one. */
export function imapInput(r: Rng): Buffer {
  const kind = r.int(10);
  if (kind === 0) return Buffer.from(r.bytes(1 + r.int(120)).toString('latin1').replace(/[\r\n{]/g, ' '), 'latin1');
  if (kind < 5) return Buffer.from(imapTemplate(r), 'utf8');
  return mutateLine(r, imapTemplate(r));
}

const POP3 = ['USER fuzz', 'PASS x', 'STAT', 'LIST', 'LIST 1', 'LIST 0', 'LIST 99999999999', 'LIST -1', 'UIDL', 'UIDL 1', 'RETR 1', 'RETR 0', 'RETR x', 'TOP 1 0', 'TOP 1 -5', 'TOP 1 99999999', 'DELE 1', 'DELE 999', 'NOOP', 'RSET', 'CAPA', 'APOP fuzz 0123456789abcdef', 'AUTH PLAIN AGZ1enoAeA==', 'AUTH', 'STLS', 'UTF8', 'XTND', ''];

/** A POP3 command line (no QUIT: the harness ends sessions itself). */
export function pop3Input(r: Rng): Buffer {
  const kind = r.int(10);
  if (kind === 0) return Buffer.from(r.bytes(1 + r.int(80)).toString('latin1').replace(/[\r\n]/g, ' '), 'latin1');
  const line = r.pick(POP3.filter((c) => c !== 'STLS' && !c.startsWith('AUTH')));
  if (kind < 5) return Buffer.from(line);
  const m = mutateLine(r, line);
  // QUIT would end the session, STLS/AUTH switch the stream to another protocol: covered elsewhere.
  return /^\s*(quit|stls|auth)/i.test(m.toString('latin1')) ? Buffer.from('NOOP') : m;
}

const SMTP = ['EHLO fuzz.test', 'HELO fuzz.test', 'EHLO', 'HELO', 'MAIL FROM:<a@b.test>', 'MAIL FROM:<>', 'MAIL FROM:<a@b.test> SIZE=99999999999', 'MAIL FROM:<a@b.test> BODY=8BITMIME SMTPUTF8', 'MAIL FROM: <"a b"@[127.0.0.1]>', 'MAIL FROM:a', 'RCPT TO:<postmaster>', 'RCPT TO:<nobody@rel.sealpost.test>', 'RCPT TO:<x@elsewhere.test>', 'RCPT TO:<@route:a@b>', 'RCPT TO:<fuzz@rel.sealpost.test> NOTIFY=NEVER', 'RSET', 'NOOP', 'VRFY a', 'EXPN a', 'HELP', 'ETRN x', 'TURN', 'XCLIENT ADDR=1.2.3.4', 'XFORWARD NAME=x'];

/** An SMTP command line (no DATA/BDAT/QUIT/STARTTLS/AUTH: those change the stream; DATA is exercised with mutated MIME). */
export function smtpInput(r: Rng): Buffer {
  const kind = r.int(10);
  if (kind === 0) return Buffer.from(r.bytes(1 + r.int(80)).toString('latin1').replace(/[\r\n]/g, ' '), 'latin1');
  const line = r.pick(SMTP);
  if (kind < 5) return Buffer.from(line);
  const m = mutateLine(r, line);
  return /^\s*(data|bdat|quit|starttls|auth)/i.test(m.toString('latin1')) ? Buffer.from('NOOP') : m;
}

/** A mutated copy of a MIME message: header/boundary/encoding damage, truncation, deep nesting, byte noise. */
export function mutateMime(r: Rng, raw: Buffer): Buffer {
  let text = raw.toString('latin1');
  const ops = 1 + r.int(3);
  for (let i = 0; i < ops; i++) {
    const op = r.int(10);
    if (op === 0) text = text.slice(0, r.int(text.length));
    else if (op === 1) text = text.replace(/boundary="?([^";\r\n]+)"?/i, `boundary="${r.pick(['', 'x', '--', '"', 'a'.repeat(300)])}"`);
    else if (op === 2) text = text.replace(/\r\n\r\n/, '\r\n');
    else if (op === 3) text = text.replace(/Content-Transfer-Encoding: \S+/gi, `Content-Transfer-Encoding: ${r.pick(['base64', 'quoted-printable', 'x-uuencode', '8bit', 'bogus'])}`);
    else if (op === 4) text = text.replace(/Content-Type: [^\r\n]+/i, `Content-Type: ${r.pick(['multipart/mixed', 'message/rfc822', 'text/plain; charset=x-unknown', 'multipart/digest; boundary=z', 'application/octet-stream; name==?utf-8?B?////?=', '', ';;;;'])}`);
    else if (op === 5) {
      const depth = 20 + r.int(150);
      let nested = 'Content-Type: text/plain\r\n\r\ninnermost\r\n';
      for (let d = 0; d < depth; d++) nested = `Content-Type: multipart/mixed; boundary="b${d}"\r\n\r\n--b${d}\r\n${nested}\r\n--b${d}--\r\n`;
      text = text.replace(/\r\n\r\n/, `\r\nX-Fuzz: nested\r\n\r\n`) + `\r\n${nested}`;
    } else if (op === 6) {
      const at = r.int(text.length);
      text = text.slice(0, at) + r.bytes(1 + r.int(64)).toString('latin1') + text.slice(at);
    } else if (op === 7) text = `Subject: ${'=?utf-8?B?' + 'A'.repeat(r.int(5000)) + '?='}\r\n${text}`;
    else if (op === 8) text = `X-Long: ${'y'.repeat(r.pick([998, 5000, 100_000]))}\r\n${text}`;
    else text = text.replace(/\r\n/g, r.chance(0.5) ? '\n' : '\r\n');
  }
  // SMTP DATA ends at a lone "."; the client dot-stuffs, but a bare CR/LF mix is left as the fuzz made it.
  return Buffer.from(text, 'latin1');
}
