// RFC 5256 §2.1 base subject extraction, step by step, and the i;ascii-casemap fold SORT compares with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asciiCasemap, baseSubject } from '../../server/mailbox/base-subject.js';
import { messageKeys } from '../../server/mailbox/sort-keys.js';

const cases: readonly (readonly [string, string, boolean])[] = [
  // [subject as sent, base subject, reply or forward]
  ['', '', false],
  ['Hello World', 'Hello World', false],
  // (1) encoded words decoded (white space between adjacent ones dropped), tabs and runs of spaces collapsed
  ['=?utf-8?B?UmU6IMOcYmVy?=', 'Über', true],
  ['=?iso-8859-1?q?caf=E9?= =?iso-8859-1?q?_au_lait?=', 'café au lait', false],
  ['  Hello \t  World  ', 'Hello World', false],
  // (2) trailers: "(fwd)" and WSP, repeatedly, any case
  ['hello (fwd)', 'hello', true],
  ['hello (FWD)  (fwd) ', 'hello', true],
  ['(fwd) hello', '(fwd) hello', false],
  // (3) leaders: re / fw / fwd, optional WSP and blob before ":", blobs in front of them
  ['Re: hello', 'hello', true],
  ['RE:hello', 'hello', true],
  ['re : hello', 'hello', true],
  ['Fw: hello', 'hello', true],
  ['FWD: Re: fwd: hello', 'hello', true],
  ['Re[2]: hello', 'hello', true],
  ['Re [2]: hello', 'hello', true],
  ['[list] Re: hello', 'hello', true],
  ['[a][b] Re: hello', 'hello', true],
  ['Fw: FWD: fwd:', '', true],
  ['Ré: hello', 'Ré: hello', false],
  ['Reply: hello', 'Reply: hello', false],
  // (4) a leading blob goes only when a non-empty subject remains; not a reply by itself
  ['[list] hello', 'hello', false],
  ['[PATCH] [v2] thing', 'thing', false],
  ['[only-blob]', '[only-blob]', false],
  ['[a] [b]', '[b]', false],
  ['[unclosed hello', '[unclosed hello', false],
  // (6) "[fwd:" … "]" unwrapped, then again from (2)
  ['[fwd: hello]', 'hello', true],
  ['[Fwd: Re: hello (fwd)]', 'hello', true],
  ['[fwd: [fwd: nested]]', 'nested', true],
  ['Re: [fwd: hello]', 'hello', true],
  ['[fwd: hello] tail', 'tail', false], // a leading subj-blob (step 4), not a subj-fwd
];

for (const [subject, base, reply] of cases) {
  test(`RFC 5256 §2.1: base subject of ${JSON.stringify(subject)} is ${JSON.stringify(base)}${reply ? ' (reply/forward)' : ''}`, () => {
    assert.deepEqual(baseSubject(subject), { text: base, replyOrForward: reply });
  });
}

test('RFC 4790 i;ascii-casemap: only a-z fold, other characters compare as themselves', () => {
  assert.equal(asciiCasemap('abc XYZ äöü ß 123'), 'ABC XYZ äöü ß 123');
});

test('RFC 5256 §3 / RFC 5957: keys from a header block (first address, addr-mailbox, display value, refs)', () => {
  const header = Buffer.from(
    [
      'From: =?utf-8?q?J=C3=B6rg?= <joerg.x@Example.org>, other@x',
      'To: undisclosed-recipients:;',
      'Cc: plain@cc.example',
      'Subject: Re: [list]',
      '  folded topic',
      'Message-ID: <m1@x> <m2@x>',
      'In-Reply-To: <p@x>',
      '',
      'From: not-a-header@body',
      '',
    ].join('\r\n'),
  );
  const keys = messageKeys(header);
  assert.equal(keys.from, 'JOERG.X');
  assert.equal(keys.displayFrom, 'JöRG');
  // RFC 3501 ENVELOPE: a group starts with a marker whose addr-mailbox is the group name (addr-name, addr-host NIL).
  assert.equal(keys.to, 'UNDISCLOSED-RECIPIENTS');
  assert.equal(keys.displayTo, 'UNDISCLOSED-RECIPIENTS');
  assert.equal(keys.cc, 'PLAIN');
  assert.equal(keys.subject, 'FOLDED TOPIC');
  assert.equal(keys.replyOrForward, true);
  assert.equal(keys.messageId, '<m1@x>');
  assert.equal(keys.refs, '<p@x>', 'without References, In-Reply-To names the parent');
  const withRefs = messageKeys(Buffer.from('References: <a@x>\r\n <b@x>\r\nIn-Reply-To: <c@x>\r\nFrom: x@y\r\n\r\n'));
  assert.equal(withRefs.refs, '<a@x> <b@x>');
  assert.equal(withRefs.displayFrom, 'X@Y', 'no display name: the address');
  const team = messageKeys(Buffer.from('To: Team: a@x, B <b@y>;, c@z\r\nFrom: <>\r\n\r\n'));
  assert.equal(team.to, 'TEAM');
  assert.equal(team.from, '');
});
