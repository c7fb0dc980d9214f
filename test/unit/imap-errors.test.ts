// IMAP error replies: the one mapping from store and account errors to RFC 5530 response codes (server/imap/errors.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthFailed, TooManyAttempts } from '../../server/accounts/index.js';
import { ImapError, replyFor } from '../../server/imap/errors.js';
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
