// The IMAP command reader (server/imap/wire/reader.ts) framing hostile and ordinary client input: literals of
// every kind split at every byte, limits, refused literals whose bytes arrive anyway, pipelining, and the
// plaintext a client pipelines behind STARTTLS.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandReader, type LiteralDecision, type LiteralRequest, type ReaderEvent, type ReaderLimits } from '../../server/imap/wire/reader.js';

const LIMITS: ReaderLimits = {
  maxLineBytesPreAuth: 200,
  maxLineBytes: 1000,
  maxLiteralsPerCommand: 4,
  maxLiteralBytesPreAuth: 16,
  maxMessageBytes: 100_000,
  maxCommandBytes: 150_000,
};

/** A readable form of an event (Buffers as latin1 text) for deepEqual. */
type Plain = { kind: string; [key: string]: unknown };
function plain(event: ReaderEvent): Plain {
  switch (event.kind) {
    case 'command': {
      const { tag, name, uid, args, size } = event.command;
      return { kind: 'command', tag, name, uid, args: args.toString('latin1'), size };
    }
    case 'line':
      return { kind: 'line', line: event.line.toString('latin1'), ...(event.tooLong ? { tooLong: true } : {}) };
    default:
      return { ...event };
  }
}

function drain(reader: CommandReader): Plain[] {
  const out: Plain[] = [];
  for (let event = reader.next(); event; event = reader.next()) out.push(plain(event));
  return out;
}

function reader(options: { authenticated?: boolean; onLiteral?: (request: LiteralRequest) => LiteralDecision; limits?: Partial<ReaderLimits> } = {}): CommandReader {
  const r = new CommandReader({ limits: { ...LIMITS, ...options.limits }, ...(options.onLiteral ? { onLiteral: options.onLiteral } : {}) });
  if (options.authenticated) r.setAuthenticated(true);
  return r;
}

/** Feeds `input` in the given chunk sizes (cycled), draining after every chunk like the engine does. */
function feed(r: CommandReader, input: Buffer | string, chunk = Infinity): Plain[] {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const out: Plain[] = [];
  for (let i = 0; i < bytes.length; i += chunk) {
    r.push(bytes.subarray(i, Math.min(bytes.length, i + chunk)));
    out.push(...drain(r));
  }
  return out;
}

const command = (tag: string, name: string, args: string, size: number, uid = false): Plain => ({ kind: 'command', tag, name, uid, args, size });

describe('IMAP wire reader', () => {
  it('RFC 9051 §2.2.1: pipelined commands in one chunk are framed one by one, UID commands split', () => {
    const events = feed(reader(), 'a1 NOOP\r\na2 UID FETCH 1:* (FLAGS)\r\na3 uid store 1 +FLAGS (\\Seen)\r\na4 CAPABILITY\r\n');
    assert.deepEqual(events, [
      command('a1', 'NOOP', '', 9),
      command('a2', 'FETCH', '1:* (FLAGS)', 26, true),
      command('a3', 'STORE', '1 +FLAGS (\\Seen)', 31, true),
      command('a4', 'CAPABILITY', '', 15),
    ]);
  });

  it('lines end with CRLF or a bare LF (as Dovecot accepts); an empty line gets an untagged BAD', () => {
    const events = feed(reader(), 'a NOOP\n\r\n\nb LIST "" *\r\n');
    assert.deepEqual(
      events.map((e) => [e.kind, e.tag, e.args ?? e.reply]),
      [
        ['command', 'a', ''],
        ['reject', null, '* BAD Empty command line'],
        ['reject', null, '* BAD Empty command line'],
        ['command', 'b', '"" *'],
      ],
    );
  });

  it('RFC 9051 §7.5: a synchronizing literal is announced with "+ Ready" before its bytes, and stays inline in args', () => {
    const r = reader();
    assert.deepEqual(feed(r, 'a LOGIN {5}\r\n'), [{ kind: 'continue', reply: '+ Ready' }]);
    assert.deepEqual(feed(r, 'alice "pw"\r\n'), [command('a', 'LOGIN', '{5}\r\nalice "pw"', 25)]);
  });

  it('RFC 7888: a non-synchronizing literal {n+} is read without a continuation request', () => {
    const events = feed(reader(), 'a LOGIN {5+}\r\nalice {2+}\r\npw\r\n');
    assert.deepEqual(events, [command('a', 'LOGIN', '{5+}\r\nalice {2+}\r\npw', 30)]);
  });

  it('RFC 3516: literal8 ~{n} carries any octet, CR LF and NUL included, and is reported as binary', () => {
    const requests: LiteralRequest[] = [];
    const r = reader({ authenticated: true, onLiteral: (request) => (requests.push(request), { accept: true }) });
    const body = Buffer.from('\0\r\n\xff{3}\r\n', 'latin1');
    const input = Buffer.concat([Buffer.from('a APPEND INBOX ~{9}\r\n'), body, Buffer.from('\r\n')]);
    const events = feed(r, input);
    assert.equal(events[0]?.kind, 'continue');
    assert.equal(events[1]?.kind, 'command');
    assert.equal(events[1]?.args, `INBOX ~{9}\r\n${body.toString('latin1')}`);
    assert.equal(requests.length, 1);
    assert.deepEqual(
      { ...requests[0], commandSoFar: requests[0]?.commandSoFar.toString() },
      { tag: 'a', name: 'APPEND', uid: false, size: 9, nonSync: false, binary: true, literalIndex: 0, bytesSoFar: 10, commandSoFar: 'INBOX ~{9}' },
    );
  });

  it('RFC 9051 §4.3: literals split at every possible chunk boundary frame exactly like one chunk', () => {
    const input = Buffer.from(
      'a1 LOGIN {3}\r\nbob {4+}\r\n\r\n\r\n\r\na2 SEARCH TEXT {2}\r\n{}\r\na3 APPEND INBOX (\\Seen) ~{4+}\r\n\0\0\0\0\r\na4 NOOP\n',
      'latin1',
    );
    const whole = feed(reader({ authenticated: true }), input);
    assert.equal(whole.filter((e) => e.kind === 'command').length, 4);
    for (let split = 1; split < input.length; split++) {
      const r = reader({ authenticated: true });
      const events = [...feed(r, input.subarray(0, split)), ...feed(r, input.subarray(split))];
      assert.deepEqual(events, whole, `split at ${split}`);
    }
    assert.deepEqual(feed(reader({ authenticated: true }), input, 1), whole, 'byte by byte');
    assert.deepEqual(feed(reader({ authenticated: true }), input, 7), whole, '7 bytes at a time');
  });

  it('a large literal fed byte by byte arrives intact', () => {
    const body = Buffer.alloc(50_000, 'x');
    body.write('\r\nb LOGOUT\r\n', 100);
    const events = feed(reader({ authenticated: true }), Buffer.concat([Buffer.from(`a APPEND INBOX {${body.length}+}\r\n`), body, Buffer.from('\r\n')]), 1);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.args, `INBOX {${body.length}+}\r\n${body.toString('latin1')}`);
  });

  it('a refused synchronizing literal drops the command; the client sends nothing, the next command is read', () => {
    const r = reader({ authenticated: true, onLiteral: (q) => ({ accept: false, reply: `${q.tag} NO [TRYCREATE] No such folder` }) });
    assert.deepEqual(feed(r, 'a APPEND Nowhere {10}\r\nb NOOP\r\n'), [
      { kind: 'reject', tag: 'a', reply: 'a NO [TRYCREATE] No such folder' },
      command('b', 'NOOP', '', 8),
    ]);
  });

  it('RFC 7888 §4: a refused non-synchronizing literal is read and discarded, with the rest of its command', () => {
    const r = reader({ authenticated: true, onLiteral: (q) => (q.literalIndex === 0 ? { accept: false, reply: `${q.tag} NO refused` } : { accept: true }) });
    // The literal and the following continuation (with another non-sync literal) look like commands: never run.
    const input = 'a APPEND INBOX {11+}\r\nz1 LOGOUT\r\n {13+}\r\nz2 DELETE x\r\n\r\nb NOOP\r\n';
    assert.deepEqual(feed(r, input), [{ kind: 'reject', tag: 'a', reply: 'a NO refused' }, command('b', 'NOOP', '', 8)]);
    for (const chunk of [1, 2, 5]) {
      const again = reader({ authenticated: true, onLiteral: (q) => ({ accept: false, reply: `${q.tag} NO refused` }) });
      assert.deepEqual(feed(again, input, chunk), [{ kind: 'reject', tag: 'a', reply: 'a NO refused' }, command('b', 'NOOP', '', 8)]);
    }
  });

  it('limits: a literal over the pre-login size is refused with BAD, allowed after login', () => {
    const r = reader();
    assert.deepEqual(feed(r, 'a LOGIN {100000}\r\n'), [{ kind: 'reject', tag: 'a', reply: 'a BAD Literal too large before login' }]);
    r.setAuthenticated(true);
    assert.deepEqual(feed(r, 'b SEARCH TEXT {17}\r\n'), [{ kind: 'continue', reply: '+ Ready' }]);
  });

  it('limits: too many literals in one command, and literals over APPENDLIMIT (RFC 7889 TOOBIG)', () => {
    const r = reader({ authenticated: true });
    let events = feed(r, 'm SEARCH TEXT {1}\r\n');
    for (let i = 0; i < 3; i++) events.push(...feed(r, `x TEXT {1}\r\n`));
    assert.deepEqual(events.map((e) => e.kind), ['continue', 'continue', 'continue', 'continue']);
    events = feed(r, 'x TEXT {1}\r\n');
    assert.deepEqual(events, [{ kind: 'reject', tag: 'm', reply: 'm BAD Too many literals in one command' }]);
    assert.deepEqual(feed(r, 'big APPEND INBOX {3000000}\r\n'), [
      { kind: 'reject', tag: 'big', reply: 'big NO [TOOBIG] Message exceeds the APPENDLIMIT of 100000 bytes' },
    ]);
    assert.deepEqual(feed(r, 'n NOOP\r\n'), [command('n', 'NOOP', '', 8)]);
  });

  it('limits: all literals of one command together are bounded (MULTIAPPEND, RFC 3502), refused before the data', () => {
    const r = reader({ authenticated: true });
    const first = 'm APPEND INBOX {90000}\r\n';
    assert.deepEqual(feed(r, first).map((e) => e.kind), ['continue']);
    assert.deepEqual(feed(r, 'x'.repeat(90_000)), []);
    // 90,000 + this announcement + 90,000 more passes 150,000: refused before the client sends the second message.
    assert.deepEqual(feed(r, ' {90000}\r\n'), [
      { kind: 'reject', tag: 'm', reply: "m NO [TOOBIG] The command's literals exceed 150000 bytes together" },
    ]);
    assert.deepEqual(feed(r, 'n NOOP\r\n'), [command('n', 'NOOP', '', 8)]);
  });

  it('limits: a line longer than the cap without a line break ends the connection (too-long), nothing more is read', () => {
    const r = reader();
    assert.deepEqual(feed(r, `a LOGIN ${'x'.repeat(150)}`), []);
    assert.deepEqual(feed(r, 'x'.repeat(100)), [{ kind: 'too-long', reply: '* BAD Line too long' }]);
    assert.deepEqual(feed(r, '\r\nb NOOP\r\n'), []);
  });

  it('limits: a complete over-long line gets a tagged BAD and the connection goes on; the cap grows after login', () => {
    const r = reader();
    const long = `a SEARCH TEXT "${'y'.repeat(300)}"\r\n`;
    assert.deepEqual(feed(r, `${long}b NOOP\r\n`), [{ kind: 'reject', tag: 'a', reply: 'a BAD Line too long' }, command('b', 'NOOP', '', 8)]);
    r.setAuthenticated(true);
    assert.equal(feed(r, long)[0]?.kind, 'command');
    assert.equal(r.lineLimit, LIMITS.maxLineBytes);
  });

  it('RFC 9051 §7.1.5: an invalid tag gets an untagged BAD; a tag without a command a tagged BAD', () => {
    const r = reader({ authenticated: true });
    const bad = { kind: 'reject', tag: null, reply: '* BAD Invalid tag' };
    assert.deepEqual(feed(r, '*\r\n\u0000\u0001\u0002\r\na+b NOOP\r\n(x NOOP\r\n"q" NOOP\r\n NOOP\r\n'), [bad, bad, bad, bad, bad, bad]);
    assert.deepEqual(feed(r, 'a\r\n'), [{ kind: 'reject', tag: 'a', reply: 'a BAD Missing command' }]);
    assert.deepEqual(feed(r, 'a ( x\r\n'), [{ kind: 'reject', tag: 'a', reply: 'a BAD Invalid command' }]);
    assert.deepEqual(feed(r, 'a] NOOP\r\n'), [command('a]', 'NOOP', '', 9)], '"]" is an ASTRING-CHAR, legal in tags');
    assert.deepEqual(feed(r, 'a UID\r\n'), [command('a', 'UID', '', 7)], 'UID alone reaches the engine, which answers BAD');
  });

  it('an invalid tag on a line announcing a non-synchronizing literal: the literal bytes are never run', () => {
    const r = reader({ authenticated: true });
    assert.deepEqual(feed(r, '+x APPEND INBOX {10+}\r\nz LOGOUT\r\n\r\nb NOOP\r\n'), [
      { kind: 'reject', tag: null, reply: '* BAD Invalid tag' },
      command('b', 'NOOP', '', 8),
    ]);
  });

  it('RFC 9051 §7.5: continuation data (AUTHENTICATE, IDLE DONE) is a raw line when the engine asks for one', () => {
    const r = reader();
    assert.deepEqual(feed(r, 'a AUTHENTICATE PLAIN\r\n'), [command('a', 'AUTHENTICATE', 'PLAIN', 22)]);
    r.expectLine();
    assert.deepEqual(feed(r, 'AGJvYgBwdw==\r\nb NOOP\r\n'), [{ kind: 'line', line: 'AGJvYgBwdw==' }, command('b', 'NOOP', '', 8)]);
    r.expectLine();
    assert.deepEqual(feed(r, 'DONE {5}\r\n'), [{ kind: 'line', line: 'DONE {5}' }], 'no literal is read from a raw line');
    r.expectLine();
    assert.deepEqual(feed(r, `${'A'.repeat(300)}\r\nc NOOP\r\n`), [
      { kind: 'line', line: 'A'.repeat(300), tooLong: true },
      command('c', 'NOOP', '', 8),
    ], 'an over-long continuation line still goes to the waiting command, flagged');
  });

  it('RFC 3501 §6.2.1: bytes pipelined after STARTTLS are discarded, never framed (CVE-2011-0411)', () => {
    const r = reader();
    r.push(Buffer.from('t2 STARTTLS\r\nt3 LOGIN injected injected\r\nt4 APPE'));
    assert.deepEqual(plain(r.next() as ReaderEvent), command('t2', 'STARTTLS', '', 13));
    assert.ok(r.pendingBytes > 0);
    r.discardBuffered();
    assert.equal(r.pendingBytes, 0);
    assert.equal(r.next(), null);
    assert.deepEqual(feed(r, 't5 CAPABILITY\r\n'), [command('t5', 'CAPABILITY', '', 15)]);
  });

  it('pendingBytes counts received bytes not framed yet, so the engine can pause the socket', () => {
    const r = reader();
    r.push(Buffer.from('a NOOP\r\nb NOOP\r\nc NO'));
    assert.equal(r.pendingBytes, 20);
    r.next();
    assert.equal(r.pendingBytes, 12);
    r.next();
    assert.equal(r.next(), null);
    assert.equal(r.pendingBytes, 4);
    assert.equal(r.midCommand, false);
    r.push(Buffer.from('OP {3}\r\n'));
    assert.equal(r.next()?.kind, 'continue');
    assert.equal(r.midCommand, true);
  });

  it('hostile input: random framing soup never throws and frames the same whatever the chunking', () => {
    let seed = 0xf00d;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = Buffer.from('a UID {}{}~+0123\r\n\r\n\n*"()\0\xffNOOP', 'latin1');
    // Refuses literals of odd size, so both refusal paths (sync and non-sync) are exercised.
    const onLiteral = (q: LiteralRequest): LiteralDecision => (q.size % 2 ? { accept: false, reply: `${q.tag} NO odd` } : { accept: true });
    for (let round = 0; round < 2000; round++) {
      const input = Buffer.alloc(1 + random(150));
      for (let i = 0; i < input.length; i++) input[i] = alphabet[random(alphabet.length)] as number;
      const whole = feed(reader({ authenticated: round % 2 === 0, onLiteral }), input);
      const chunk = 1 + random(9);
      assert.deepEqual(feed(reader({ authenticated: round % 2 === 0, onLiteral }), input, chunk), whole, `${input.toString('hex')} in ${chunk}-byte chunks`);
    }
  });
});
