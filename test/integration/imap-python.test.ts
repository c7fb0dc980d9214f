// Python's imaplib (a second, independent client) against Sealpost IMAP: folders, APPEND with flags, date
// and UTF-8, FETCH items and partials, STORE UNCHANGEDSINCE, COPY/MOVE COPYUID, EXPUNGE/CLOSE, SEARCH
// with a UTF-8 literal, STATUS, GETQUOTAROOT, NAMESPACE, plus curl's imap:// LIST/FETCH/SEARCH.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';
import { run } from '../helpers/run.js';

let fx: ImapFixture;
let user: { address: string; password: string };

const MESSAGE =
  'From: =?UTF-8?Q?Zo=C3=AB?= <zoe@example.org>\r\nTo: bob@example.test\r\nSubject: =?UTF-8?Q?caf=C3=A9_menu?=\r\n' +
  'Message-ID: <py1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n' +
  'Content-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln, token zqpy4242.\r\n';

const SCRIPT = String.raw`
import imaplib, json, re, sys
host, port, user, pw, message = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5].encode('utf-8')
out = {}
def text(data):
    parts = []
    for d in data:
        if isinstance(d, tuple):
            parts.append(b' '.join(d).decode('utf-8', 'replace'))
        elif d is not None:
            parts.append(d.decode('utf-8', 'replace'))
    return '\n'.join(parts)
M = imaplib.IMAP4(host, port)
out['greeting'] = M.welcome.decode()
out['login'] = M.login(user, pw)[0]
out['caps'] = sorted(M.capabilities)
out['namespace'] = text(M.namespace()[1])
out['list'] = text(M.list()[1])
out['lsub_delimiter'] = text(M.lsub('""', '""')[1])
out['create'] = M.create('Py/Nested/Deep')[0]
out['rename'] = M.rename('Py', 'Python')[0]
out['subscribe'] = M.subscribe('Python/Nested')[0]
out['lsub'] = text(M.lsub('""', 'Python/*')[1])
out['delete'] = M.delete('Python/Nested/Deep')[0]
out['list_after'] = text(M.list('""', 'Python*')[1])
typ, data = M.append('INBOX', r'(\Flagged $Work)', '"04-Mar-2021 05:06:07 +0100"', message)
out['append'] = typ + ' ' + text(data)
out['examine'] = M.select('INBOX', readonly=True)[0]
typ, data = M.fetch('1', '(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[])')
out['fetch_meta'] = text([d[0] if isinstance(d, tuple) else d for d in data])
out['body_equal'] = data[0][1] == message
typ, data = M.fetch('1', '(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BODY.PEEK[TEXT]<0.10> RFC822.TEXT)')
out['sections'] = [d[1].decode('utf-8', 'replace') for d in data if isinstance(d, tuple)]
out['sections_meta'] = text([d[0] for d in data if isinstance(d, tuple)])
out['examine_flags'] = text(M.fetch('1', '(FLAGS)')[1])
out['select'] = M.select('INBOX')[0]
uid = re.search(r'UID (\d+)', out['fetch_meta']).group(1)
typ, data = M.uid('FETCH', uid, '(MODSEQ)')
modseq = int(re.search(r'MODSEQ \((\d+)\)', text(data)).group(1))
typ, data = M.uid('STORE', uid, '(UNCHANGEDSINCE %d)' % modseq, '+FLAGS', r'(\Seen)')
out['store_ok'] = typ + ' ' + text(data)
typ, data = M.uid('STORE', uid, '(UNCHANGEDSINCE %d)' % modseq, '+FLAGS', r'(\Answered)')
out['store_modified'] = typ + ' ' + text(M.response('MODIFIED')[1])
M.literal = 'Grüße'.encode('utf-8')
out['search_utf8'] = text(M.uid('SEARCH', 'CHARSET', 'UTF-8', 'BODY')[1])
out['search_token'] = text(M.uid('SEARCH', 'BODY', 'zqpy4242')[1])
out['search_none'] = text(M.uid('SEARCH', 'BODY', 'zq000000')[1])
out['search_flagged'] = text(M.search(None, 'FLAGGED', 'KEYWORD', '$Work')[1])
typ, data = M.uid('COPY', uid, 'Python')
out['copy'] = typ + ' ' + text(M.response('COPYUID')[1])
typ, data = M.uid('MOVE', uid, 'Archive')
out['move'] = typ + ' ' + text(M.response('COPYUID')[1])
out['status'] = text(M.status('Python', '(MESSAGES UIDNEXT UNSEEN)')[1])
M.select('Python')
M.store('1', '+FLAGS', r'(\Deleted)')
typ, data = M.expunge()
out['expunge'] = typ + ' ' + text(data)
out['close'] = M.close()[0]
typ, data = M.getquotaroot('INBOX')
out['quota'] = text(data[0]) + '\n' + text(data[1])
out['logout'] = M.logout()[0]
print(json.dumps(out))
`;

before(async () => {
  fx = await startImapFixture();
  user = await fx.addUser('pyuser', 10 * 1024 * 1024);
});

after(async () => {
  await fx.close();
});

describe('IMAP with Python imaplib and curl', () => {
  it('imaplib covers folders, APPEND, FETCH, STORE, COPY/MOVE, EXPUNGE, SEARCH, STATUS and QUOTA', async () => {
    const py = await run('python3', ['-c', SCRIPT, fx.host, String(fx.port), user.address, user.password, MESSAGE]);
    assert.equal(py.status, 0, py.stderr);
    const out = JSON.parse(py.stdout.toString('utf8')) as Record<string, string | boolean | string[]>;
    assert.match(String(out.greeting), /Sealpost/);
    assert.equal(out.login, 'OK');
    assert.ok((out.caps as string[]).includes('IDLE') && (out.caps as string[]).includes('UIDPLUS'));
    assert.match(String(out.namespace), /\(\("" "\/"\)\) NIL NIL/);
    assert.match(String(out.list), /\(\\HasNoChildren \\Sent\) "\/" "?Sent"?/);
    assert.equal(out.lsub_delimiter, '(\\Noselect) "/" ""');
    assert.deepEqual([out.create, out.rename, out.subscribe, out.delete], ['OK', 'OK', 'OK', 'OK']);
    assert.match(String(out.lsub), /Python\/Nested/);
    assert.match(String(out.list_after), /Python\/Nested/);
    assert.ok(!String(out.list_after).includes('Deep'));
    assert.match(String(out.append), /^OK \[APPENDUID \d+ \d+\]/);
    assert.equal(out.body_equal, true, 'BODY[] byte-identical, UTF-8 body included');
    const meta = String(out.fetch_meta);
    // RFC 3501 §2.3.2: the session that first learns of a message sees it \Recent (imaplib appended into INBOX it had selected).
    const flags = /FLAGS \(([^)]*)\)/.exec(meta)?.[1]?.split(' ').sort();
    assert.deepEqual(flags, ['$Work', '\\Flagged', '\\Recent'], meta);
    assert.match(meta, /INTERNALDATE "04-Mar-2021 04:06:07 \+0000"/);
    assert.match(meta, new RegExp(`RFC822.SIZE ${Buffer.byteLength(MESSAGE)}`));
    assert.match(meta, /ENVELOPE \(/);
    assert.match(meta, /BODYSTRUCTURE \("text" "plain"/i);
    const sections = out.sections as string[];
    assert.match(sections[0] ?? '', /^From: .*\r\nSubject: .*\r\n\r\n$/);
    assert.equal(sections[1], Buffer.from(MESSAGE.split('\r\n\r\n')[1] ?? '').subarray(0, 10).toString('utf8'), 'BODY[TEXT]<0.10> is 10 octets');
    assert.equal(sections[2], MESSAGE.split('\r\n\r\n')[1]);
    assert.match(String(out.sections_meta), /BODY\[TEXT\]<0> \{10\}/);
    assert.ok(!String(out.examine_flags).includes('\\Seen'), 'EXAMINE + PEEK leave \\Seen alone');
    assert.match(String(out.store_ok), /^OK/);
    assert.match(String(out.store_modified), /^OK \d+$/, 'tagged OK [MODIFIED uid]');
    assert.match(String(out.search_utf8), /^\d+$/);
    assert.equal(out.search_token, out.search_utf8);
    assert.equal(out.search_none, '');
    assert.equal(out.search_flagged, '1');
    assert.match(String(out.copy), /^OK \d+ \d+ \d+$/, 'COPYUID');
    assert.match(String(out.move), /^OK \d+ \d+ \d+/, 'COPYUID');
    assert.match(String(out.status), /MESSAGES 1 UIDNEXT 2 UNSEEN 0/);
    assert.match(String(out.expunge), /^OK 1$/);
    assert.equal(out.close, 'OK');
    assert.match(String(out.quota), /"?INBOX"? ""\n"" \(STORAGE \d+ 10240\)/);
    assert.equal(out.logout, 'BYE');
  });

  it('curl imap:// lists folders, fetches a message and searches', async () => {
    const url = `imap://${fx.host}:${fx.port}`;
    const auth = ['-u', `${user.address}:${user.password}`, '--max-time', '20', '-sS'];
    const list = await run('curl', [...auth, `${url}/`]);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout.toString(), /\* LIST \(.*\) "\/" "?Archive"?/);
    const fetch = await run('curl', [...auth, `${url}/Archive;MAILINDEX=1`]);
    assert.equal(fetch.status, 0, fetch.stderr);
    assert.ok(fetch.stdout.equals(Buffer.from(MESSAGE)), 'curl got the exact message');
    const search = await run('curl', [...auth, `${url}/Archive?BODY%20zqpy4242`]);
    assert.equal(search.status, 0, search.stderr);
    assert.match(search.stdout.toString(), /^\* SEARCH 1\r?$/m);
    const uidFetch = await run('curl', [...auth, `${url}/Archive`, '-X', 'UID FETCH 1:* (FLAGS)']);
    // RFC 3501 §7.4.2 fixes no order of FETCH data items; UID FETCH always carries UID (§6.4.8).
    assert.match(uidFetch.stdout.toString(), /FETCH \((?=[^\r\n]*FLAGS \([^)]*\))(?=[^\r\n]*UID \d+)/);
  });
});
