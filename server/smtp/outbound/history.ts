// Reads of the outgoing history in outbound.sqlite: messages newest first (keyset pages, so a long
// history costs one index range per page), and one message with each recipient's attempts.
import type { SqliteDatabase } from '../../directory/index.js';
import type { OutgoingAttempt, OutgoingDetail, OutgoingPage, OutgoingRecipient, OutgoingRecipientStatus, OutgoingStatus, OutgoingSummary } from '../../ports.js';
import type { MessageKind, RecipientState } from './store.js';

interface SummaryRow {
  id: string;
  kind: MessageKind;
  sender: string;
  alias_id: string | null;
  created: number;
  finished: number | null;
  size: number;
  recipients: number;
  waiting: number;
  sending: number;
  delivered: number;
  bounced: number;
  dropped: number;
  attempts: number;
  next_attempt: number | null;
}

interface RecipientRow {
  id: number;
  rcpt: string;
  state: RecipientState;
  attempts: number;
  next_attempt: number;
  last_code: number | null;
  last_response: string | null;
}

interface AttemptRow {
  at: number;
  outcome: OutgoingAttempt['outcome'];
  code: number;
  response: string;
  host: string | null;
  address: string | null;
  tls_version: string | null;
  tls_cipher: string | null;
  verified: number;
  policy: OutgoingAttempt['policy'];
}

/** The summary columns over `source`, a subquery of messages rows named m (the page, or one message). */
const summary = (source: string): string => `
SELECT m.id, m.kind, m.sender, m.alias_id, m.created, m.finished, m.size,
  count(r.id) AS recipients,
  coalesce(sum(r.state = 'queued'), 0) AS waiting,
  coalesce(sum(r.state = 'sending'), 0) AS sending,
  coalesce(sum(r.state = 'delivered'), 0) AS delivered,
  coalesce(sum(r.state = 'bounced'), 0) AS bounced,
  coalesce(sum(r.state = 'dropped'), 0) AS dropped,
  coalesce(sum(r.attempts), 0) AS attempts,
  min(CASE WHEN r.state = 'queued' THEN r.next_attempt END) AS next_attempt
FROM (${source}) m LEFT JOIN recipients r ON r.message_id = m.id
GROUP BY m.id ORDER BY m.created DESC, m.id DESC`;

const COLUMNS = 'SELECT id, kind, sender, alias_id, created, finished, size FROM messages';

/** A page cursor: the created time and id of the last message of the previous page. */
const CURSOR = /^(\d{1,15})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export const isHistoryCursor = (cursor: string): boolean => CURSOR.test(cursor);

function statusOf(r: SummaryRow): OutgoingStatus {
  if (r.sending > 0) return 'sending';
  if (r.waiting > 0) return 'waiting';
  if (r.delivered === r.recipients) return 'delivered';
  if (r.dropped === r.recipients) return 'cancelled';
  if (r.delivered > 0) return 'partly delivered';
  return r.bounced > 0 ? 'bounced' : 'cancelled';
}

const RECIPIENT_STATUS: Readonly<Record<RecipientState, OutgoingRecipientStatus>> = {
  queued: 'waiting',
  sending: 'sending',
  delivered: 'delivered',
  bounced: 'bounced',
  dropped: 'cancelled',
};

const toSummary = (r: SummaryRow): OutgoingSummary => ({
  id: r.id,
  kind: r.kind,
  sender: r.sender,
  aliasId: r.alias_id,
  created: r.created,
  finished: r.finished,
  size: r.size,
  status: statusOf(r),
  recipients: r.recipients,
  attempts: r.attempts,
  nextAttempt: r.next_attempt,
});

const toAttempt = (a: AttemptRow): OutgoingAttempt => ({
  at: a.at,
  outcome: a.outcome,
  code: a.code,
  response: a.response,
  host: a.host,
  address: a.address,
  tlsVersion: a.tls_version,
  tlsCipher: a.tls_cipher,
  verified: a.verified === 1,
  policy: a.policy,
});

/** Messages newest first, at most `limit`, after `cursor` (a previous page's `next`; the caller checked its form). */
export function historyPage(db: SqliteDatabase, limit: number, cursor: string | null): OutgoingPage {
  const m = cursor === null ? null : CURSOR.exec(cursor);
  // the page is picked first (one range of the messages_created index), then only its rows are summed
  const rows = (
    m
      ? db
          .prepare(summary(`${COLUMNS} WHERE (created, id) < (?, ?) ORDER BY created DESC, id DESC LIMIT ?`))
          .all(Number(m[1]), m[2], limit + 1)
      : db.prepare(summary(`${COLUMNS} ORDER BY created DESC, id DESC LIMIT ?`)).all(limit + 1)
  ) as SummaryRow[];
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { messages: page.map(toSummary), next: rows.length > limit && last ? `${last.created}.${last.id}` : null };
}

/** One message with its recipients and each one's latest attempts (at most `limit` of each); null when unknown. */
export function historyOf(db: SqliteDatabase, id: string, limit: number): OutgoingDetail | null {
  const row = db.prepare(summary(`${COLUMNS} WHERE id = ?`)).get(id) as SummaryRow | undefined;
  if (!row) return null;
  const recipients = db
    .prepare('SELECT id, rcpt, state, attempts, next_attempt, last_code, last_response FROM recipients WHERE message_id = ? ORDER BY id LIMIT ?')
    .all(id, limit) as RecipientRow[];
  const latest = db.prepare('SELECT * FROM (SELECT at, outcome, code, response, host, address, tls_version, tls_cipher, verified, policy, id FROM attempts WHERE recipient_id = ? ORDER BY at DESC, id DESC LIMIT ?) ORDER BY at, id');
  const total = db.prepare('SELECT count(*) AS n FROM attempts WHERE recipient_id = ?');
  const recipientList: OutgoingRecipient[] = recipients.map((r) => {
    const history = (latest.all(r.id, limit) as AttemptRow[]).map(toAttempt);
    return {
      address: r.rcpt,
      status: RECIPIENT_STATUS[r.state],
      attempts: r.attempts,
      nextAttempt: r.state === 'queued' ? r.next_attempt : null,
      lastCode: r.last_code,
      lastResponse: r.last_response,
      history,
      olderAttempts: (total.get(r.id) as { n: number }).n - history.length,
    };
  });
  return { ...toSummary(row), recipientList, moreRecipients: row.recipients - recipientList.length };
}
