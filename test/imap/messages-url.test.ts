// The IMAP URL subset CATENATE uses (server/imap/commands/imap-url.ts): parsing per RFC 5092 and resolution
// against a real encrypted mailbox file, compared byte for byte with server/mime's section extraction.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BadUrl, UrlTooBig, badUrlText, parseImapUrl, resolveImapUrl } from '../../server/imap/commands/imap-url.js';
import type { Mailbox } from '../../server/mailbox/types.js';
import { storeFixture, simpleMessage, type StoreFixture } from '../helpers/mailbox.js';

const MULTIPART = Buffer.from(
  [
    'From: Alice <alice@example.com>',
    'To: Bob <bob@example.org>',
    'Subject: parts',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    'preamble',
    '--b1',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'first part',
    '--b1',
    'Content-Type: multipart/alternative; boundary="b2"',
    '',
    '--b2',
    'Content-Type: text/plain',
    '',
    'inner plain',
    '--b2',
    'Content-Type: text/html',
    'X-Part: two',
    '',
    '<p>inner html</p>',
    '--b2--',
    '',
    '--b1--',
    '',
  ].join('\r\n'),
);

describe('IMAP URL parsing (RFC 5092 subset for RFC 4469 CATENATE)', () => {
  test('RFC 5092 §6 iabsolute-path: mailbox, UIDVALIDITY, UID, SECTION', () => {
    assert.deepEqual(parseImapUrl('/INBOX;UIDVALIDITY=785799047/;UID=113330/;SECTION=1.5.9'), {
      mailbox: 'INBOX',
      uidValidity: 785799047,
      uid: 113330,
      section: { path: '1.5.9', kind: 'full' },
    });
  });

  test('RFC 5092 §6: keys are case-insensitive; inbox is INBOX; %-encoded UTF-8 mailbox names with hierarchy', () => {
    const url = parseImapUrl('/inbox/Caf%C3%A9%20Menu;uidvalidity=7/;uid=3/;section=HEADER.FIELDS%20(FROM%20TO)');
    assert.equal(url.mailbox, 'INBOX/Café Menu');
    assert.equal(url.uidValidity, 7);
    assert.equal(url.uid, 3);
    assert.deepEqual(url.section, { path: '', kind: 'header.fields', fields: ['FROM', 'TO'] });
  });

  test('RFC 5092 irelative-path: ;UID= is relative to the selected mailbox; UIDVALIDITY optional', () => {
    assert.deepEqual(parseImapUrl(';UID=20/;SECTION=1.MIME'), { mailbox: null, uidValidity: null, uid: 20, section: { path: '1', kind: 'mime' } });
    assert.deepEqual(parseImapUrl('/Drafts/;UID=5'), { mailbox: 'Drafts', uidValidity: null, uid: 5, section: { path: '', kind: 'full' } });
  });

  test('RFC 5092 ipartial: ;PARTIAL=start[.length]', () => {
    assert.deepEqual(parseImapUrl(';UID=2/;PARTIAL=10.20').section, { path: '', kind: 'full', partial: { start: 10, length: 20 } });
    assert.deepEqual(parseImapUrl(';UID=2/;SECTION=TEXT/;PARTIAL=0').section, { path: '', kind: 'text', partial: { start: 0 } });
  });

  const bad: [string, string][] = [
    ['imap://other@example.test/INBOX/;UID=1', 'another server or user (RFC 4469 §3: only this mailbox)'],
    ['//example.test/INBOX/;UID=1', 'a network path'],
    ['/INBOX/../Sent/;UID=1', 'a dot-dot segment'],
    ['/INBOX/%2E%2E/;UID=1', 'an encoded dot-dot segment'],
    ['/./INBOX/;UID=1', 'a dot segment'],
    ['INBOX/;UID=1', 'a mailbox relative to the server root'],
    [';SECTION=1', 'a section without a message'],
    ['/INBOX', 'no message'],
    ['/INBOX?SUBJECT%20x', 'a message list'],
    ['/INBOX/;UID=0', 'UID zero'],
    ['/INBOX/;UID=4294967296', 'UID above 2^32-1'],
    ['/INBOX;UIDVALIDITY=x/;UID=1', 'a bad UIDVALIDITY'],
    ['/INBOX/;UID=1/;SECTION=1..2', 'a bad section'],
    ['/INBOX/;UID=1/;SECTION=', 'an empty section'],
    ['/INBOX/;UID=1/;PARTIAL=1.0', 'a zero-length partial'],
    ['/INBOX/;UID=1/;URLAUTH=anonymous:internal:abc', 'URLAUTH'],
    ['/INBOX/;UID=1/', 'a trailing slash'],
    ['/IN BOX/;UID=1', 'a space'],
    ['/IN%00BOX/;UID=1', 'an encoded NUL'],
    ['/%FF/;UID=1', 'invalid UTF-8'],
    ['/a//b/;UID=1', 'an empty hierarchy level'],
    ['', 'nothing'],
  ];
  for (const [url, why] of bad) {
    test(`RFC 4469 §4.1 BADURL: refuses ${why}`, () => {
      assert.throws(() => parseImapUrl(url), BadUrl);
    });
  }

  test('RFC 4469 §5 url-resp-text: the echoed URL has no CR, LF, "\\" or "]" and is bounded', () => {
    assert.equal(badUrlText('/INBOX]\r\n/;UID=1\\'), '/INBOX/;UID=1');
    assert.equal(badUrlText('\r\n'), 'URL');
    assert.equal(badUrlText('x'.repeat(1000)).length, 200);
  });
});

describe('IMAP URL resolution against a real mailbox', () => {
  let fixture: StoreFixture;
  let mailbox: Mailbox;
  let uidValidity: number;
  let multipartUid: number;
  let plainUid: number;

  before(async () => {
    fixture = storeFixture();
    mailbox = (await fixture.newMailbox()).mailbox;
    plainUid = (await mailbox.append('INBOX', simpleMessage('plain', 'hello body'))).uid;
    const appended = await mailbox.append('INBOX', MULTIPART);
    multipartUid = appended.uid;
    uidValidity = appended.uidValidity;
  });
  after(() => fixture.cleanup());

  const text = (b: Buffer): string => b.toString('latin1');

  test('RFC 4469 §3: a URL to a nested part yields exactly that part\'s bytes', async () => {
    const bytes = await resolveImapUrl(parseImapUrl(`/INBOX;UIDVALIDITY=${uidValidity}/;UID=${multipartUid}/;SECTION=2.2`), mailbox, null, 1e6);
    assert.equal(text(bytes), '<p>inner html</p>');
    const mime = await resolveImapUrl(parseImapUrl(`;UID=${multipartUid}/;SECTION=2.2.MIME`), mailbox, { path: 'INBOX', uidValidity }, 1e6);
    assert.equal(text(mime), 'Content-Type: text/html\r\nX-Part: two\r\n\r\n');
  });

  test('RFC 5092: whole message, HEADER, and PARTIAL', async () => {
    const whole = await resolveImapUrl(parseImapUrl(`/INBOX/;UID=${plainUid}`), mailbox, null, 1e6);
    assert.deepEqual(whole, await mailbox.readMessage('INBOX', plainUid));
    const header = await resolveImapUrl(parseImapUrl(`/INBOX/;UID=${plainUid}/;SECTION=HEADER`), mailbox, null, 1e6);
    assert.ok(text(header).startsWith('From: Alice Example') && text(header).endsWith('\r\n\r\n'));
    const partial = await resolveImapUrl(parseImapUrl(`/INBOX/;UID=${plainUid}/;SECTION=TEXT/;PARTIAL=0.5`), mailbox, null, 1e6);
    assert.equal(text(partial), 'hello');
  });

  const missing: [string, string][] = [
    ['/Nowhere/;UID=1', 'a folder that does not exist'],
    ['/INBOX;UIDVALIDITY=1/;UID=1', 'a UIDVALIDITY that does not match'],
    ['/INBOX/;UID=999', 'a UID that does not exist'],
    ['/INBOX/;UID=1/;SECTION=7', 'a part that does not exist'],
    ['/INBOX/;UID=1/;SECTION=1.TEXT', 'TEXT of a part that is not a message'],
  ];
  for (const [url, why] of missing) {
    test(`RFC 4469 §4.1 BADURL: ${why}`, async () => {
      await assert.rejects(resolveImapUrl(parseImapUrl(url), mailbox, null, 1e6), BadUrl);
    });
  }

  test('RFC 4469 §3: a relative URL without a selected mailbox is BADURL', async () => {
    await assert.rejects(resolveImapUrl(parseImapUrl(`;UID=${plainUid}`), mailbox, null, 1e6), BadUrl);
  });

  test('RFC 4469 §4.2 TOOBIG: a part larger than what the message may still grow by is refused before reading', async () => {
    await assert.rejects(resolveImapUrl(parseImapUrl(`/INBOX/;UID=${plainUid}`), mailbox, null, 10), UrlTooBig);
    const ok = await resolveImapUrl(parseImapUrl(`/INBOX/;UID=${plainUid}/;PARTIAL=0.10`), mailbox, null, 10);
    assert.equal(ok.length, 10);
  });
});
