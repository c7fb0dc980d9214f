// The Sieve interpreter on real message bytes: the examples of RFC 5228 §9, RFC 5229, RFC 5230 §7 and RFC 5232,
// every test and action, and hostile scripts kept within their limits (runtime errors become the implicit keep).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildVacationReply, compileSieve, messageView, runSieve, SIEVE_LIMITS, vacationDue, type SieveEnvelope, type SieveLimits, type SieveOutcome } from '../../server/sieve/index.js';

const msg = (headers: Record<string, string | string[]>, body = 'Hello there.\r\n'): Buffer =>
  Buffer.from(
    `${Object.entries(headers)
      .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}: ${x}\r\n`))
      .join('')}\r\n${body}`,
  );

const run = (script: string, raw: Buffer, envelope: SieveEnvelope | null = null, limits: SieveLimits = SIEVE_LIMITS): SieveOutcome =>
  runSieve(compileSieve(script, limits), messageView(raw, envelope, limits.maxBodyBytes), limits);

const folders = (o: SieveOutcome): (string | null)[] => o.stores.map((s) => s.folder);

const RFC5228_EXAMPLE = `require ["fileinto"];
if header :is "Sender" "owner-ietf-mta-filters@imc.org" { fileinto "filter"; }
elsif address :DOMAIN :is ["From", "To"] "example.com" { keep; }
elsif anyof (NOT address :all :contains ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject" ["*make*money*fast*", "*university*dipl*mas*"]) { fileinto "spam"; }
else { fileinto "personal"; }`;

test('RFC 5228 §9: the example script files each kind of message where it says', () => {
  assert.deepEqual(folders(run(RFC5228_EXAMPLE, msg({ Sender: 'owner-ietf-mta-filters@imc.org', To: 'me@example.com' }))), ['filter']);
  assert.deepEqual(folders(run(RFC5228_EXAMPLE, msg({ From: 'Boss <boss@EXAMPLE.com>', To: 'me@example.com' }))), [null]);
  assert.deepEqual(folders(run(RFC5228_EXAMPLE, msg({ From: 'x@other.test', To: 'someone@else.test' }))), ['spam']);
  assert.deepEqual(folders(run(RFC5228_EXAMPLE, msg({ From: 'x@other.test', To: 'x@list.test', Cc: 'me@example.com', Subject: 'MAKE lots of MONEY very FAST' }))), ['spam']);
  assert.deepEqual(folders(run(RFC5228_EXAMPLE, msg({ From: 'x@other.test', To: 'x@list.test', Cc: 'me@example.com', Subject: 'lunch?' }))), ['personal']);
});

test('RFC 5228 §2.10.2: the implicit keep stands unless fileinto, redirect or discard cancels it; stop ends the script', () => {
  const m = msg({ From: 'a@b.test' });
  assert.deepEqual(folders(run('', m)), [null]);
  assert.deepEqual(folders(run('discard;', m)), []);
  assert.deepEqual(folders(run('require "fileinto"; fileinto "A";', m)), ['A']);
  assert.deepEqual(folders(run('require ["fileinto", "copy"]; fileinto :copy "A";', m)), ['A', null]);
  assert.deepEqual(folders(run('require "fileinto"; fileinto "A"; fileinto "A"; fileinto "inbox";', m)), ['A', 'INBOX']);
  assert.deepEqual(folders(run('stop; discard;', m)), [null]);
  const r = run('redirect "c@d.test";', m);
  assert.deepEqual([folders(r), r.redirects], [[], ['c@d.test']]);
  const c = run('require "copy"; redirect :copy "c@d.test";', m);
  assert.deepEqual([folders(c), c.redirects], [[null], ['c@d.test']]);
});

test('RFC 5228 §5: header, address parts, exists, size, not/allof/anyof, true/false, comparators', () => {
  const m = msg({ From: '"Ann" <Ann.Smith@Example.COM>', To: 'group: a@x.test, b@y.test;', Subject: 'Hello World', 'X-Tag': ['one', 'two'] });
  const yes = (t: string): boolean => folders(run(`if ${t} { discard; }`, m)).length === 0;
  assert.ok(yes('header :is "subject" "hello world"'));
  assert.ok(!yes('header :comparator "i;octet" :is "subject" "hello world"'));
  assert.ok(yes('header :comparator "i;octet" :is "subject" "Hello World"'));
  assert.ok(yes('header :contains "x-tag" "wo"'));
  assert.ok(yes('address :localpart :is "from" "ann.smith"'));
  assert.ok(yes('address :domain :is "from" "example.com"'));
  assert.ok(yes('address :all :is "to" "b@y.test"'));
  assert.ok(!yes('address :is "from" "Ann"'));
  assert.ok(yes('exists ["from", "subject"]'));
  assert.ok(!yes('exists ["from", "x-none"]'));
  assert.ok(yes(`size :under ${m.length + 1}`));
  assert.ok(!yes(`size :over ${m.length}`));
  assert.ok(yes('allof (true, not false, anyof (false, true))'));
  assert.ok(!yes('anyof (false, false)'));
});

test('RFC 2047 encoded header values are decoded before comparing (RFC 5228 §2.7.2)', () => {
  const m = msg({ Subject: '=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=' });
  assert.deepEqual(folders(run('require "fileinto"; if header :contains "subject" "Köln" { fileinto "K"; }', m)), ['K']);
});

test('RFC 5228 §5.4: envelope from/to with address parts; an empty MAIL FROM is ""; no envelope is false', () => {
  const m = msg({ From: 'x@y.test' });
  const s = 'require ["envelope", "fileinto"]; if envelope :domain :is "to" "example.org" { fileinto "T"; } elsif envelope :is "from" "" { fileinto "B"; }';
  assert.deepEqual(folders(run(s, m, { from: 'a@b.test', to: 'me@Example.org' })), ['T']);
  assert.deepEqual(folders(run(s, m, { from: '', to: 'me@other.test' })), ['B']);
  assert.deepEqual(folders(run(s, m, null)), [null]);
});

test('RFC 5173: body :text, :raw and :content', () => {
  const mime = msg(
    { From: 'a@b.test', 'MIME-Version': '1.0', 'Content-Type': 'multipart/alternative; boundary="b1"' },
    '--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nMeet at the caf=C3=A9\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nc2VjcmV0LXRva2Vu\r\n--b1--\r\n',
  );
  const hit = (t: string): boolean => folders(run(`require "body"; if ${t} { discard; }`, mime)).length === 0;
  assert.ok(hit('body :contains "café"'));
  assert.ok(hit('body :text :contains "café"'));
  assert.ok(!hit('body :raw :contains "café"'));
  assert.ok(hit('body :raw :contains "caf=C3=A9"'));
  assert.ok(hit('body :content "text" :contains "café"'));
  assert.ok(!hit('body :content "image" :contains "café"'));
  assert.ok(!hit('body :contains "secret-token"'));
});

test('RFC 5229 §3.2: :matches sets ${1}.. from the left, each wildcard as short as it can be', () => {
  const m = msg({ Subject: '[acme-users] [fwd] version 1.0 is out', 'List-ID': 'Acme users <acme-users@lists.example.org>' });
  const r = run('require ["fileinto", "variables"]; if header :matches "List-ID" "*<*@*" { fileinto "lists.${2}"; }\nif header :matches "Subject" "[*] *" { fileinto "s.${1}|${2}"; }', m);
  assert.deepEqual(folders(r), ['lists.acme-users', 's.acme-users|[fwd] version 1.0 is out']);
  const q = run('require ["fileinto", "variables"]; if header :matches "subject" "?acme*" { fileinto "${0}/${1}/${2}"; }', m);
  assert.deepEqual(folders(q), ['[acme-users] [fwd] version 1.0 is out/[/-users] [fwd] version 1.0 is out']);
  const escaped = run('require ["fileinto"]; if header :matches "subject" "\\\\[acme*" { fileinto "x"; }', m);
  assert.deepEqual(folders(escaped), ['x']);
});

test('RFC 5229 §4: set modifiers in precedence order, and the string test', () => {
  const script = `require ["variables", "fileinto"];
    set "a" "juMBlEd lETteRS";
    set :length "b" "\${a}"; fileinto "1:\${b}";
    set :lower "b" "\${a}"; fileinto "2:\${b}";
    set :upperfirst "b" "\${a}"; fileinto "3:\${b}";
    set :upperfirst :lower "b" "\${a}"; fileinto "4:\${b}";
    set :quotewildcard "b" "Rock*"; fileinto "5:\${b}";
    set "honorific" "Mr"; set "last_name" "Doe";
    if string :is "\${HONORIFIC} \${last_name}" "Mr Doe" { fileinto "6:ok"; }
    fileinto "7:\${unknown}|\${a.b}";`;
  assert.deepEqual(folders(run(script, msg({ From: 'a@b.test' }))), ['1:15', '2:jumbled letters', '3:JuMBlEd lETteRS', '4:Jumbled letters', '5:Rock\\*', '6:ok', '7:|${a.b}']);
});

test('RFC 5232 §5: setflag/addflag/removeflag, :flags on keep and fileinto, hasflag, flags on the implicit keep', () => {
  const boss = msg({ From: 'boss@frobnitzm.example.edu', Subject: 'x' });
  const r = run(
    'require ["imap4flags", "fileinto", "variables"]; if header :contains "from" "boss@frobnitzm.example.edu" { setflag "flagvar" "\\\\Flagged"; fileinto :flags "${flagvar}" "INBOX.From Boss"; }',
    boss,
  );
  assert.deepEqual(r.stores, [{ folder: 'INBOX.From Boss', flags: ['\\Flagged'] }]);
  const big = run('require "imap4flags"; if size :over 10 { setflag "\\\\Deleted"; }', boss);
  assert.deepEqual(big.stores, [{ folder: null, flags: ['\\Deleted'] }]);
  const ops = run('require ["imap4flags", "fileinto"]; addflag ["a b", "c"]; removeflag "b"; if hasflag :is "c" { fileinto "has-c"; } keep :flags "\\\\Seen";', boss);
  assert.deepEqual(ops.stores, [{ folder: 'has-c', flags: ['a', 'c'] }, { folder: null, flags: ['\\Seen'] }]);
});

test('RFC 5230 §7: the vacation examples ask for a reply with their reason, :days clamped, :addresses kept', () => {
  const s1 = 'require "vacation";\nif header :contains "subject" "cyrus" { vacation "I\'m out -- send mail to cyrus-bugs"; } else { vacation "I\'m out -- call me at +1 304 555 0123"; }';
  assert.equal(run(s1, msg({ Subject: 'cyrus bug' })).vacation?.reason, "I'm out -- send mail to cyrus-bugs");
  assert.equal(run(s1, msg({ Subject: 'lunch' })).vacation?.reason, "I'm out -- call me at +1 304 555 0123");
  const s2 = `require ["vacation", "variables"];
    if header :matches "subject" "*" { set "subjwas" ": \${1}"; }
    vacation :days 32 :subject "Out of office\${subjwas}" :addresses ["tjs@example.edu", "ts4z@landru.example.edu"] "I'm away until October 19.";`;
  const v = run(s2, msg({ Subject: 'hi' })).vacation;
  assert.equal(v?.days, SIEVE_LIMITS.vacationMaxDays);
  assert.equal(v?.subject, 'Out of office: hi');
  assert.deepEqual(v?.addresses, ['tjs@example.edu', 'ts4z@landru.example.edu']);
  assert.equal(run('require "vacation"; vacation "x";', msg({})).vacation?.days, 7);
  assert.equal(run('require "vacation"; vacation :days 0 "x";', msg({})).vacation?.days, SIEVE_LIMITS.vacationMinDays);
  // vacation keeps the message (it is not a cancelling action)
  assert.deepEqual(folders(run(s1, msg({ Subject: 'x' }))), [null]);
});

test('RFC 5230 §4.5-4.6 / RFC 3834: no reply to a bounce, a list, bulk or automatic mail, a robot, or mail not to us', () => {
  const own = ['me@example.org'];
  const view = (h: Record<string, string>, from = 'friend@example.net'): ReturnType<typeof messageView> => messageView(msg({ To: 'me@example.org', ...h }), { from, to: 'me@example.org' }, 1024);
  assert.equal(vacationDue(view({}), own), 'friend@example.net');
  assert.equal(vacationDue(view({ 'Auto-Submitted': 'no' }), own), 'friend@example.net');
  assert.equal(vacationDue(view({}, ''), own), null);
  assert.equal(vacationDue(view({ 'Auto-Submitted': 'auto-replied' }), own), null);
  assert.equal(vacationDue(view({ 'List-Id': '<l.example.net>' }), own), null);
  assert.equal(vacationDue(view({ 'List-Unsubscribe': '<mailto:x@y>' }), own), null);
  assert.equal(vacationDue(view({ Precedence: 'bulk' }), own), null);
  assert.equal(vacationDue(view({ Precedence: 'junk' }), own), null);
  for (const robot of ['MAILER-DAEMON@x.test', 'owner-list@x.test', 'list-request@x.test', 'noreply@x.test', 'no-reply@x.test']) assert.equal(vacationDue(view({}, robot), own), null, robot);
  assert.equal(vacationDue(messageView(msg({ To: 'other@example.org' }), { from: 'friend@example.net', to: 'me@example.org' }, 1024), own), null);
  assert.equal(vacationDue(messageView(msg({ To: 'x@y.test', Cc: 'Me <ME@example.org>' }), { from: 'friend@example.net', to: 'me@example.org' }, 1024), own), 'friend@example.net');
});

test('RFC 5230 §5: the reply is auto-replied, threads to the original and says "Auto: <subject>" by default', () => {
  const original = messageView(msg({ Subject: 'Grüße', 'Message-ID': '<m1@example.net>', References: '<m0@example.net>' }), null, 1024);
  const reply = buildVacationReply({ action: { reason: 'Away until Monday.', days: 7, subject: null, from: null, addresses: [], mime: false, handle: 'h' }, message: original, from: 'me@example.org', to: 'friend@example.net', hostname: 'mx.example.org', now: new Date(0) }).toString();
  assert.match(reply, /^Auto-Submitted: auto-replied/m);
  assert.match(reply, /^In-Reply-To: <m1@example\.net>\r$/m);
  assert.match(reply, /^References: <m0@example\.net> <m1@example\.net>\r$/m);
  assert.match(reply, /^Subject: Auto: =\?UTF-8\?Q\?Gr=C3=BC=C3=9Fe\?=\r$/m);
  assert.match(reply, /^From: me@example\.org\r$/m);
  assert.match(reply, /^To: friend@example\.net\r$/m);
  assert.ok(reply.includes(Buffer.from('Away until Monday.').toString('base64')));
  // :mime (RFC 5230 §4.4): the reason is a MIME entity whose own header fields head the reply's body
  const mime = buildVacationReply({ action: { reason: 'Content-Type: text/html; charset=utf-8\r\n\r\n<p>Away</p>\r\n', days: 7, subject: 'Out', from: null, addresses: [], mime: true, handle: 'h' }, message: original, from: 'me@example.org', to: 'friend@example.net', hostname: 'mx.example.org', now: new Date(0) }).toString();
  assert.match(mime, /^Subject: Out\r\n/m);
  assert.match(mime, /\r\nContent-Type: text\/html; charset=utf-8\r\n\r\n<p>Away<\/p>\r\n$/);
  assert.equal(mime.match(/^Content-Type:/gm)?.length, 1);
});

test('hostile: pathological :matches against long input runs in linear steps, within the budget', () => {
  const long = 'a'.repeat(200_000);
  const m = msg({ Subject: long });
  const r = run('require "fileinto"; if header :matches "subject" "*a*a*a*a*a*a*a*a*a*a*b" { fileinto "x"; }', m);
  assert.deepEqual([r.error, folders(r)], [null, [null]]);
  const ok = run('require "fileinto"; if header :matches "subject" "*a*a*a*a*a*a*a*a*a*a*a" { fileinto "x"; }', m);
  assert.deepEqual(folders(ok), ['x']);
});

test('hostile: a run past a limit stops with only the implicit keep (RFC 5228 §2.10.6)', () => {
  const m = msg({ Subject: 'x'.repeat(5000) });
  const tight: SieveLimits = { ...SIEVE_LIMITS, maxSteps: 1000 };
  const r = run('require "fileinto"; fileinto "A"; if header :matches "subject" "*y*y*y*z" { discard; }', m, null, tight);
  assert.match(r.error ?? '', /evaluation steps/);
  assert.deepEqual(r.stores, [{ folder: null, flags: [] }]);
  const redirects = run('redirect "a@x.test"; redirect "b@x.test"; redirect "c@x.test"; redirect "d@x.test"; redirect "e@x.test";', m);
  assert.match(redirects.error ?? '', /redirected more than/);
  assert.deepEqual([redirects.redirects, folders(redirects)], [[], [null]]);
  const actions = run(`require "fileinto"; ${Array.from({ length: SIEVE_LIMITS.maxActions + 1 }, (_, i) => `fileinto "f${i}";`).join(' ')}`, m);
  assert.match(actions.error ?? '', /actions/);
  const vars = run(`require "variables"; ${Array.from({ length: SIEVE_LIMITS.maxVariables + 1 }, (_, i) => `set "v${i}" "x";`).join(' ')}`, m);
  assert.match(vars.error ?? '', /variables/);
  // a variable doubled until it is huge stays at maxVariableLength, and expanding it is counted
  const grow = run(`require ["variables", "fileinto"]; set "a" "xxxxxxxxxxxxxxxx"; ${'set "a" "${a}${a}";'.repeat(30)} set :length "n" "\${a}"; fileinto "\${n}";`, m);
  assert.deepEqual(folders(grow), [String(SIEVE_LIMITS.maxVariableLength)]);
  assert.match(run('redirect "not an address";', m).error ?? '', /e-mail address/);
  assert.match(run('require "vacation"; vacation "a"; vacation "b";', m).error ?? '', /once/);
});

test('hostile: the body test examines at most maxBodyBytes', () => {
  const limits: SieveLimits = { ...SIEVE_LIMITS, maxBodyBytes: 1024 };
  const m = msg({ 'Content-Type': 'text/plain' }, `${'x'.repeat(4096)}NEEDLE\r\n`);
  assert.deepEqual(folders(run('require "body"; if body :contains "NEEDLE" { discard; }', m, null, limits)), [null]);
  assert.deepEqual(folders(run('require "body"; if body :raw :contains "NEEDLE" { discard; }', m, null, limits)), [null]);
  assert.deepEqual(folders(run('require "body"; if body :contains "NEEDLE" { discard; }', m)), []);
});
