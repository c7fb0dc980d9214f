// The junk classifier's counts inside the mailbox file (schema v8): lookups for scoring, training a body as spam or
// ham (once per body; a re-classification moves its counts), pruning beyond the token cap. Callers pass the
// statement source of the open file and run writes inside its transaction.
import type { Statement } from 'better-sqlite3-multiple-ciphers';
import type { JunkStatus, JunkTrainingCounts } from './types.js';

type Prepare = (sql: string) => Statement;

/** Tokens looked up per statement (SQLite's parameter limit is far above; this keeps statements cacheable). */
const LOOKUP_BATCH = 200;

const today = (): number => Math.floor(Date.now() / 86_400_000);

/** Messages trained per class and the counts of the given tokens (unknown tokens are absent from the map). */
export function junkCounts(prepare: Prepare, tokens: readonly string[]): JunkTrainingCounts {
  const state = prepare('SELECT spam_messages, ham_messages FROM junk_state WHERE id = 1').get() as { spam_messages: number; ham_messages: number } | undefined;
  const found = new Map<string, { spam: number; ham: number }>();
  for (let i = 0; i < tokens.length; i += LOOKUP_BATCH) {
    const batch = tokens.slice(i, i + LOOKUP_BATCH);
    const rows = prepare(`SELECT token, spam, ham FROM junk_tokens WHERE token IN (${batch.map(() => '?').join(',')})`).all(...batch) as {
      token: string;
      spam: number;
      ham: number;
    }[];
    for (const row of rows) found.set(row.token, { spam: row.spam, ham: row.ham });
  }
  return { spamMessages: state?.spam_messages ?? 0, hamMessages: state?.ham_messages ?? 0, tokens: found };
}

/** Totals for `sealpost junk status` and the admin UI. */
export function junkStatus(prepare: Prepare): JunkStatus {
  const state = prepare('SELECT spam_messages, ham_messages FROM junk_state WHERE id = 1').get() as { spam_messages: number; ham_messages: number } | undefined;
  const tokens = prepare('SELECT count(*) FROM junk_tokens').pluck().get() as number;
  const pending = prepare('SELECT count(*) FROM junk_pending').pluck().get() as number;
  return { spamMessages: state?.spam_messages ?? 0, hamMessages: state?.ham_messages ?? 0, tokens, pending };
}

/**
 * Trains one body's tokens as spam or ham, inside the caller's write transaction. A body trained as the same class
 * before changes nothing (false); one trained as the other class has its counts moved.
 */
export function trainBody(prepare: Prepare, bodyId: number, tokens: readonly string[], asSpam: boolean): boolean {
  const before = prepare('SELECT as_spam FROM junk_trained WHERE body_id = ?').get(bodyId) as { as_spam: number } | undefined;
  if (before && (before.as_spam === 1) === asSpam) return false;
  const day = today();
  const add = asSpam
    ? prepare('INSERT INTO junk_tokens (token, spam, ham, last_day) VALUES (?, 1, 0, ?) ON CONFLICT(token) DO UPDATE SET spam = spam + 1, last_day = excluded.last_day')
    : prepare('INSERT INTO junk_tokens (token, spam, ham, last_day) VALUES (?, 0, 1, ?) ON CONFLICT(token) DO UPDATE SET ham = ham + 1, last_day = excluded.last_day');
  const unlearn = asSpam
    ? prepare('UPDATE junk_tokens SET ham = max(ham - 1, 0) WHERE token = ?')
    : prepare('UPDATE junk_tokens SET spam = max(spam - 1, 0) WHERE token = ?');
  for (const token of tokens) {
    if (before) unlearn.run(token);
    add.run(token, day);
  }
  if (before) {
    prepare(asSpam ? 'UPDATE junk_state SET ham_messages = max(ham_messages - 1, 0) WHERE id = 1' : 'UPDATE junk_state SET spam_messages = max(spam_messages - 1, 0) WHERE id = 1').run();
  }
  prepare(asSpam ? 'UPDATE junk_state SET spam_messages = spam_messages + 1 WHERE id = 1' : 'UPDATE junk_state SET ham_messages = ham_messages + 1 WHERE id = 1').run();
  prepare('INSERT INTO junk_trained (body_id, as_spam) VALUES (?, ?) ON CONFLICT(body_id) DO UPDATE SET as_spam = excluded.as_spam').run(bodyId, asSpam ? 1 : 0);
  return true;
}

/**
 * Keeps at most `maxTokens` rows: when over, drops tokens seen in one message only (oldest first), then the least
 * recently seen, down to 90 % of the cap so pruning runs rarely.
 */
export function pruneTokens(prepare: Prepare, maxTokens: number): number {
  const count = prepare('SELECT count(*) FROM junk_tokens').pluck().get() as number;
  if (count <= maxTokens) return 0;
  const excess = count - Math.floor(maxTokens * 0.9);
  const rare = prepare(
    'DELETE FROM junk_tokens WHERE token IN (SELECT token FROM junk_tokens WHERE spam + ham <= 1 ORDER BY last_day LIMIT ?)',
  ).run(excess).changes;
  const rest = excess - rare;
  const old = rest > 0 ? prepare('DELETE FROM junk_tokens WHERE token IN (SELECT token FROM junk_tokens ORDER BY last_day, spam + ham LIMIT ?)').run(rest).changes : 0;
  return rare + old;
}

/** Queues bodies for training (MOVE/COPY into or out of \Junk), inside the caller's write transaction. */
export function queueTraining(prepare: Prepare, bodyIds: readonly number[], asSpam: boolean): void {
  const insert = prepare('INSERT INTO junk_pending (body_id, as_spam) VALUES (?, ?) ON CONFLICT(body_id) DO UPDATE SET as_spam = excluded.as_spam');
  for (const bodyId of bodyIds) insert.run(bodyId, asSpam ? 1 : 0);
}

/** Up to `limit` queued trainings, oldest first. */
export function pendingTraining(prepare: Prepare, limit: number): { bodyId: number; asSpam: boolean }[] {
  const rows = prepare('SELECT body_id, as_spam FROM junk_pending ORDER BY rowid LIMIT ?').all(limit) as { body_id: number; as_spam: number }[];
  return rows.map((r) => ({ bodyId: r.body_id, asSpam: r.as_spam === 1 }));
}

/** Removes one queued training if it still asks for `asSpam` (a newer move may have changed it meanwhile). */
export function donePending(prepare: Prepare, bodyId: number, asSpam: boolean): boolean {
  return prepare('DELETE FROM junk_pending WHERE body_id = ? AND as_spam = ?').run(bodyId, asSpam ? 1 : 0).changes > 0;
}
