// IMAP extensions and store gaps as clients see them: LIST-STATUS (imapflow and raw), ESEARCH and grouped
// SEARCH criteria, \Noselect names after DELETE of a parent (RFC 3501 6.3.4) with imapflow and imaplib, raw
// 8-bit UTF-8 subjects in ENVELOPE (UTF-8 after ENABLE UTF8=ACCEPT, RFC 2047 otherwise), and the FETCH paths
// that skip parsed structures (BODY.PEEK[], partials, RFC822 setting \Seen).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { generateCorpus } from '../helpers/corpus.js';
import { RawImap } from '../helpers/imap-raw.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';
import { findPlaintext } from '../helpers/privacy.js';
import { run } from '../helpers/run.js';

let fx: ImapFixture;
let user: { address: string; password: string };
const clients: ImapFlow[] = [];

const SUBJECT = 'Grüße aus Köln ✓ 東京';
const UTF8_MESSAGE = Buffer.from(
  `From: Jürgen Müller <j@example.org>\r\nTo: bob@example.test\r\nSubject: ${SUBJECT}\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n` +
    'Message-ID: <utf8subject@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n' +
    'Content-Transfer-Encoding: 8bit\r\n\r\nHällo, token zqutf801.\r\n',
  'utf8',
);

function flow(): ImapFlow {
  const c = new ImapFlow({
    host: fx.host,
    port: fx.securePort,
    secure: true,
    tls: { ca: [fx.tls.certificatePem()], servername: 'localhost' },
    auth: { user: user.address, pass: user.password },
    logger: false,
  });
  clients.push(c);
  return c;
}

async function raw(): Promise<RawImap> {
  const r = await RawImap.connect(fx.port);
  assert.match((await r.command(`LOGIN "${user.address}" "${user.password}"`)).tagged, /^t1 OK/);
  return r;
}

before(async () => {
  fx = await startImapFixture({ logLevel: 'warn' });
  user = await fx.addUser('ext');
});

after(async () => {
  for (const c of clients) await c.logout().catch(() => c.close());
  await fx.close();
});

describe('LIST-STATUS (RFC 5819)', () => {
  it('is advertised and answers STATUS inline, also through imapflow', async () => {
    const mailbox = await fx.mailboxOf(user.address, user.password);
    mailbox.createFolder('Status/Child');
    for (const m of generateCorpus(3, 21)) await mailbox.append('Status/Child', m.raw, { flags: ['\\Seen'] });
    await mailbox.append('Status/Child', generateCorpus(1, 22)[0]!.raw);

    const r = await raw();
    const caps = (await r.command('CAPABILITY')).lines.join(' ');
    assert.match(caps, / LIST-STATUS /);
    assert.match(caps, / ESEARCH /);
    const reply = await r.command('LIST "" "Status*" RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))');
    assert.match(reply.tagged, /OK/);
    assert.deepEqual(reply.lines, [
      '* LIST (\\HasChildren) "/" "Status"',
      '* STATUS "Status" (MESSAGES 0 UNSEEN 0 UIDNEXT 1)',
      '* LIST (\\HasNoChildren) "/" "Status/Child"',
      '* STATUS "Status/Child" (MESSAGES 4 UNSEEN 1 UIDNEXT 5)',
    ]);
    // SPECIAL-USE and CHILDREN ride along (imapflow sends them); unknown options and items are BAD.
    const special = await r.command('LIST "" "*" RETURN (STATUS (MESSAGES) SPECIAL-USE CHILDREN)');
    assert.ok(special.lines.includes('* LIST (\\HasNoChildren \\Sent) "/" "Sent"'), special.lines.join('\n'));
    assert.match((await r.command('LIST "" "*" RETURN (STATUS (BOGUS))')).tagged, /BAD/);
    assert.match((await r.command('LIST "" "*" RETURN (FOO)')).tagged, /BAD/);
    assert.match((await r.command('LIST (SPECIAL-USE) "" "*"')).lines.join('\n'), /^\* LIST \(\\HasNoChildren \\Drafts\) "\/" "Drafts"$/m);
    r.close();

    const c = flow();
    await c.connect();
    const listed = await c.list({ statusQuery: { messages: true, unseen: true, uidNext: true } });
    const child = listed.find((f) => f.path === 'Status/Child');
    assert.deepEqual(child?.status && { messages: child.status.messages, unseen: child.status.unseen, uidNext: child.status.uidNext }, {
      messages: 4,
      unseen: 1,
      uidNext: 5,
    });
  });
});

describe('SEARCH', () => {
  it('keeps parenthesised groups, answers ESEARCH, and numbers hits after expunges', async () => {
    const mailbox = await fx.mailboxOf(user.address, user.password);
    mailbox.createFolder('Find');
    const corpus = generateCorpus(8, 23);
    for (const [i, m] of corpus.entries()) {
      await mailbox.append('Find', m.raw, { flags: i % 2 ? ['\\Seen'] : i % 3 ? ['\\Flagged'] : ['\\Seen', '\\Flagged'] });
    }
    // UIDs 1..8; flags: 1 {Seen,Flagged}, 2 Seen, 3 Flagged, 4 Seen, 5 Flagged, 6 Seen, 7 {Seen,Flagged}, 8 Seen.
    const r = await raw();
    await r.command('SELECT Find');
    const search = async (command: string): Promise<string> => {
      const reply = await r.command(command);
      assert.match(reply.tagged, /OK/, `${command}: ${reply.tagged}`);
      return reply.lines.find((l) => /^\* E?SEARCH/.test(l)) ?? '';
    };
    assert.equal(await search('UID SEARCH NOT (SEEN FLAGGED)'), '* SEARCH 2 3 4 5 6 8');
    assert.equal(await search('UID SEARCH OR (SEEN FLAGGED) 3'), '* SEARCH 1 3 7');
    assert.equal(await search(`UID SEARCH UID 1:* BODY ${corpus[4]!.token}`), '* SEARCH 5');
    assert.equal(await search('SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED'), '* ESEARCH (TAG "t6") MIN 1 MAX 7 COUNT 4 ALL 1,3,5,7');
    assert.equal(await search('UID SEARCH RETURN () UNSEEN'), '* ESEARCH (TAG "t7") UID ALL 3,5');
    assert.equal(await search('SEARCH RETURN (COUNT) BODY zq000000'), '* ESEARCH (TAG "t8") COUNT 0');
    // RFC 5182 §2.1: SAVE alone sends no ESEARCH response; `$` then names the saved UIDs.
    const saved = await r.command('SEARCH RETURN (SAVE) FLAGGED');
    assert.match(saved.tagged, /^t9 OK/);
    assert.ok(!saved.lines.some((l) => /^\* E?SEARCH/.test(l)), saved.lines.join('\n'));
    assert.equal(await search('UID SEARCH $'), '* SEARCH 1 3 5 7');

    // Expunge UIDs 2 and 3: sequence numbers shift, sets resolve against what the session knows.
    await r.command('UID STORE 2:3 +FLAGS (\\Deleted)');
    await r.command('EXPUNGE');
    assert.equal(await search('SEARCH 2:4'), '* SEARCH 2 3 4');
    assert.equal(await search('UID SEARCH 2:4'), '* SEARCH 4 5 6');
    assert.equal(await search('SEARCH FLAGGED'), '* SEARCH 1 3 5');
    assert.equal(await search('UID SEARCH UID 1:4 NOT DELETED'), '* SEARCH 1 4');
    r.close();
  });
});

describe('\\Noselect after DELETE of a folder with children', () => {
  it('LIST shows \\Noselect, SELECT/STATUS/APPEND are refused, a second DELETE is NO, CREATE makes it selectable', async () => {
    const c = flow();
    await c.connect();
    await c.mailboxCreate('Projects/Alpha');
    await c.append('Projects', UTF8_MESSAGE);
    assert.equal(await c.mailboxDelete('Projects').then(() => 'deleted'), 'deleted');
    const listed = await c.list();
    const parent = listed.find((f) => f.path === 'Projects');
    assert.ok(parent?.flags.has('\\Noselect'), 'the parent is listed as \\Noselect');
    assert.ok(listed.find((f) => f.path === 'Projects/Alpha'), 'the child is still there');
    await assert.rejects(c.mailboxOpen('Projects'));

    const r = await raw();
    assert.match((await r.command('SELECT Projects')).tagged, /^t2 NO/);
    assert.match((await r.command('EXAMINE Projects')).tagged, /^t3 NO/);
    assert.match((await r.command('STATUS Projects (MESSAGES)')).tagged, /^t4 NO/);
    const status = await r.command('LIST "" "Projects*" RETURN (STATUS (MESSAGES))');
    assert.deepEqual(status.lines, [
      '* LIST (\\Noselect \\HasChildren) "/" "Projects"',
      '* LIST (\\HasNoChildren) "/" "Projects/Alpha"',
      '* STATUS "Projects/Alpha" (MESSAGES 0)',
    ]);
    assert.match((await r.commandWithLiteral('APPEND Projects', 'Subject: x\r\n\r\nx\r\n')).tagged, /NO \[TRYCREATE\]/);
    // RFC 3501: deleting a \Noselect name that still has inferiors is an error.
    assert.match((await r.command('DELETE Projects')).tagged, /^t\d+ NO/);
    r.close();

    // imaplib sees the same attribute.
    const py = await run('python3', ['-c', PY_LIST, String(fx.port), user.address, user.password]);
    assert.equal(py.status, 0, py.stderr);
    assert.match(py.stdout.toString(), /\(\\Noselect \\HasChildren\) "\/" "?Projects"?/);

    await c.mailboxCreate('Projects');
    const reopened = await c.mailboxOpen('Projects');
    assert.equal(reopened.exists, 0);
    await c.mailboxClose();
    await c.mailboxDelete('Projects/Alpha');
    await c.mailboxDelete('Projects');
    assert.ok(!(await c.list()).some((f) => f.path.startsWith('Projects')));
  });
});

const PY_LIST = String.raw`
import imaplib, sys
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1])); M.login(sys.argv[2], sys.argv[3])
typ, data = M.list('""', 'Projects*')
print('\n'.join(d.decode() for d in data))
M.logout()
`;

const PY_ENVELOPE = String.raw`
import imaplib, sys, re
from email.header import decode_header, make_header
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1])); M.login(sys.argv[2], sys.argv[3])
M.select('Utf8', readonly=True)
typ, data = M.fetch('1', '(ENVELOPE)')
line = data[0].decode('ascii')
subject = re.search(r'ENVELOPE \("[^"]*" "([^"]*)"', line).group(1)
print(subject)
print(str(make_header(decode_header(subject))))
M.logout()
`;

describe('raw UTF-8 headers', () => {
  it('ENVELOPE carries the UTF-8 subject after ENABLE UTF8=ACCEPT, and RFC 2047 words without it', async () => {
    const mailbox = await fx.mailboxOf(user.address, user.password);
    mailbox.createFolder('Utf8');
    await mailbox.append('Utf8', UTF8_MESSAGE);

    // imapflow enables UTF8=ACCEPT when it is advertised.
    const c = flow();
    await c.connect();
    assert.ok(c.enabled.has('UTF8=ACCEPT'));
    await c.mailboxOpen('Utf8');
    const message = await c.fetchOne('1', { envelope: true });
    assert.ok(message);
    assert.equal(message.envelope?.subject, SUBJECT);
    assert.equal(message.envelope?.from?.[0]?.name, 'Jürgen Müller');
    await c.mailboxClose();

    // Without UTF8=ACCEPT the response stays 7-bit: encoded words that decode to the same text.
    const py = await run('python3', ['-c', PY_ENVELOPE, String(fx.port), user.address, user.password]);
    assert.equal(py.status, 0, py.stderr);
    const [wire, decoded] = py.stdout.toString().trim().split('\n');
    assert.match(wire ?? '', /^=\?UTF-8\?[QB]\?/i);
    assert.equal(decoded, SUBJECT);

    // Raw: after ENABLE UTF8=ACCEPT the subject bytes are the message's own.
    const r = await raw();
    await r.command('ENABLE UTF8=ACCEPT');
    await r.command('EXAMINE Utf8');
    const fetched = await r.command('FETCH 1 (ENVELOPE)');
    const line = Buffer.from(fetched.lines[0] ?? '', 'binary').toString('utf8');
    assert.ok(line.includes(SUBJECT), line);
    assert.ok(!line.includes('\ufffd'));
    r.close();
  });
});

describe('FETCH without parsed structures', () => {
  it('BODY.PEEK[] alone, partials and RFC822 are byte-exact; RFC822 sets \\Seen and reports FLAGS', async () => {
    const mailbox = await fx.mailboxOf(user.address, user.password);
    mailbox.createFolder('Bytes');
    const corpus = generateCorpus(5, 24);
    for (const m of corpus) await mailbox.append('Bytes', m.raw);
    const c = flow();
    await c.connect();
    await c.mailboxOpen('Bytes');
    let n = 0;
    for await (const m of c.fetch('1:*', { source: true })) {
      assert.ok(m.source?.equals(corpus[m.seq - 1]!.raw), `message ${m.seq}`);
      n++;
    }
    assert.equal(n, corpus.length);
    const r = await raw();
    await r.command('SELECT Bytes');
    const partial = await r.command('FETCH 2 (BODY.PEEK[]<5.10>)');
    assert.equal(partial.lines[0], `* 2 FETCH (BODY[]<5> {10}\r\n${corpus[1]!.raw.subarray(5, 15).toString('binary')})`);
    // RFC 3501 §6.4.5: an origin beyond the end gives an empty string; §9: a partial needs its length.
    const beyond = await r.command('UID FETCH 2 (BODY.PEEK[]<999999.10>)');
    assert.match(beyond.lines[0] ?? '', /^\* 2 FETCH \((?=.*BODY\[\]<999999> (""|\{0\}\r\n))(?=.*UID 2)/s);
    assert.match((await r.command('UID FETCH 2 (BODY.PEEK[]<999999>)')).tagged, /^t\d+ BAD/);
    const seen = await r.command('FETCH 3 (RFC822)');
    assert.equal(seen.lines[0], `* 3 FETCH (RFC822 {${corpus[2]!.raw.length}}\r\n${corpus[2]!.raw.toString('binary')} FLAGS (\\Seen))`);
    assert.deepEqual(mailbox.listMessages('Bytes', [[3, 3]]).map((m) => m.flags), [['\\Seen']]);
    r.close();
  });
});

describe('LITERAL+ (RFC 7888)', () => {
  it('accepts non-synchronizing literals without a continuation, in LOGIN, APPEND and SEARCH', async () => {
    const r = await RawImap.connect(fx.port);
    assert.match((await r.command('CAPABILITY')).lines.join(' '), / LITERAL\+ /);
    const address = Buffer.from(user.address);
    const password = Buffer.from(user.password);
    r.write(`a1 LOGIN {${address.length}+}\r\n${user.address} {${password.length}+}\r\n${user.password}\r\n`);
    const login = await r.until('a1');
    assert.match(login.tagged, /^a1 OK/);
    assert.ok(!login.lines.some((l) => l.startsWith('+')), 'no continuation request');
    const message = generateCorpus(1, 25)[0]!.raw;
    r.write(Buffer.concat([Buffer.from(`a2 APPEND INBOX (\\Flagged) {${message.length}+}\r\n`), message, Buffer.from('\r\n')]));
    const appended = await r.readLine();
    assert.match(appended, /^a2 OK \[APPENDUID \d+ (\d+)\]/, 'no "+ Go ahead" before the tagged reply');
    const uid = /APPENDUID \d+ (\d+)/.exec(appended)![1];
    await r.command('EXAMINE INBOX');
    r.write(`a3 UID SEARCH BODY {8+}\r\n${generateCorpus(1, 25)[0]!.token} FLAGGED\r\n`);
    assert.equal(await r.readLine(), `* SEARCH ${uid}`);
    assert.match(await r.readLine(), /^a3 OK/);
    const fetched = await r.command(`UID FETCH ${uid} (BODY.PEEK[])`);
    assert.ok(fetched.lines[0]?.includes(message.toString('binary')), 'stored byte for byte');
    r.close();
  });

  it('a refused non-synchronizing literal is read and dropped: its bytes never run as commands', async () => {
    const r = await RawImap.connect(fx.port);
    // Before login literals are limited to 1 KiB; this one carries command lines.
    const smuggled = `x1 CAPABILITY\r\n`.repeat(200);
    r.write(`a1 LOGIN {${smuggled.length}+}\r\n${smuggled} {3+}\r\nabc\r\n`);
    assert.match(await r.readLine(), /^a1 BAD/);
    const noop = await r.command('NOOP');
    assert.match(noop.tagged, /^t1 OK/);
    assert.deepEqual(noop.lines, [], 'no smuggled CAPABILITY ran');
    assert.match((await r.command(`LOGIN "${user.address}" "${user.password}"`)).tagged, /^t2 OK/);
    // Over the APPENDLIMIT (50 MiB here): NO [TOOBIG] without waiting for the bytes the client sends anyway.
    r.write(`a2 APPEND INBOX {${60 * 1024 * 1024}+}\r\n`);
    assert.match(await r.readLine(), /^a2 NO \[TOOBIG\]/);
    r.close();
    const again = await RawImap.connect(fx.port);
    const stuffed = `y1 DELETE INBOX\r\ny2 LOGOUT\r\n`;
    assert.match((await again.command(`LOGIN "${user.address}" "${user.password}"`)).tagged, /OK/);
    // A non-APPEND literal over imap-core's 1 KiB bound, followed by the rest of the refused command.
    again.write(`a3 SEARCH BODY {${2048}+}\r\n${stuffed.padEnd(2048, 'z')} SUBJECT {4+}\r\nabcd\r\n`);
    assert.match(await again.readLine(), /^a3 (NO|BAD)/);
    const after = await again.command('NOOP');
    assert.match(after.tagged, /^t2 OK/, 'the connection reads on after the dropped bytes');
    assert.ok(!after.lines.some((l) => /^y\d/.test(l)), after.lines.join('\n'));
    assert.match((await again.command('STATUS INBOX (MESSAGES)')).tagged, /^t3 OK/, 'nothing inside the literal ran');
    again.close();
  });
});

describe('privacy', () => {
  it('no subject, body word, address or password of these tests is in the data dir or the log in plaintext', () => {
    const needles = ['Grüße aus Köln', 'zqutf801', 'Jürgen Müller', user.address, user.password, 'Projects/Alpha', 'Status/Child'];
    assert.deepEqual(findPlaintext(fx.dataDir, needles, { logs: fx.logs, exclude: (file) => file.endsWith('.pem') }), []);
  });
});
