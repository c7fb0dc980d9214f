// BINARY / BINARY.PEEK / BINARY.SIZE (RFC 3516) on our own engine over real sockets: every leaf part of the
// generated corpus, the shared python-email corpus (when present) and hand-made edge cases is fetched decoded
// and compared byte for byte with Python's email package (`part.get_payload(decode=True)`) on the same stored
// bytes; literal8 for data with NUL, NO [UNKNOWN-CTE], partials and \Seen.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { generateCorpus, loadSharedCorpus } from '../helpers/corpus.js';
import { crlf, onlyFetch, startFetchFixture, status, type FetchFixture, type FetchUser } from './fetch-helpers.js';

let f: FetchFixture;
before(async () => {
  f = await startFetchFixture();
});
after(() => f.close());

// Leaf parts in IMAP numbering (RFC 3501 §6.4.5) with Python's decoded payload, for each message file.
const PY_PARTS = String.raw`
import sys, json, base64, email
out = []
def leaf(part, num, parts):
    cte = str(part.get('content-transfer-encoding', '')).strip().lower()
    data = part.get_payload(decode=True)
    if data is None: return
    raw = part.get_payload(decode=False)
    raw = raw.encode('ascii', 'surrogateescape') if isinstance(raw, str) else b''
    parts[num] = {'cte': cte, 'data': base64.b64encode(data).decode('ascii'), 'raw': base64.b64encode(raw).decode('ascii')}
def visit(part, num, parts):
    ct = part.get_content_type()
    if ct == 'message/rfc822' and part.is_multipart():
        inner = part.get_payload(0)
        if inner.is_multipart():
            for i, p in enumerate(inner.get_payload(), 1): visit(p, num + '.' + str(i), parts)
        else:
            leaf(inner, num + '.1', parts)
    elif part.get_content_maintype() == 'multipart' and part.is_multipart():
        for i, p in enumerate(part.get_payload(), 1): visit(p, num + '.' + str(i), parts)
    elif part.is_multipart():
        return  # message/external-body and the like: one opaque part in IMAP, no payload bytes in Python
    else:
        leaf(part, num, parts)
for path in sys.argv[1:]:
    msg = email.message_from_bytes(open(path, 'rb').read())
    parts = {}
    if msg.get_content_type() == 'message/rfc822':
        visit(msg, '1', parts)
    elif msg.is_multipart():
        for i, p in enumerate(msg.get_payload(), 1): visit(p, str(i), parts)
    else:
        leaf(msg, '1', parts)
    # Where Python itself reports a broken MIME structure, the two parsers may split parts differently.
    decoding = ('InvalidBase64CharactersDefect', 'InvalidBase64PaddingDefect', 'InvalidBase64LengthDefect')
    defective = any(type(d).__name__ not in decoding for p in msg.walk() for d in p.defects)
    out.append({'defective': defective, 'parts': parts})
print(json.dumps(out))
`;

interface PyPart {
  readonly cte: string;
  /** Decoded payload, base64. */
  readonly data: string;
  /** Payload as stored (before decoding), base64: tells whether both parsers mean the same part. */
  readonly raw: string;
}

interface PyMessage {
  readonly defective: boolean;
  readonly parts: Record<string, PyPart>;
}

async function pythonParts(raws: readonly Buffer[]): Promise<PyMessage[]> {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-binary-'));
  try {
    const files: string[] = [];
    for (const [i, raw] of raws.entries()) {
      const file = join(dir, `m${i}.eml`);
      await writeFile(file, raw);
      files.push(file);
    }
    const run = spawnSync('python3', ['-c', PY_PARTS, ...files], { maxBuffer: 512 * 1024 * 1024 });
    assert.equal(run.status, 0, run.stderr?.toString());
    return JSON.parse(run.stdout.toString()) as PyMessage[];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const KNOWN = new Set(['', '7bit', '8bit', 'binary', 'base64', 'quoted-printable']);

/**
 * Appends the messages, fetches BINARY.PEEK and BINARY.SIZE of every leaf Python finds (in messages whose MIME
 * structure Python finds sound, and where BODY[part] is the payload Python reads: where the two parsers cut
 * the same part); returns how many parts were compared and how many were skipped.
 */
async function compareWithPython(u: FetchUser, raws: readonly Buffer[]): Promise<{ compared: number; skipped: number }> {
  const uids: number[] = [];
  for (const raw of raws) uids.push((await u.mailbox.append('INBOX', raw)).uid);
  const stored = await Promise.all(uids.map((uid) => u.mailbox.readMessage('INBOX', uid)));
  const expected = await pythonParts(stored);
  await u.imap.command('EXAMINE INBOX');
  let compared = 0;
  let skipped = 0;
  for (const [i, uid] of uids.entries()) {
    const message = expected[i];
    if (!message || message.defective) {
      skipped++;
      continue;
    }
    const parts = Object.entries(message.parts).filter(([, p]) => KNOWN.has(p.cte));
    if (!parts.length) continue;
    const items = parts.map(([num]) => `BODY.PEEK[${num}] BINARY.PEEK[${num}] BINARY.SIZE[${num}]`).join(' ');
    const reply = await u.imap.command(`UID FETCH ${uid} (${items})`, 60_000);
    assert.equal(status(reply.tagged), 'OK', reply.tagged);
    const r = onlyFetch(reply.lines);
    for (const [num, part] of parts) {
      const body = r.items.get(`BODY[${num}]`);
      if (!Buffer.isBuffer(body) || !body.equals(Buffer.from(part.raw, 'base64'))) {
        skipped++;
        continue;
      }
      const want = Buffer.from(part.data, 'base64');
      const got = r.items.get(`BINARY[${num}]`);
      assert.ok(Buffer.isBuffer(got), `message ${i} part ${num}: no BINARY[${num}]`);
      assert.ok(got.equals(want), `message ${i} part ${num} (${part.cte}): ${got.length} bytes, Python decodes ${want.length}`);
      assert.deepEqual(r.items.get(`BINARY.SIZE[${num}]`), { atom: String(want.length) }, `BINARY.SIZE[${num}] of message ${i}`);
      compared++;
    }
  }
  await u.imap.command('CLOSE');
  return { compared, skipped };
}

describe('BINARY (RFC 3516)', () => {
  test('RFC 3516 §4.1: BINARY[part] of every generated corpus part is byte-identical to Python email decode', async () => {
    const u = await f.user();
    const { compared, skipped } = await compareWithPython(u, generateCorpus(40, 16).map((m) => m.raw));
    assert.equal(skipped, 0);
    assert.ok(compared >= 60, `only ${compared} parts compared`);
  });

  const shared = loadSharedCorpus();
  test('RFC 3516 §4.1: BINARY[part] of the shared python-email corpus equals Python email decode', { skip: shared.length === 0 }, async () => {
    const u = await f.user();
    const { compared, skipped } = await compareWithPython(
      u,
      shared.map((m) => m.raw),
    );
    // Python reports structural defects (missing boundaries, header/body separator) in 11 of the 48 messages,
    // and cuts a few parts of the others differently; every part both cut alike must decode alike.
    assert.ok(compared >= 60 && skipped <= 20, `${compared} parts compared, ${skipped} skipped`);
  });

  test('RFC 2045 §6.7/§6.8: quoted-printable and base64 edge cases decode as Python does', async () => {
    const u = await f.user();
    const qp = crlf(
      'From: a@b.example',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b"',
      '',
      '--b',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: Quoted-Printable',
      '',
      'soft=',
      'break, =3D equals, lower =c3=a9, bad =ZZ, double ==, trailing space   ',
      'tab\t=09 and a last =',
      '--b',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: base64',
      '',
      'AAEC',
      'A*w!Q',
      'FBgc',
      '--b',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: BASE64 (a comment)',
      '',
      'aGVsbG8',
      '--b--',
      '',
    );
    const { compared, skipped } = await compareWithPython(u, [qp]);
    assert.equal(skipped, 0);
    assert.equal(compared, 2);
    // RFC 2045 §6.1 allows a comment after the mechanism; Python does not strip it (and leaves the part encoded).
    await u.imap.command('EXAMINE INBOX');
    assert.equal((onlyFetch((await u.imap.command('FETCH 1 BINARY.PEEK[3]')).lines).items.get('BINARY[3]') as Buffer).toString(), 'hello');
  });

  test('RFC 3516 §4.3: decoded data with NUL travels as literal8 ~{n}; without NUL as an ordinary literal', async () => {
    const u = await f.user();
    await u.mailbox.append(
      'INBOX',
      crlf('From: a@b.example', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64', '', 'AAECAwQFBgc=', '--b', 'Content-Type: text/plain', '', 'plain', '--b--', ''),
    );
    await u.imap.command('EXAMINE INBOX');
    const withNul = await u.imap.command('FETCH 1 (BINARY.PEEK[1])');
    assert.ok(withNul.lines[0]?.includes('BINARY[1] ~{8}\r\n'), withNul.lines[0]);
    assert.deepEqual(onlyFetch(withNul.lines).items.get('BINARY[1]'), Buffer.from([0, 1, 2, 3, 4, 5, 6, 7]));
    const plainText = await u.imap.command('FETCH 1 (BINARY.PEEK[2] BINARY.PEEK[1]<1.2>)');
    assert.ok(plainText.lines[0]?.includes('BINARY[2] {5}\r\nplain'), plainText.lines[0]);
    assert.ok(plainText.lines[0]?.includes('BINARY[1]<1> {2}\r\n'), plainText.lines[0]);
  });

  test('RFC 3516 §4.1: an unknown Content-Transfer-Encoding is refused with NO [UNKNOWN-CTE]; BODY[] still works', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', crlf('From: a@b.example', 'MIME-Version: 1.0', 'Content-Transfer-Encoding: x-rot13', '', 'uryyb', ''));
    await u.imap.command('EXAMINE INBOX');
    for (const item of ['BINARY.PEEK[1]', 'BINARY.SIZE[1]']) {
      const reply = await u.imap.command(`FETCH 1 (${item})`);
      assert.match(reply.tagged, /^\S+ NO \[UNKNOWN-CTE\]/, item);
    }
    assert.equal(status((await u.imap.command('FETCH 1 BODY.PEEK[1]')).tagged), 'OK');
  });

  test('RFC 3516 §4.1: BINARY[] is the whole message; BINARY of a multipart or message/rfc822 part is its raw content', async () => {
    const u = await f.user();
    const raw = crlf('From: a@b.example', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: message/rfc822', '', 'Subject: in', '', 'inner', '--b--', '');
    await u.mailbox.append('INBOX', raw);
    await u.imap.command('EXAMINE INBOX');
    const r = onlyFetch((await u.imap.command('FETCH 1 (BINARY.PEEK[] BINARY.PEEK[1] BINARY.SIZE[1])')).lines);
    assert.deepEqual(r.items.get('BINARY[]'), raw);
    assert.equal((r.items.get('BINARY[1]') as Buffer).toString(), 'Subject: in\r\n\r\ninner');
    assert.deepEqual(r.items.get('BINARY.SIZE[1]'), { atom: '20' });
  });

  test('RFC 3516 §4.1: BINARY[…] sets \\Seen, BINARY.PEEK[…] and BINARY.SIZE do not', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', crlf('From: a@b.example', '', 'body', ''));
    await u.mailbox.append('INBOX', crlf('From: a@b.example', '', 'body', ''));
    await u.imap.command('SELECT INBOX');
    assert.deepEqual(onlyFetch((await u.imap.command('FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])')).lines).order, ['BINARY[1]', 'BINARY.SIZE[1]']);
    assert.deepEqual(onlyFetch((await u.imap.command('FETCH 2 BINARY[1]')).lines).order, ['BINARY[1]', 'FLAGS']);
    assert.deepEqual(
      u.mailbox.listMessages('INBOX').map((m) => m.flags),
      [[], ['\\Seen']],
    );
  });

  test('RFC 3516 §4.3: a large identity-encoded BINARY section is streamed as literal8, byte for byte', async () => {
    const u = await f.user();
    const text = Buffer.alloc(3 * 1024 * 1024, 'binary body line\r\n');
    const raw = Buffer.concat([
      crlf('From: a@b.example', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: text/plain', 'Content-Transfer-Encoding: 8bit', '', ''),
      text,
      crlf('', '--b--', ''),
    ]);
    await u.mailbox.append('INBOX', raw);
    await u.imap.command('EXAMINE INBOX');
    const reply = await u.imap.command('FETCH 1 (BINARY.PEEK[1] BINARY.PEEK[]<5.400000> BINARY.SIZE[1])', 60_000);
    assert.equal(status(reply.tagged), 'OK', reply.tagged);
    const r = onlyFetch(reply.lines);
    assert.ok(reply.lines[0]?.includes(`BINARY[1] ~{${text.length}}\r\n`));
    assert.deepEqual(r.items.get('BINARY[1]'), text);
    assert.deepEqual(r.items.get('BINARY[]<5>'), raw.subarray(5, 400005));
    assert.deepEqual(r.items.get('BINARY.SIZE[1]'), { atom: String(text.length) });
    assert.equal(r.binaryLiterals, 2);
  });
});
