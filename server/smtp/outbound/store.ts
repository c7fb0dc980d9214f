// outbound.sqlite: the durable outbound queue (app-key encrypted, synchronous=FULL).
// One row per message (raw bytes, envelope sender, kind) and one per recipient with its own state,
// so a partial delivery (one rcpt 250, another 451) retries only what is left.
//
// Crash semantics, per recipient row:
//  - claimDue() marks it `sending` and commits (fsync) before its SMTP transaction starts: that is its
//    lease. Only `queued` rows are ever claimed, and only the one worker holding the worker lock
//    (worker-lock.ts) claims, so nothing else — another worker, a retry, `outbound retry` — picks a
//    recipient while it is in flight.
//  - the remote's 250 is committed as `delivered` in the tick the reply is read (one transaction for all
//    the recipients it accepted), before any other work.
//  - after a kill -9, recoverInflight() (run by the next worker, under the worker lock) puts `sending`
//    rows back to `queued`: they are sent again. Only a message past its final dot can have reached the
//    remote, and the end-of-data gate lets one message at a time be there, so a kill duplicates at most one
//    message (for its recipients of that transaction) and loses none. SMTP has no exactly-once handshake.
//
// History: every attempt of every recipient is a row in `attempts` (history.ts reads them). When every
// recipient of a message is final, its raw bytes are wiped (secure_delete) and `finished` is set; the
// envelope, states and attempts stay until the retention time has passed (pruneHistory).
import { randomUUID } from 'node:crypto';
import { openEncryptedDatabase, type SqliteDatabase } from '../../directory/index.js';
import type { OutgoingSession } from '../../ports.js';
import type { TlsSessionResult } from './tls-report.js';

export type MessageKind = 'submission' | 'forward' | 'dsn';
export type RecipientState = 'queued' | 'sending' | 'delivered' | 'bounced' | 'dropped';

export interface QueuedRecipient {
  readonly id: number;
  readonly messageId: string;
  readonly rcpt: string;
  readonly domain: string;
  readonly state: RecipientState;
  readonly attempts: number;
  readonly nextAttempt: number;
  readonly lastCode: number | null;
  readonly lastResponse: string | null;
  readonly warned: boolean;
}

export interface QueuedMessage {
  readonly id: string;
  readonly kind: MessageKind;
  /** Envelope sender; '' is the null reverse-path (DSNs). */
  readonly sender: string;
  readonly aliasId: string | null;
  readonly created: number;
  readonly size: number;
}

/** One message and its due recipients in the job's domain. */
export interface JobItem {
  readonly message: QueuedMessage;
  readonly recipients: readonly QueuedRecipient[];
}

/** One SMTP connection to run: up to `batch` messages for one recipient domain, sent one after another. */
export interface DeliveryJob {
  readonly domain: string;
  readonly items: readonly JobItem[];
}

/** The connection an attempt went over, as the history records it. */
export type AttemptSession = OutgoingSession;

export const NO_SESSION: AttemptSession = { host: null, address: null, tlsVersion: null, tlsCipher: null, verified: false, policy: null };

/** A remote's reply about one recipient row. */
export interface RecipientReply {
  readonly id: number;
  readonly code: number;
  readonly response: string;
  /** The session the reply came over; NO_SESSION when none (recorded in the attempt history). */
  readonly session?: AttemptSession;
}

export interface QueueEntry extends QueuedMessage {
  readonly recipients: readonly QueuedRecipient[];
}

export interface QueueCounts {
  readonly messages: number;
  readonly queued: number;
  readonly sending: number;
  readonly delivered: number;
  readonly bounced: number;
  readonly dropped: number;
}

interface MessageRow {
  id: string;
  kind: MessageKind;
  sender: string;
  alias_id: string | null;
  created: number;
  size: number;
}

interface RecipientRow {
  id: number;
  message_id: string;
  rcpt: string;
  domain: string;
  state: RecipientState;
  attempts: number;
  next_attempt: number;
  last_code: number | null;
  last_response: string | null;
  warned: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  sender TEXT NOT NULL,
  alias_id TEXT,
  created INTEGER NOT NULL,
  size INTEGER NOT NULL,
  raw BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS recipients (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  rcpt TEXT NOT NULL,
  domain TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt INTEGER NOT NULL,
  last_code INTEGER,
  last_response TEXT,
  warned INTEGER NOT NULL DEFAULT 0,
  updated INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS recipients_due ON recipients(state, next_attempt);
CREATE INDEX IF NOT EXISTS recipients_message ON recipients(message_id);
CREATE TABLE IF NOT EXISTS attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  recipient_id INTEGER NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,
  at INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  code INTEGER NOT NULL,
  response TEXT NOT NULL,
  host TEXT,
  address TEXT,
  tls_version TEXT,
  tls_cipher TEXT,
  verified INTEGER NOT NULL DEFAULT 0,
  policy TEXT
);
CREATE INDEX IF NOT EXISTS attempts_recipient ON attempts(recipient_id, at);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- TLS outcomes of direct connections per UTC day and recipient domain, summed for SMTP TLS reports (RFC 8460);
-- "session" is the JSON of one TlsSessionResult (policy, MX host and address, failure), never message content
CREATE TABLE IF NOT EXISTS tls_sessions (
  day TEXT NOT NULL,
  domain TEXT NOT NULL,
  session TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (day, domain, session)
);
CREATE TABLE IF NOT EXISTS dkim_keys (
  domain TEXT PRIMARY KEY,
  rsa_selector TEXT NOT NULL,
  rsa_private BLOB NOT NULL,
  rsa_public TEXT NOT NULL,
  ed_selector TEXT NOT NULL,
  ed_private BLOB NOT NULL,
  ed_public TEXT NOT NULL,
  created INTEGER NOT NULL
);
`;

const toRecipient = (r: RecipientRow): QueuedRecipient => ({
  id: r.id,
  messageId: r.message_id,
  rcpt: r.rcpt,
  domain: r.domain,
  state: r.state,
  attempts: r.attempts,
  nextAttempt: r.next_attempt,
  lastCode: r.last_code,
  lastResponse: r.last_response,
  warned: r.warned === 1,
});

const toMessage = (m: MessageRow): QueuedMessage => ({
  id: m.id,
  kind: m.kind,
  sender: m.sender,
  aliasId: m.alias_id,
  created: m.created,
  size: m.size,
});

export const domainOf = (address: string): string => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

export class OutboundStore {
  readonly db: SqliteDatabase;

  constructor(file: string, appKey: Buffer) {
    this.db = openEncryptedDatabase(file, appKey);
    this.db.exec(SCHEMA);
    // outbound.sqlite files from before the history: `finished` marks a message whose recipients are all final
    const columns = this.db.prepare('PRAGMA table_info(messages)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'finished')) this.db.exec('ALTER TABLE messages ADD COLUMN finished INTEGER');
    this.db.exec('CREATE INDEX IF NOT EXISTS messages_finished ON messages(finished, created)');
    this.db.exec('CREATE INDEX IF NOT EXISTS messages_created ON messages(created, id)');
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Stores a message and its recipients durably; returns the queue id. */
  enqueue(input: { kind: MessageKind; sender: string; recipients: readonly string[]; raw: Buffer; aliasId?: string | null; now?: number }): string {
    const id = randomUUID();
    const now = input.now ?? Date.now();
    const unique = [...new Map(input.recipients.map((r) => [r.toLowerCase(), r])).values()];
    if (unique.length === 0) throw new Error('no recipients');
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO messages (id, kind, sender, alias_id, created, size, raw) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(id, input.kind, input.sender, input.aliasId ?? null, now, input.raw.length, input.raw);
      const ins = this.db.prepare(
        "INSERT INTO recipients (message_id, rcpt, domain, state, next_attempt, updated) VALUES (?, ?, ?, 'queued', ?, ?)",
      );
      for (const rcpt of unique) ins.run(id, rcpt, domainOf(rcpt), now, now);
    })();
    return id;
  }

  /** After a crash, recipients left `sending` (possibly in flight) go back to `queued`, due now (see header). */
  recoverInflight(now = Date.now()): number {
    return this.db.prepare("UPDATE recipients SET state = 'queued', next_attempt = ?, updated = ? WHERE state = 'sending'").run(now, now).changes;
  }

  /**
   * Claims up to `limit` due jobs, each up to `batch` messages of one domain, marking their recipients
   * `sending` in one commit. `admit(domain)` reserves a slot for the domain or says no (its concurrency
   * or rate limit is reached); the worker releases the slot when the job ends.
   */
  claimDue(now: number, limit: number, admit: (domain: string) => boolean, batch = 20): DeliveryJob[] {
    const jobs: DeliveryJob[] = [];
    this.db.transaction(() => {
      const groups = this.db
        .prepare(
          "SELECT message_id, domain, min(next_attempt) AS due FROM recipients WHERE state = 'queued' AND next_attempt <= ? GROUP BY message_id, domain ORDER BY due LIMIT ?",
        )
        .all(now, limit * batch * 2 + 32) as { message_id: string; domain: string }[];
      const byDomain = new Map<string, string[]>();
      const refused = new Set<string>();
      for (const g of groups) {
        if (refused.has(g.domain)) continue;
        let list = byDomain.get(g.domain);
        if (!list) {
          if (byDomain.size >= limit) continue;
          if (!admit(g.domain)) {
            refused.add(g.domain);
            continue;
          }
          list = [];
          byDomain.set(g.domain, list);
        }
        if (list.length < batch) list.push(g.message_id);
      }
      const getMessage = this.db.prepare('SELECT id, kind, sender, alias_id, created, size FROM messages WHERE id = ?');
      const getRows = this.db.prepare("SELECT * FROM recipients WHERE message_id = ? AND domain = ? AND state = 'queued' AND next_attempt <= ? ORDER BY id");
      const mark = this.db.prepare("UPDATE recipients SET state = 'sending', attempts = attempts + 1, updated = ? WHERE id = ?");
      for (const [domain, ids] of byDomain) {
        const items: JobItem[] = [];
        for (const id of ids) {
          const message = getMessage.get(id) as MessageRow | undefined;
          const rows = getRows.all(id, domain, now) as RecipientRow[];
          if (!message || rows.length === 0) continue;
          for (const r of rows) mark.run(now, r.id);
          items.push({ message: toMessage(message), recipients: rows.map((r) => toRecipient({ ...r, state: 'sending', attempts: r.attempts + 1 })) });
        }
        // an empty job is still returned: the worker releases the domain slot admit() reserved
        jobs.push({ domain, items });
      }
    })();
    return jobs;
  }

  raw(messageId: string): Buffer | null {
    const row = this.db.prepare('SELECT raw FROM messages WHERE id = ?').get(messageId) as { raw: Buffer } | undefined;
    return row ? row.raw : null;
  }

  /** The remote's acceptance of several recipients, each with its own reply, in one commit. */
  markDeliveredEach(replies: readonly RecipientReply[], now = Date.now()): void {
    this.setFinal(replies, 'delivered', now);
  }

  markBounced(ids: readonly number[], code: number, response: string, now = Date.now(), session: AttemptSession = NO_SESSION): void {
    this.setFinal(ids.map((id) => ({ id, code, response, session })), 'bounced', now);
  }

  markDeferred(ids: readonly number[], code: number, response: string, nextAttempt: number, now = Date.now(), session: AttemptSession = NO_SESSION): void {
    const st = this.db.prepare(
      "UPDATE recipients SET state = 'queued', last_code = ?, last_response = ?, next_attempt = ?, updated = ? WHERE id = ? AND state = 'sending'",
    );
    this.db.transaction(() => {
      for (const id of ids) {
        st.run(code, response, nextAttempt, now, id);
        // recorded even when the owner cancelled the recipient meanwhile: the attempt did happen
        this.recordAttempt(id, 'deferred', { id, code, response, session }, now);
      }
    })();
  }

  /** One row of the attempt history (inside the caller's transaction). */
  private recordAttempt(recipientId: number, outcome: 'delivered' | 'deferred' | 'bounced', reply: RecipientReply, now: number): void {
    const s = reply.session ?? NO_SESSION;
    this.db
      .prepare(
        'INSERT INTO attempts (recipient_id, at, outcome, code, response, host, address, tls_version, tls_cipher, verified, policy) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM recipients WHERE id = ?)',
      )
      .run(recipientId, now, outcome, reply.code, reply.response, s.host, s.address, s.tlsVersion, s.tlsCipher, s.verified ? 1 : 0, s.policy, recipientId);
  }

  markWarned(ids: readonly number[]): void {
    const st = this.db.prepare('UPDATE recipients SET warned = 1 WHERE id = ?');
    this.db.transaction(() => {
      for (const id of ids) st.run(id);
    })();
  }

  private setFinal(replies: readonly RecipientReply[], state: 'delivered' | 'bounced', now: number): void {
    const st = this.db.prepare('UPDATE recipients SET state = ?, last_code = ?, last_response = ?, updated = ? WHERE id = ?');
    this.db.transaction(() => {
      for (const r of replies) {
        st.run(state, r.code, r.response, now, r.id);
        this.recordAttempt(r.id, state, r, now);
      }
    })();
  }

  /**
   * Messages none of whose recipients is still pending become history: their raw bytes are wiped
   * (secure_delete overwrites the freed pages) and `finished` is set; the envelope and attempts stay.
   */
  pruneFinished(now = Date.now()): number {
    return this.db
      .prepare(
        "UPDATE messages SET raw = X'', finished = ? WHERE finished IS NULL AND id NOT IN (SELECT message_id FROM recipients WHERE state IN ('queued', 'sending'))",
      )
      .run(now).changes;
  }

  /** Counts one TLS session outcome towards the day's report for its recipient domain. */
  recordTlsSession(result: TlsSessionResult, now = Date.now()): void {
    const day = new Date(now).toISOString().slice(0, 10);
    this.db
      .prepare('INSERT INTO tls_sessions (day, domain, session, count) VALUES (?, ?, ?, 1) ON CONFLICT (day, domain, session) DO UPDATE SET count = count + 1')
      .run(day, result.policyDomain, JSON.stringify(result));
  }

  /** Days before `today` (YYYY-MM-DD) that have TLS outcomes, each with its domains. */
  tlsReportDays(today: string): { day: string; domain: string }[] {
    return this.db.prepare('SELECT DISTINCT day, domain FROM tls_sessions WHERE day < ? ORDER BY day, domain').all(today) as { day: string; domain: string }[];
  }

  /** The TLS outcomes of one day and domain, each with the number of sessions that had it. */
  tlsSessions(day: string, domain: string): TlsSessionResult[] {
    const rows = this.db.prepare('SELECT session, count FROM tls_sessions WHERE day = ? AND domain = ?').all(day, domain) as { session: string; count: number }[];
    return rows.map((row) => ({ ...(JSON.parse(row.session) as TlsSessionResult), count: row.count }));
  }

  /** Forgets one day's TLS outcomes of a domain (reported, or nobody asked for them). */
  dropTlsSessions(day: string, domain: string): void {
    this.db.prepare('DELETE FROM tls_sessions WHERE day = ? AND domain = ?').run(day, domain);
  }

  /** Deletes the history of messages finished before `cutoff` (recipients and attempts go with them). */
  pruneHistory(cutoff: number): number {
    return this.db.prepare('DELETE FROM messages WHERE finished IS NOT NULL AND finished < ?').run(cutoff).changes;
  }

  counts(): QueueCounts {
    // recipients of messages still in the queue: the history of finished ones is not counted here
    const rows = this.db
      .prepare('SELECT state, count(*) AS n FROM recipients WHERE message_id IN (SELECT id FROM messages WHERE finished IS NULL) GROUP BY state')
      .all() as { state: RecipientState; n: number }[];
    const by = new Map(rows.map((r) => [r.state, r.n]));
    const messages = (this.db.prepare('SELECT count(*) AS n FROM messages WHERE finished IS NULL').get() as { n: number }).n;
    return {
      messages,
      queued: by.get('queued') ?? 0,
      sending: by.get('sending') ?? 0,
      delivered: by.get('delivered') ?? 0,
      bounced: by.get('bounced') ?? 0,
      dropped: by.get('dropped') ?? 0,
    };
  }

  /** Messages still in the queue with every recipient's state (for `outbound status`). */
  list(limit = 1000): QueueEntry[] {
    const messages = this.db.prepare('SELECT id, kind, sender, alias_id, created, size FROM messages WHERE finished IS NULL ORDER BY created LIMIT ?').all(limit) as MessageRow[];
    const rcpts = this.db.prepare('SELECT * FROM recipients WHERE message_id = ? ORDER BY id');
    return messages.map((m) => ({ ...toMessage(m), recipients: (rcpts.all(m.id) as RecipientRow[]).map(toRecipient) }));
  }

  /** Makes queued recipients due now: of one message, or all when id is omitted. Returns how many. */
  retryNow(messageId?: string, now = Date.now()): number {
    if (messageId === undefined) {
      return this.db.prepare("UPDATE recipients SET next_attempt = ? WHERE state = 'queued'").run(now).changes;
    }
    return this.db.prepare("UPDATE recipients SET next_attempt = ? WHERE state = 'queued' AND message_id = ?").run(now, messageId).changes;
  }

  /** Gives up on a message without a bounce (it stays in the history as cancelled); returns the number of recipients dropped. */
  drop(messageId: string, now = Date.now()): number {
    const n = this.db
      .prepare("UPDATE recipients SET state = 'dropped', last_response = 'dropped by the administrator', updated = ? WHERE message_id = ? AND state IN ('queued', 'sending')")
      .run(now, messageId).changes;
    this.pruneFinished(now);
    return n;
  }

  getSetting(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    return row ? row.value : null;
  }

  setSetting(key: string, value: string | null): void {
    if (value === null) this.db.prepare('DELETE FROM settings WHERE key = ?').run(key);
    else this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** Earliest next_attempt of a queued recipient, or null when nothing is queued. */
  nextDue(): number | null {
    const row = this.db.prepare("SELECT min(next_attempt) AS t FROM recipients WHERE state = 'queued'").get() as { t: number | null };
    return row.t;
  }
}
