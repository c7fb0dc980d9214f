// Hostile MIME over a real IMAP server: a 20,000-part message, 10,000 nested multiparts, a 10 MB header
// and garbage bytes are APPENDed, stored byte for byte and served; BODYSTRUCTURE describes at most
// SEALPOST_MIME_MAX_PARTS parts (the rest is one opaque part whose bytes BODY[n] returns), and while
// the big message is processed another alias's session keeps being answered.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeMimeWorkers, DEFAULT_MIME_LIMITS, mimeParsesInProgress } from '../../server/mime/index.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';
import { RawImap } from '../helpers/imap-raw.js';
import { compactPartsMessage, garbageMessage, hugeHeaderMessage, nestedMessage } from '../helpers/mime-bombs.js';

let fx: ImapFixture;
let alice: { address: string; password: string };
let bob: { address: string; password: string };
const open: RawImap[] = [];

async function login(user: { address: string; password: string }): Promise<RawImap> {
  const r = await RawImap.connect(fx.port);
  open.push(r);
  assert.match((await r.command(`LOGIN "${user.address}" "${user.password}"`)).tagged, /^t1 OK/);
  return r;
}

/** APPENDs `raw` to alice's INBOX and returns its UID (APPENDUID, RFC 4315). */
async function append(r: RawImap, raw: Buffer): Promise<number> {
  const reply = await r.commandWithLiteral('APPEND INBOX', raw);
  const uid = /\[APPENDUID \d+ (\d+)\]/.exec(reply.tagged);
  assert.ok(uid, `APPEND answered: ${reply.tagged.slice(0, 200)}`);
  return Number(uid[1]);
}

/** The literal of `item` in a FETCH response line, as bytes. */
function literalOf(lines: readonly string[], item: string): Buffer {
  for (const line of lines) {
    const at = line.indexOf(`${item} {`);
    if (at < 0) continue;
    const m = /^\{(\d+)\}\r\n/.exec(line.slice(at + item.length + 1));
    assert.ok(m);
    const start = at + item.length + 1 + m[0].length;
    return Buffer.from(line.slice(start, start + Number(m[1])), 'binary');
  }
  assert.fail(`no ${item} in the FETCH response`);
}

/** FETCH from a fresh SELECT, so the session knows every appended message. */
async function fetchLines(r: RawImap, uid: number, items: string): Promise<string[]> {
  assert.match((await r.command('SELECT INBOX')).tagged, / OK /);
  const reply = await r.command(`UID FETCH ${uid} (${items})`, 60_000);
  assert.match(reply.tagged, / OK /);
  return reply.lines;
}

before(async () => {
  fx = await startImapFixture({ limits: { maxMessageBytes: 20 * 1024 * 1024 } });
  alice = await fx.addUser('alice');
  bob = await fx.addUser('bob');
});

after(async () => {
  for (const r of open.splice(0)) r.close();
  await closeMimeWorkers();
  await fx.close();
});

describe('MIME bombs over IMAP APPEND', () => {
  it('a 20,000-part message: another alias is answered while it is parsed; BODYSTRUCTURE ends in one opaque part; BODY[] is byte-identical', async () => {
    const raw = compactPartsMessage(20_000);
    const a = await login(alice);
    const b = await login(bob);
    assert.match((await b.command('SELECT INBOX')).tagged, / OK /);

    // Bob keeps asking NOOP, one at a time, while alice's APPEND runs. A NOOP answered while the parse is
    // still in progress is only possible when parsing does not hold the event loop (this test shares it).
    const events: string[] = [];
    let appending = true;
    const appendDone = append(a, raw).then((uid) => {
      events.push('append');
      appending = false;
      return uid;
    });
    let noops = 0;
    while (appending) {
      const reply = await b.command('NOOP');
      assert.match(reply.tagged, / OK /);
      if (appending) events.push(mimeParsesInProgress() > 0 ? `noop${++noops}-during-parse` : `noop${++noops}`);
    }
    const uid = await appendDone;
    const duringParse = events.filter((e) => e.endsWith('-during-parse'));
    assert.ok(duringParse.length >= 1, `a NOOP answered while the message was parsed: ${events.join(' ')}`);
    assert.ok(events.indexOf(duringParse[0] as string) < events.indexOf('append'), `order of replies: ${events.join(' ')}`);

    const lines = await fetchLines(a, uid, 'BODYSTRUCTURE');
    const structure = lines.join('\n');
    const maxParts = DEFAULT_MIME_LIMITS.maxParts;
    // Root multipart + (maxParts - 2) text parts + one opaque part covering the rest.
    assert.equal(structure.match(/\("TEXT" "PLAIN"/g)?.length, maxParts - 2);
    const tailStart = raw.indexOf(`--b\r\n\r\n${maxParts - 1}\r\n`) + '--b\r\n'.length;
    const tailEnd = raw.indexOf('\r\n--b--');
    const tailSize = tailEnd - tailStart;
    assert.match(structure, new RegExp(`\\("APPLICATION" "OCTET-STREAM" NIL NIL NIL "7BIT" ${tailSize} NIL NIL NIL NIL\\) "MIXED"`));

    const parts = await fetchLines(a, uid, `BODY.PEEK[${maxParts - 2}] BODY.PEEK[${maxParts - 1}] BODY.PEEK[]`);
    assert.equal(literalOf(parts, `BODY[${maxParts - 2}]`).toString(), String(maxParts - 2));
    assert.deepEqual(literalOf(parts, `BODY[${maxParts - 1}]`), raw.subarray(tailStart, tailEnd), 'the opaque part is the bytes of parts 2999..20000');
    assert.ok(literalOf(parts, 'BODY[]').equals(raw), 'BODY[] is the message as appended');
    assert.match((await b.command('NOOP')).tagged, / OK /);
  });

  it('10,000 nested multiparts: nesting past SEALPOST_MIME_MAX_DEPTH is one opaque part; BODY[] is byte-identical', async () => {
    const raw = nestedMessage(10_000);
    const a = await login(alice);
    const uid = await append(a, raw);
    const depth = DEFAULT_MIME_LIMITS.maxDepth;
    const structure = (await fetchLines(a, uid, 'BODYSTRUCTURE')).join('\n');
    assert.equal(structure.match(/"MIXED"/g)?.length, depth);
    assert.equal(structure.match(/"APPLICATION" "OCTET-STREAM"/g)?.length, 1);
    // The opaque part keeps its own header (BODY[…MIME]); its body is everything inside it.
    const header = `Content-Type: multipart/mixed; boundary="n${depth}"\r\n\r\n`;
    const bodyStart = raw.indexOf(header) + header.length;
    const bodyEnd = raw.indexOf(`\r\n--n${depth - 1}--`);
    const path = Array.from({ length: depth }, () => '1').join('.');
    const parts = await fetchLines(a, uid, `BODY.PEEK[${path}] BODY.PEEK[${path}.MIME] BODY.PEEK[]`);
    assert.ok(literalOf(parts, `BODY[${path}]`).equals(raw.subarray(bodyStart, bodyEnd)));
    assert.equal(literalOf(parts, `BODY[${path}.MIME]`).toString(), header);
    assert.ok(literalOf(parts, 'BODY[]').equals(raw));
  });

  it('a 10 MB header field: ENVELOPE is answered from the bounded header, BODY[HEADER] and BODY[] keep every byte', async () => {
    const raw = hugeHeaderMessage(10 * 1024 * 1024);
    const a = await login(alice);
    const uid = await append(a, raw);
    const lines = await fetchLines(a, uid, 'ENVELOPE BODYSTRUCTURE');
    assert.match(lines.join('\n'), /ENVELOPE \(NIL "huge header" \(\("Bomb" NIL "bomb" "example\.net"\)\)/);
    assert.match(lines.join('\n'), /BODYSTRUCTURE \("TEXT" "PLAIN"/);
    const parts = await fetchLines(a, uid, 'BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[]');
    const headerEnd = raw.indexOf('\r\n\r\n') + 4;
    assert.ok(literalOf(parts, 'BODY[HEADER]').equals(raw.subarray(0, headerEnd)));
    assert.equal(literalOf(parts, 'BODY[TEXT]').toString(), 'body after a huge header\r\n');
    assert.ok(literalOf(parts, 'BODY[]').equals(raw));
  });

  it('garbage bytes (NUL, bare CR/LF, no header): stored, described, served byte for byte', async () => {
    const a = await login(alice);
    for (const seed of [1, 2, 3]) {
      // CRLF line endings, as the store keeps them (bare LF/CR would be canonicalised to CRLF on append).
      const raw = Buffer.from(garbageMessage(64 * 1024, seed).toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
      const uid = await append(a, raw);
      const lines = await fetchLines(a, uid, 'ENVELOPE BODYSTRUCTURE RFC822.SIZE BODY.PEEK[]');
      assert.match(lines.join('\n'), /BODYSTRUCTURE \(/);
      assert.match(lines.join('\n'), new RegExp(`RFC822\\.SIZE ${raw.length}\\b`));
      assert.ok(literalOf(lines, 'BODY[]').equals(raw), `seed ${seed}: BODY[] is the message as appended`);
    }
    assert.match((await a.command('NOOP')).tagged, / OK /);
    assert.ok(!fx.logs.some((l) => /"level":(50|60)/.test(l)), 'no error logged');
  });
});
