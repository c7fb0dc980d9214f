// The small pure pieces of the IMAP adapter: error → reply mapping, SEARCH translation, parser workarounds,
// INTERNALDATE parsing and UTF-8 folder names.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthFailed, TooManyAttempts } from '../../server/accounts/index.js';
import { ImapError, replyFor } from '../../server/imap/errors.js';
import { quoteForParser } from '../../server/imap/guards.js';
import { parseInternalDate } from '../../server/imap/hooks/messages.js';
import { toSearchQuery } from '../../server/imap/hooks/search.js';
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

describe('IMAP SEARCH translation', () => {
  it('turns imap-core terms into the store query tree', () => {
    assert.deepEqual(toSearchQuery({ key: 'header', header: 'subject', value: Buffer.from('café').toString('binary') }), { op: 'subject', value: 'café' });
    assert.deepEqual(toSearchQuery({ key: 'header', header: 'x-spam', value: '' }), { op: 'header', name: 'x-spam', value: '' });
    assert.deepEqual(toSearchQuery({ key: 'internaldate', operator: '>=', value: '1-Feb-2024' }), { op: 'since', date: '2024-02-01' });
    assert.deepEqual(toSearchQuery({ key: 'date', operator: '<', value: '15-Dec-2023' }), { op: 'sentbefore', date: '2023-12-15' });
    assert.deepEqual(toSearchQuery({ key: 'size', operator: '<', value: 10 }), { op: 'smaller', size: 10 });
    assert.deepEqual(toSearchQuery({ key: 'uid', value: [3, 1, 2, 7] }), { op: 'uid', uids: [[1, 3], [7, 7]] });
    assert.deepEqual(toSearchQuery({ key: 'flag', value: '\\Recent', exists: true }), { op: 'not', of: { op: 'all' } });
    assert.deepEqual(
      toSearchQuery({ key: 'or', value: [[{ key: 'flag', value: '\\Seen', exists: false }, { key: 'flag', value: '\\Flagged', exists: true }], { key: 'body', value: 'x' }] }),
      { op: 'or', of: [{ op: 'and', of: [{ op: 'flag', flag: '\\Seen', set: false }, { op: 'flag', flag: '\\Flagged', set: true }] }, { op: 'body', value: 'x' }] },
    );
    assert.throws(() => toSearchQuery({ key: 'internaldate', operator: '<', value: 'yesterday' }), ImapError);
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
