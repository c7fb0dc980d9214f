// THREAD building over rows in any order (the store reads them in sent-date order; callers may pass mailbox
// order), and the UID → sequence numbering SORT and THREAD use for large results, against the view's own seqOf.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildThreads, type ThreadColumnsRow, type ThreadMessageRow } from '../../server/mailbox/thread.js';
import { threadText } from '../../server/imap/commands/thread.js';
import { numbersText, sequenceNumbers } from '../../server/imap/commands/sort.js';
import { Selected } from '../../server/imap/engine/selected.js';
import type { ThreadAlgorithm } from '../../server/mailbox/types.js';

const day = (d: number): string => new Date(Date.UTC(2024, 0, d)).toISOString();

/** Deterministic pseudo-random numbers (a test that fails must fail the same way again). */
function generator(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

const byDate = (a: ThreadMessageRow, b: ThreadMessageRow): number => (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : a[0] - b[0]);

test('RFC 5256 §4 REFERENCES: reference chains, a dummy parent kept at the top, a subject merge under a new dummy', () => {
  const rows: ThreadMessageRow[] = [
    [1, 'X', day(1), '<a@x>', '', 0],
    [2, 'X', day(3), '<b@x>', '<a@x>', 1],
    [3, 'X', day(2), '<c@x>', '<a@x> <b@x>', 1],
    [4, 'Y', day(4), '<d@x>', '<z@x>', 1],
    [5, 'Y', day(5), '<e@x>', '<z@x>', 1],
    [6, 'X', day(6), '<f@x>', '', 0],
  ];
  // 1 → 2 → 3 by their references; 4 and 5 under the missing <z@x> (a dummy with two children stays at the
  // top level); 6 has thread 1's base subject and neither is a reply: a new dummy holds both (step 5.B).
  assert.equal(threadText(buildThreads('REFERENCES', rows), (u) => u), '((1 2 3)(6))((4)(5))');
  // RFC 5256 §4 ORDEREDSUBJECT: per base subject in sent-date order; threads by their first message's date.
  assert.equal(threadText(buildThreads('ORDEREDSUBJECT', rows), (u) => u), '(1 (3)(2)(6))(4 5)');
});

test('RFC 5256 §4: THREAD results do not depend on the order the rows arrive in (date, mailbox or any order)', () => {
  const random = generator(5256);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  for (let round = 0; round < 400; round++) {
    const ids = Array.from({ length: 3 + Math.floor(random() * 20) }, (_, i) => `<${i}@x>`);
    const rows: ThreadMessageRow[] = [];
    let uid = 0;
    for (let i = 0, n = 1 + Math.floor(random() * 30); i < n; i++) {
      uid += 1 + Math.floor(random() * 3);
      const refs = Array.from({ length: Math.floor(random() * 5) }, () => pick(ids)).join(' ');
      // Few ids, subjects and dates: repeated Message-IDs, loops, missing parents, merges and date ties.
      rows.push([uid, pick(['', 'A', 'B', 'C']), day(1 + Math.floor(random() * 3)), random() < 0.15 ? null : pick(ids), random() < 0.2 ? null : refs, random() < 0.4 ? 1 : 0]);
    }
    const dated = [...rows].sort(byDate);
    const shuffled = [...rows].sort(() => random() - 0.5);
    for (const algorithm of ['REFERENCES', 'ORDEREDSUBJECT'] as ThreadAlgorithm[]) {
      const expected = buildThreads(algorithm, rows);
      assert.deepEqual(buildThreads(algorithm, dated), expected, `${algorithm} round ${round}, date order`);
      assert.deepEqual(buildThreads(algorithm, shuffled), expected, `${algorithm} round ${round}, shuffled`);
      // The store's form: one row of JSON arrays, one per column.
      const column = (i: number): string => JSON.stringify(shuffled.map((r) => r[i]));
      const packed: ThreadColumnsRow = [column(0), column(1), column(2), column(3), column(4), column(5)];
      assert.deepEqual(buildThreads(algorithm, [packed]), expected, `${algorithm} round ${round}, columns`);
      // Every message appears exactly once in the tree.
      const seen: number[] = [];
      const stack = [...expected];
      while (stack.length > 0) {
        const node = stack.pop()!;
        if (node.uid !== null) seen.push(node.uid);
        stack.push(...node.children);
      }
      assert.deepEqual(seen.sort((a, b) => a - b), rows.map((r) => r[0]), `${algorithm} round ${round}: every message once`);
    }
  }
});

test('RFC 9051 §7.4.1 numbering: the UID table SORT/THREAD use gives the view\'s sequence numbers (dense, sparse, outside)', () => {
  const dense = Array.from({ length: 5000 }, (_, i) => i + 10);
  const sparse = Array.from({ length: 300 }, (_, i) => i * 1000 + 7);
  const gappy = dense.filter((u) => u % 7 !== 0);
  for (const uids of [dense, sparse, gappy, [42]]) {
    const view = new Selected('INBOX', false, 1, [...uids], 1);
    for (const results of [1, 100, uids.length]) {
      const seqOf = sequenceNumbers(view, results);
      const probes = [0, 1, uids[0]! - 1, ...uids, uids[uids.length - 1]! + 1, uids[uids.length - 1]! + 5000, 2 ** 32 - 1];
      for (const uid of [...probes, ...uids.map((u) => u + 1)]) assert.equal(seqOf(uid), view.seqOf(uid), `uid ${uid}, ${uids.length} in view, ${results} results`);
    }
  }
  assert.equal(sequenceNumbers(new Selected('INBOX', false, 1, [], 1), 1000)(1), 0);
});

test('RFC 5256 §5 sort-data: numbers written as digits into one buffer equal their decimal text joined by SP', () => {
  const numbers = [1, 9, 10, 11, 99, 100, 101, 65535, 999999999, 1000000000, 4294967295, 7, 7];
  assert.equal(numbersText(numbers), numbers.join(' '));
  assert.equal(numbersText([]), '');
  assert.equal(numbersText([42]), '42');
  const many = Array.from({ length: 20000 }, (_, i) => ((i * 7919) % 20011) + 1);
  assert.equal(numbersText(many), many.join(' '));
});
