// IMAP SEARCH semantics (case-insensitive substring, dates, sizes, flags, UID sets, MODSEQ, nesting)
// checked against a brute-force reference: every message decoded with mailparser, the query evaluated in JS.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import libmime from 'libmime';
import { storeFixture, type StoreFixture } from '../helpers/mailbox.js';
import { generateCorpus, type CorpusMessage } from '../helpers/corpus.js';
import { InvalidRequest, type Mailbox, type SearchQuery } from '../../server/mailbox/index.js';
import { compileSearch, foldCase, refreshedAddressHead, sentDayOf, trigramQuery } from '../../server/mailbox/search.js';
import { compressSync, decompress, methodOf } from '../../server/mailbox/codec.js';

interface Reference {
  uid: number;
  subject: string;
  from: string;
  to: string;
  cc: string;
  bcc: string;
  body: string;
  headers: string;
  flags: string[];
  internalDay: string;
  internalDate: Date;
  sentDay: string;
  emailId: string;
  threadId: string;
  saveDay: string;
  size: number;
  modseq: number;
}

const addr = (a: AddressObject | AddressObject[] | undefined): string =>
  a === undefined ? '' : (Array.isArray(a) ? a : [a]).flatMap((x) => x.value.map((v) => `${v.name} <${v.address ?? ''}>`)).join(', ');

/** All decoded text of a message: text parts, HTML stripped of tags, text attachments, forwarded messages. */
async function bodyText(m: ParsedMail): Promise<string> {
  const out = [m.text ?? '', typeof m.html === 'string' ? m.html.replace(/<[^>]*>/g, ' ') : ''];
  for (const a of m.attachments) {
    if (a.contentType === 'message/rfc822') {
      const inner = await simpleParser(a.content);
      out.push(inner.headerLines.map((h) => libmime.decodeWords(h.line.replace(/\r?\n[ \t]/g, ' '))).join('\n'));
      out.push(await bodyText(inner));
    } else if (a.contentType.startsWith('text/')) {
      out.push(a.content.toString('utf8'));
    }
  }
  return out.join('\n');
}

// Case-insensitive as the store defines it (NFKC, lower case, ß ≡ ss).
const lc = foldCase;
const day = (d: Date): string => d.toISOString().slice(0, 10);

function evaluate(q: SearchQuery, r: Reference, maxUid: number): boolean {
  const has = (text: string, value: string): boolean => lc(text).includes(lc(value));
  switch (q.op) {
    case 'all':
      return true;
    case 'and':
      return q.of.every((x) => evaluate(x, r, maxUid));
    case 'or':
      return q.of.some((x) => evaluate(x, r, maxUid));
    case 'not':
      return !evaluate(q.of, r, maxUid);
    case 'uid':
      return q.uids.some(([a, b]) => (b === Infinity ? r.uid >= Math.min(a, maxUid) : r.uid >= Math.min(a, b) && r.uid <= Math.max(a, b)));
    case 'text':
      return has(r.headers, q.value) || has(r.body, q.value);
    case 'body':
    case 'subject':
    case 'from':
    case 'to':
    case 'cc':
    case 'bcc':
      return has(r[q.op], q.value);
    case 'header':
      return lc(r.headers)
        .split('\n')
        .some((line) => line.startsWith(`${lc(q.name)}:`) && line.slice(q.name.length + 1).includes(lc(q.value)));
    case 'flag':
      return r.flags.some((f) => lc(f) === lc(q.flag)) === q.set;
    case 'before':
      return r.internalDay < q.date;
    case 'on':
      return r.internalDay === q.date;
    case 'since':
      return r.internalDay >= q.date;
    case 'sentbefore':
      return r.sentDay < q.date;
    case 'senton':
      return r.sentDay === q.date;
    case 'sentsince':
      return r.sentDay >= q.date;
    case 'larger':
      return r.size > q.size;
    case 'smaller':
      return r.size < q.size;
    case 'modseq':
      return r.modseq >= q.modseq;
    case 'older':
      return r.internalDate.getTime() <= Date.now() - q.seconds * 1000;
    case 'younger':
      return r.internalDate.getTime() > Date.now() - q.seconds * 1000;
    case 'savedbefore':
      return r.saveDay < q.date;
    case 'savedon':
      return r.saveDay === q.date;
    case 'savedsince':
      return r.saveDay >= q.date;
    case 'emailid':
      return r.emailId === q.id;
    case 'threadid':
      return r.threadId === q.id;
  }
}

describe('mailbox search matches a brute-force reference on the generated corpus', () => {
  let fx: StoreFixture;
  let mb: Mailbox;
  let corpus: CorpusMessage[];
  const refs: Reference[] = [];
  const FLAG_SETS = [[], ['\\Seen'], ['\\Seen', '\\Flagged'], ['\\Answered', '$Label1'], ['\\Deleted', 'Project'], ['\\Draft', '$label1']];

  before(async () => {
    fx = storeFixture();
    mb = (await fx.newMailbox()).mailbox;
    corpus = generateCorpus(120, 7);
    for (const [i, m] of corpus.entries()) {
      const internalDate = new Date(Date.UTC(2024, 4, 1 + (i % 20), (i * 7) % 24, 30));
      const flags = FLAG_SETS[i % FLAG_SETS.length]!;
      const { uid, modseq } = await mb.append('INBOX', m.raw, { flags, internalDate });
      const p = await simpleParser(m.raw);
      const meta = mb.listMessages('INBOX', [[uid, uid]], { thread: true })[0]!;
      refs.push({
        uid,
        emailId: meta.emailId,
        threadId: meta.threadObjectId,
        saveDay: day(meta.saveDate ?? internalDate),
        subject: p.subject ?? '',
        from: addr(p.from),
        to: addr(p.to),
        cc: addr(p.cc),
        bcc: addr(p.bcc),
        body: await bodyText(p),
        headers: p.headerLines.map((h) => libmime.decodeWords(h.line.replace(/\r?\n[ \t]/g, ' '))).join('\n'),
        flags,
        internalDay: day(internalDate),
        internalDate,
        // RFC 3501: the day written in the Date: header (its own zone), not the UTC day.
        sentDay: (p.headers.has('date') ? sentDayOf(String(p.headerLines.find((h) => h.key === 'date')?.line.slice(5) ?? '')) : null) ?? day(internalDate),
        size: m.raw.length,
        modseq,
      });
    }
    // Later flag changes move some messages' modseq up.
    const stored = mb.store('INBOX', [[10, 14]], 'add', ['Later']);
    for (const u of stored.updated) {
      const r = refs[u.uid - 1]!;
      r.flags = [...r.flags, 'Later'];
      r.modseq = u.modseq;
    }
  });
  after(() => fx.cleanup());

  const check = (name: string, q: SearchQuery, opts: { nonEmpty?: boolean } = {}): void => {
    const got = mb.search('INBOX', q);
    const want = refs.filter((r) => evaluate(q, r, refs.length)).map((r) => r.uid);
    assert.deepEqual(got, want, `${name}: ${JSON.stringify(q)}`);
    if (opts.nonEmpty) assert.ok(got.length > 0, `${name} should match something`);
  };

  test('BODY/TEXT find each message by its unique token, in any case; a missing token finds nothing', () => {
    for (const m of corpus.slice(0, 40)) {
      check('token', { op: 'body', value: m.token }, { nonEmpty: true });
      check('TOKEN', { op: 'text', value: m.token.toUpperCase() }, { nonEmpty: true });
    }
    check('absent', { op: 'body', value: 'zq000000' });
    check('NUL bytes', { op: 'text', value: '\0ÿ\0' });
    check('NUL after a token', { op: 'body', value: `${corpus[2]!.token}\0` });
    assert.deepEqual(mb.search('INBOX', { op: 'body', value: corpus[5]!.token }), [6]);
  });

  test('substring, not word, matching: word fragments, short keys, punctuation, non-ASCII case folding', () => {
    for (const value of ['invoi', 'voice', 'Quarterly', 'e', 'zq', 'ZQ0', 'ñ', 'ü', 'Ü', 'GRÜSSE', 'grüße', 'привет', 'ПРИВЕТ', '🎉', 'köln', '%', '_', 'a_b', "o'neil", 'x  y', '.']) {
      for (const op of ['text', 'body', 'subject'] as const) check(`${op} ${value}`, { op, value });
    }
    check('subject word', { op: 'subject', value: 'привет' }, { nonEmpty: true });
    check('subject grüße', { op: 'subject', value: 'GRÜSSE aus' }, { nonEmpty: true });
  });

  test('FROM/TO/CC/BCC match display names and addresses', () => {
    for (const m of corpus.slice(0, 16)) {
      check('from address', { op: 'from', value: m.from }, { nonEmpty: true });
      check('to address', { op: 'to', value: m.to.toUpperCase() }, { nonEmpty: true });
    }
    for (const value of ['müller', 'MÜLLER', 'Иванова', 'example.de', 'carol', 'dave@example.com', '田中', 'zo', '@']) {
      for (const op of ['from', 'to', 'cc', 'bcc'] as const) check(`${op} ${value}`, { op, value });
    }
    check('cc', { op: 'cc', value: 'dave@example.com' }, { nonEmpty: true });
  });

  test('HEADER matches a named field by substring; an empty value matches every message with the field', () => {
    check('message-id', { op: 'header', name: 'Message-ID', value: corpus[3]!.messageId.slice(1, 12) }, { nonEmpty: true });
    check('in-reply-to', { op: 'header', name: 'in-reply-to', value: 'thread@example' }, { nonEmpty: true });
    check('references present', { op: 'header', name: 'References', value: '' }, { nonEmpty: true });
    check('received', { op: 'header', name: 'Received', value: 'ESMTPS' }, { nonEmpty: true });
    check('subject header decoded', { op: 'header', name: 'Subject', value: 'привет' }, { nonEmpty: true });
    check('absent header', { op: 'header', name: 'X-Nope', value: '' });
    check('short', { op: 'header', name: 'Date', value: '20' }, { nonEmpty: true });
    assert.throws(() => mb.search('INBOX', { op: 'header', name: 'Bad Name', value: 'x' }), InvalidRequest);
  });

  test('flags and keywords (case-insensitive), set and unset', () => {
    for (const flag of ['\\Seen', '\\Flagged', '\\Answered', '\\Deleted', '\\Draft', '\\Recent', '$Label1', '$LABEL1', 'project', 'Later', 'nothing']) {
      check(`flag ${flag}`, { op: 'flag', flag, set: true });
      check(`unflag ${flag}`, { op: 'flag', flag, set: false });
    }
  });

  test('dates (internal and Date: header), sizes, UID sets and MODSEQ', () => {
    for (const date of ['2024-05-01', '2024-05-07', '2024-05-20', '2024-06-01']) {
      for (const op of ['before', 'on', 'since'] as const) check(`${op} ${date}`, { op, date });
    }
    const sent = refs.map((r) => r.sentDay).sort();
    for (const date of [sent[0]!, sent[40]!, sent[119]!]) {
      for (const op of ['sentbefore', 'senton', 'sentsince'] as const) check(`${op} ${date}`, { op, date }, { nonEmpty: op !== 'sentbefore' });
    }
    const sizes = refs.map((r) => r.size).sort((a, b) => a - b);
    for (const size of [0, sizes[30]!, sizes[60]!, sizes[119]!]) {
      check(`larger ${size}`, { op: 'larger', size });
      check(`smaller ${size}`, { op: 'smaller', size });
    }
    check('uid set', { op: 'uid', uids: [[1, 3], [7, 7], [50, 40], [118, Infinity]] }, { nonEmpty: true });
    check('uid star only', { op: 'uid', uids: [[500, Infinity]] }, { nonEmpty: true });
    check('uid empty', { op: 'uid', uids: [] });
    check('modseq', { op: 'modseq', modseq: refs[100]!.modseq }, { nonEmpty: true });
    // RFC 5032 WITHIN: intervals measured back from now, in seconds (the corpus lies in May 2024).
    const sinceMay20 = Math.floor((Date.now() - Date.UTC(2024, 4, 20)) / 1000);
    for (const seconds of [1, sinceMay20, sinceMay20 * 2]) {
      check(`older ${seconds}`, { op: 'older', seconds });
      check(`younger ${seconds}`, { op: 'younger', seconds });
    }
    check('older than mid-May', { op: 'older', seconds: sinceMay20 }, { nonEmpty: true });
    check('younger than mid-May', { op: 'younger', seconds: sinceMay20 }, { nonEmpty: true });
    // RFC 8514: the day each message was saved here (today), not its internal date.
    const today = day(new Date());
    for (const date of ['2024-05-07', today]) {
      for (const op of ['savedbefore', 'savedon', 'savedsince'] as const) check(`${op} ${date}`, { op, date });
    }
    check('savedon today', { op: 'savedon', date: today }, { nonEmpty: true });
    check('savedon internal day', { op: 'savedon', date: '2024-05-07' });
    assert.throws(() => mb.search('INBOX', { op: 'on', date: '1 May 2024' }), InvalidRequest);
  });

  test('AND/OR/NOT nest arbitrarily and compile to one statement', () => {
    const t = corpus.map((m) => m.token);
    const queries: SearchQuery[] = [
      { op: 'or', of: [{ op: 'body', value: t[1]! }, { op: 'body', value: t[2]! }, { op: 'subject', value: 'привет' }] },
      { op: 'and', of: [{ op: 'flag', flag: '\\Seen', set: true }, { op: 'not', of: { op: 'from', value: 'example.com' } }] },
      {
        op: 'not',
        of: {
          op: 'or',
          of: [
            { op: 'and', of: [{ op: 'larger', size: 3000 }, { op: 'text', value: 'invoice' }] },
            { op: 'and', of: [{ op: 'uid', uids: [[1, 60]] }, { op: 'not', of: { op: 'flag', flag: '$label1', set: true } }] },
          ],
        },
      },
      { op: 'and', of: [] },
      { op: 'or', of: [] },
      { op: 'and', of: [{ op: 'since', date: '2024-05-05' }, { op: 'or', of: [{ op: 'cc', value: 'carol' }, { op: 'modseq', modseq: refs[110]!.modseq }] }] },
      { op: 'not', of: { op: 'not', of: { op: 'body', value: 'zq' } } },
    ];
    for (const [i, q] of queries.entries()) check(`nested ${i}`, q);
  });

  test('a flat list of thousands of keys stays within SQLite\'s expression depth (balanced groups)', () => {
    const many = (n: number): SearchQuery[] => Array.from({ length: n }, (_, i) => ({ op: 'larger', size: i }));
    check('and of 3000', { op: 'and', of: many(3000) }, { nonEmpty: true });
    check('or of 3000', { op: 'or', of: many(3000) }, { nonEmpty: true });
  });

  test('RFC 8474 §6 EMAILID/THREADID find the messages FETCH gives those ids; other ids find nothing', () => {
    const [first, second] = mb.listMessages('INBOX', [[1, 2]], { thread: true });
    check('emailid', { op: 'emailid', id: first!.emailId }, { nonEmpty: true });
    assert.deepEqual(mb.search('INBOX', { op: 'emailid', id: first!.emailId }), [1]);
    const sameThread = mb.listMessages('INBOX', undefined, { thread: true }).filter((m) => m.threadObjectId === second!.threadObjectId).map((m) => m.uid);
    assert.deepEqual(mb.search('INBOX', { op: 'threadid', id: second!.threadObjectId }), sameThread);
    assert.ok(sameThread.includes(2));
    for (const id of ['Tzz', 'x', first!.emailId.replace(/^M/, 'T').replace(/^T/, 'X'), `${first!.emailId}0`]) assert.deepEqual(mb.search('INBOX', { op: 'emailid', id }), [], id);
  });

  test('search in another folder sees only that folder; an unknown folder fails', () => {
    mb.createFolder('Other');
    mb.copy('INBOX', [[3, 4]], 'Other');
    assert.deepEqual(mb.search('Other', { op: 'body', value: corpus[3]!.token }), [2]);
    assert.deepEqual(mb.search('Other', { op: 'all' }), [1, 2]);
  });
});

test('only SENT* keys join the large bodies rows; text keys test the index on the messages row first', () => {
  // bodies rows hold the search blobs: joining them reads (and decrypts) a page per message, which made
  // `UID SEARCH BODY x` over 10,000 messages take ~300 ms in a mailbox without ANALYZE statistics.
  const shapes: SearchQuery[] = [
    { op: 'all' },
    { op: 'not', of: { op: 'flag', flag: '\\Deleted', set: true } },
    { op: 'and', of: [{ op: 'uid', uids: [[1, Infinity]] }, { op: 'body', value: 'zq123456' }] },
    { op: 'or', of: [{ op: 'subject', value: 'quarterly' }, { op: 'header', name: 'x-mailer', value: 'gen' }, { op: 'text', value: 'ab' }] },
  ];
  for (const q of shapes) {
    const { sql } = compileSearch(7, q);
    assert.doesNotMatch(sql, /JOIN bodies/, JSON.stringify(q));
    assert.doesNotMatch(sql, /\bb\.id IN/, JSON.stringify(q));
  }
  const body = compileSearch(7, { op: 'body', value: 'zq123456' }).sql;
  assert.ok(body.indexOf('m.body_id IN (SELECT rowid FROM search_index') < body.indexOf('mbx_body('), body);
  assert.match(compileSearch(7, { op: 'senton', date: '2024-05-05' }).sql, /JOIN bodies b/);
  // Overlapping trigrams narrow better than a covering set ("q00" is rare, "000" is in every "+0000").
  assert.equal(trigramQuery('zq000000'), '"zq0" AND "000" AND "q00"');
  assert.equal(trigramQuery('ab'), null);
  // NUL cannot go into an FTS5 query: such trigrams are left out, and a needle of only those skips the index.
  assert.equal(trigramQuery('\0ab\0'), null);
  assert.equal(trigramQuery('abc\0'), '"abc"');
  assert.equal(trigramQuery('x'.repeat(20) + 'y'.repeat(80))?.split(' AND ').length, 4);
});

test('RFC 3501 §6.4.4: search text indexed before group names were kept is rebuilt from the header block', () => {
  const header = Buffer.from(
    'From: =?utf-8?q?J=C3=BCrgen?= <j@example.de>\r\nTo: Project Team: carol@example.net, "Dave D" <dave@example.net>;\r\n' +
      'Cc: bob@example.org (Bob Builder)\r\nSubject: s\r\n\r\n',
  );
  // What an older Sealpost stored: groups flattened to their members, no group name.
  const old = { subject: 's', from: 'jürgen <j@example.de>', to: 'carol@example.net, dave d <dave@example.net>', cc: 'bob builder <bob@example.org>', bcc: '', headers: 'subject: s\n' };
  for (const method of ['lz4', 'deflate', 'brotli', 'none'] as const) {
    const rewritten = refreshedAddressHead(compressSync(Buffer.from(JSON.stringify(old)), method), header);
    assert.equal(methodOf(rewritten), method, 'the rebuilt blob keeps the encoding it was stored with');
    const refreshed = JSON.parse(decompress(rewritten).toString('utf8')) as Record<string, string>;
    assert.equal(refreshed.to, 'project team: carol@example.net, dave d <dave@example.net>;');
    assert.equal(refreshed.from, 'jürgen <j@example.de>');
    assert.equal(refreshed.cc, 'bob builder <bob@example.org>');
    assert.equal(refreshed.headers, old.headers);
    assert.equal(refreshed.subject, 's');
  }
});
