// The small pure pieces of the IMAP adapter: error → reply mapping, SEARCH parsing and ESEARCH replies, parser workarounds,
// INTERNALDATE parsing and UTF-8 folder names.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthFailed, TooManyAttempts } from '../../server/accounts/index.js';
import { ImapError, replyFor } from '../../server/imap/errors.js';
import { quoteForParser } from '../../server/imap/guards.js';
import { parseInternalDate } from '../../server/imap/hooks/messages.js';
import { formatResult, parseSearch } from '../../server/imap/search.js';
import { imapHandler } from '../../server/imap/protocol.js';
import { decodeBinaryPath, parseSequenceSet } from '../../server/imap/protocol.js';
import { FolderExists, MailboxLocked, NoSuchFolder, OverQuota, Retryable } from '../../server/mailbox/errors.js';

describe('IMAP error mapping', () => {
  it('maps store and account errors to RFC 5530 codes in one place', () => {
    assert.equal(replyFor(new NoSuchFolder(), 'destination').code, 'TRYCREATE');
    assert.equal(replyFor(new NoSuchFolder(), 'folder').code, 'NONEXISTENT');
    assert.equal(replyFor(new FolderExists(), 'folder').code, 'ALREADYEXISTS');
    assert.equal(replyFor(new OverQuota(), 'destination').code, 'OVERQUOTA');
    assert.equal(replyFor(new MailboxLocked(), 'folder').code, 'UNAVAILABLE');
    assert.equal(replyFor(new Retryable(), 'folder').code, 'UNAVAILABLE');
    assert.equal(replyFor(new AuthFailed(), 'auth').code, 'AUTHENTICATIONFAILED');
    assert.equal(replyFor(new TooManyAttempts(60_000), 'auth').code, 'CONTACTADMIN');
    const bug = replyFor(new TypeError('secret detail at /path'), 'folder');
    assert.deepEqual([bug.response, bug.code], ['NO', 'SERVERBUG']);
    assert.ok(!bug.message.includes('secret'), 'internal details never reach the client');
    const own = new ImapError({ response: 'BAD', code: null, message: 'x' });
    assert.equal(replyFor(own, 'folder'), own.reply);
  });
});

describe('IMAP SEARCH parsing', () => {
  // Arguments as imap-core's own parser produces them from a command line.
  const parse = (line: string, uids: number[] = [1, 2, 3, 5, 8, 9]) => parseSearch(imapHandler.parser(`a SEARCH ${line}`, {}).attributes, uids);

  it('turns criteria into the store query tree', () => {
    assert.deepEqual(parse(`SUBJECT "${Buffer.from('café').toString('binary')}"`).query, { op: 'subject', value: 'café' });
    assert.deepEqual(parse('HEADER X-Spam ""').query, { op: 'header', name: 'x-spam', value: '' });
    assert.deepEqual(parse('SINCE 1-Feb-2024').query, { op: 'since', date: '2024-02-01' });
    assert.deepEqual(parse('SENTBEFORE 15-Dec-2023').query, { op: 'sentbefore', date: '2023-12-15' });
    assert.deepEqual(parse('SMALLER 10').query, { op: 'smaller', size: 10 });
    assert.deepEqual(parse('RECENT').query, { op: 'not', of: { op: 'all' } });
    assert.deepEqual(parse('CHARSET UTF-8 KEYWORD $Work').query, { op: 'flag', flag: '$Work', set: true });
    assert.deepEqual(parse('OR (UNSEEN FLAGGED) BODY x').query, {
      op: 'or',
      of: [{ op: 'and', of: [{ op: 'flag', flag: '\\Seen', set: false }, { op: 'flag', flag: '\\Flagged', set: true }] }, { op: 'body', value: 'x' }],
    });
    // A parenthesised group stays one operand of NOT (imap-core flattened it into NOT SEEN, FLAGGED).
    assert.deepEqual(parse('NOT (SEEN FLAGGED)').query, {
      op: 'not',
      of: { op: 'and', of: [{ op: 'flag', flag: '\\Seen', set: true }, { op: 'flag', flag: '\\Flagged', set: true }] },
    });
    const modseq = parse('MODSEQ "/flags/\\\\draft" all 620162338');
    assert.deepEqual([modseq.query, modseq.usesModseq], [{ op: 'modseq', modseq: 620162338 }, true]);
    assert.throws(() => parse('BEFORE yesterday'), ImapError);
    assert.throws(() => parse('CHARSET KOI8-R TEXT x'), (e: unknown) => e instanceof ImapError && e.reply.code === 'BADCHARSET (UTF-8 US-ASCII)');
    assert.throws(() => parse('FOO'), ImapError);
    assert.throws(() => parse('NOT'), ImapError);
    assert.throws(() => parse('RETURN (SAVE) ALL'), ImapError);
  });

  it('resolves sequence and UID sets against the session, bridging gaps it does not know', () => {
    assert.deepEqual(parse('UID 1:*').query, { op: 'all' });
    assert.deepEqual(parse('1:*').query, { op: 'all' });
    // UIDs 4, 6, 7 are not in the session: 3:8 is one range, not three.
    assert.deepEqual(parse('UID 2:8').query, { op: 'uid', uids: [[2, 8]] });
    assert.deepEqual(parse('2,4').query, { op: 'uid', uids: [[2, 2], [5, 5]] });
    assert.deepEqual(parse('UID 9:*').query, { op: 'uid', uids: [[9, 9]] });
    assert.deepEqual(parse('UID 100').query, { op: 'not', of: { op: 'all' } });
    assert.deepEqual(parse('UID 1:*', []).query, { op: 'not', of: { op: 'all' } });
  });

  it('formats SEARCH and ESEARCH replies', () => {
    const plain = parse('ALL');
    assert.equal(formatResult('a', [1, 2, 3], plain, false, 0), '* SEARCH 1 2 3');
    assert.equal(formatResult('a', [], plain, false, 0), '* SEARCH');
    const withModseq = parse('MODSEQ 5');
    assert.equal(formatResult('a', [4], withModseq, true, 17), '* SEARCH 4 (MODSEQ 17)');
    const e = parse('RETURN (MIN MAX COUNT ALL) ALL');
    assert.equal(formatResult('t1', [2, 3, 4, 9], e, true, 0), '* ESEARCH (TAG "t1") UID MIN 2 MAX 9 COUNT 4 ALL 2:4,9');
    assert.equal(formatResult('t1', [], e, false, 0), '* ESEARCH (TAG "t1") COUNT 0');
    assert.equal(formatResult('t2', [1, 2], parse('RETURN () ALL'), false, 0), '* ESEARCH (TAG "t2") ALL 1:2');
  });
});

describe('IMAP parser workarounds and formats', () => {
  it('quotes sequence sets inside QRESYNC and wildcards inside LIST atoms', () => {
    assert.equal(quoteForParser('a SELECT INBOX (QRESYNC (1 2 1:5,9))'), 'a SELECT INBOX (QRESYNC (1 2 "1:5,9"))');
    assert.equal(quoteForParser('a LSUB "" Work/*'), 'a LSUB "" "Work/*"');
    assert.equal(quoteForParser('a LIST "" *'), 'a LIST "" *');
    assert.equal(quoteForParser('a FETCH 1:* (FLAGS)'), 'a FETCH 1:* (FLAGS)');
  });

  it('parses INTERNALDATE with its zone and sequence sets with *', () => {
    assert.equal(parseInternalDate('04-Mar-2021 05:06:07 +0100')?.toISOString(), '2021-03-04T04:06:07.000Z');
    assert.equal(parseInternalDate(' 4-Mar-2021 05:06:07 -0030')?.toISOString(), '2021-03-04T05:36:07.000Z');
    assert.equal(parseInternalDate('31-Foo-2021 05:06:07 +0100'), null);
    assert.deepEqual(parseSequenceSet('1:3,7,9:*', 20), [[1, 3], [7, 7], [9, 20]]);
    assert.equal(parseSequenceSet('1:x', 20), null);
  });

  it('decodes UTF-8 folder names imap-core left as binary strings, and only those', () => {
    assert.equal(decodeBinaryPath(Buffer.from('Reçus/日本').toString('binary')), 'Reçus/日本');
    assert.equal(decodeBinaryPath('Reçus'), 'Reçus');
    assert.equal(decodeBinaryPath('INBOX'), 'INBOX');
  });
});
