// The selected view's sequence-set resolution (RFC 9051 §9 seq-number / sequence-set, §6.4.9 UID) and its
// UID-set text, checked without a server: message numbers beyond the mailbox are BAD, UIDs that do not exist
// are skipped, `*` is the largest, `4:2` means 2:4, `$` is the saved result.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ImapError } from '../../server/imap/errors.js';
import { Selected, uidRanges, uidSetText } from '../../server/imap/engine/selected.js';
import { STAR, type SequenceSet } from '../../server/imap/wire/types.js';

const set = (...ranges: [number, number][]): SequenceSet => ({ kind: 'set', ranges });
const view = (uids: number[]): Selected => new Selected('INBOX', false, 7, uids, 1);

describe('SelectedView.resolve (RFC 9051 §9, §6.4.9)', () => {
  it('RFC 9051 §9: message sequence numbers map to UIDs; `*` is the last message; 4:2 is 2:4; duplicates collapse', () => {
    const v = view([3, 5, 9, 10]);
    assert.deepEqual(v.resolve(set([1, 1], [STAR, STAR]), false), [3, 10]);
    assert.deepEqual(v.resolve(set([4, 2]), false), [5, 9, 10]);
    assert.deepEqual(v.resolve(set([1, 2], [2, 3]), false), [3, 5, 9]);
    assert.deepEqual(v.resolve(set([2, STAR]), false), [5, 9, 10]);
  });

  it('RFC 9051 §6.4.5: a message number beyond the mailbox, or `*` in an empty one, is BAD', () => {
    assert.throws(() => view([3, 5]).resolve(set([3, 3]), false), (e: unknown) => e instanceof ImapError && e.reply.response === 'BAD');
    assert.throws(() => view([]).resolve(set([STAR, STAR]), false), ImapError);
  });

  it('RFC 9051 §6.4.4: as a SEARCH key (lenient) numbers beyond the mailbox match nothing instead', () => {
    assert.deepEqual(view([3, 5]).resolve(set([2, 9]), false, { lenient: true }), [5]);
    assert.deepEqual(view([]).resolve(set([1, STAR]), false, { lenient: true }), []);
  });

  it('RFC 9051 §6.4.9: UIDs that do not exist are skipped; `n:*` with n above the largest UID still names the last message', () => {
    const v = view([3, 5, 9, 10]);
    assert.deepEqual(v.resolve(set([1, 4], [8, 9]), true), [3, 9]);
    assert.deepEqual(v.resolve(set([20, STAR]), true), [10]);
    assert.deepEqual(v.resolve(set([100, 200]), true), []);
    assert.deepEqual(view([]).resolve(set([1, STAR]), true), []);
  });

  it('RFC 5182 §2.1: `$` is the saved result, without UIDs expunged since', () => {
    const v = view([3, 5, 9]);
    v.savedSearch = [3, 4, 9];
    assert.deepEqual(v.resolve({ kind: 'saved' }, true), [3, 9]);
    assert.equal(v.seqOf(9), 3);
    assert.equal(v.seqOf(4), 0);
  });

  it('UID sets are written compactly and merged into ranges for the store', () => {
    assert.equal(uidSetText([7, 1, 2, 3, 5, 5, 6]), '1:3,5:7');
    assert.equal(uidSetText([]), '');
    assert.deepEqual(uidRanges([9, 1, 2, 4]), [[1, 2], [4, 4], [9, 9]]);
  });
});
