// webhooks.sqlite: pending webhook deliveries and their delivery log (app-key encrypted, WAL,
// synchronous=FULL). A job holds the JSON body to POST until it is delivered or gives up; then
// the body is deleted (secure_delete) and only the log (status codes, times, no content) remains.
import { randomUUID } from 'node:crypto';
import { openEncryptedDatabase, type SqliteDatabase } from '../../directory/db.js';

export type WebhookJobState = 'pending' | 'delivered' | 'failed';

export interface WebhookJob {
  readonly id: string;
  readonly webhookId: number;
  readonly aliasId: string;
  readonly url: string;
  readonly body: Buffer;
  readonly created: number;
  readonly attempts: number;
  readonly nextAttempt: number;
}

export interface NewWebhookJob {
  readonly webhookId: number;
  readonly aliasId: string;
  readonly url: string;
  readonly body: Buffer;
}

export interface DeliveryLogEntry {
  readonly id: number;
  readonly jobId: string;
  readonly webhookId: number;
  readonly aliasId: string;
  readonly url: string;
  readonly attempt: number;
  readonly at: Date;
  /** HTTP status, or null when no response arrived. */
  readonly status: number | null;
  /** Short reason for failures ("HTTP 500", "timeout", "connection refused"). */
  readonly error: string | null;
  readonly durationMs: number;
  /** 'delivered', 'retry' (will be tried again) or 'failed' (gave up). */
  readonly outcome: 'delivered' | 'retry' | 'failed';
}

export interface WebhookCounts {
  readonly pending: number;
  readonly delivered: number;
  readonly failed: number;
}

const SCHEMA = [
  `CREATE TABLE jobs (
     id TEXT PRIMARY KEY,
     webhook_id INTEGER NOT NULL,
     alias_id TEXT NOT NULL,
     url TEXT NOT NULL,
     body BLOB,                      -- NULL once delivered or failed
     created INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt INTEGER NOT NULL,
     state TEXT NOT NULL DEFAULT 'pending'
   );
   CREATE INDEX jobs_due ON jobs(state, next_attempt);
   CREATE TABLE log (
     id INTEGER PRIMARY KEY,
     job_id TEXT NOT NULL,
     webhook_id INTEGER NOT NULL,
     alias_id TEXT NOT NULL,
     url TEXT NOT NULL,
     attempt INTEGER NOT NULL,
     at INTEGER NOT NULL,
     status INTEGER,
     error TEXT,
     duration_ms INTEGER NOT NULL,
     outcome TEXT NOT NULL
   );
   CREATE INDEX log_by_webhook ON log(webhook_id, id);`,
];

interface JobRow {
  id: string;
  webhook_id: number;
  alias_id: string;
  url: string;
  body: Buffer | null;
  created: number;
  attempts: number;
  next_attempt: number;
}

interface LogRow {
  id: number;
  job_id: string;
  webhook_id: number;
  alias_id: string;
  url: string;
  attempt: number;
  at: number;
  status: number | null;
  error: string | null;
  duration_ms: number;
  outcome: 'delivered' | 'retry' | 'failed';
}

export class WebhookStore {
  private constructor(private readonly db: SqliteDatabase) {}

  /** Opens (creating if needed) the file with the app key; throws UndecryptableDatabase for a wrong key. */
  static open(file: string, appKey: Buffer): WebhookStore {
    const db = openEncryptedDatabase(file, appKey);
    const migrate = db.transaction(() => {
      const version = Number(db.pragma('user_version', { simple: true }));
      for (let v = version; v < SCHEMA.length; v++) db.exec(SCHEMA[v] ?? '');
      db.pragma(`user_version = ${SCHEMA.length}`);
    });
    migrate.immediate();
    return new WebhookStore(db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Adds jobs in one durable transaction (called before the MX answers 250). */
  enqueue(jobs: readonly NewWebhookJob[], now = Date.now()): string[] {
    const insert = this.db.prepare('INSERT INTO jobs (id, webhook_id, alias_id, url, body, created, next_attempt) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const ids: string[] = [];
    this.db.transaction(() => {
      for (const job of jobs) {
        const id = randomUUID();
        insert.run(id, job.webhookId, job.aliasId, job.url, job.body, now, now);
        ids.push(id);
      }
    }).immediate();
    return ids;
  }

  /** Removes jobs again (the MX rolls back when a later recipient of the same message fails). */
  discard(ids: readonly string[]): void {
    const del = this.db.prepare('DELETE FROM jobs WHERE id = ?');
    this.db.transaction(() => {
      for (const id of ids) del.run(id);
    }).immediate();
  }

  /** Pending jobs due at `now`, oldest first. */
  due(now = Date.now(), limit = 20): WebhookJob[] {
    return this.db
      .prepare<[number, number], JobRow>(`SELECT * FROM jobs WHERE state = 'pending' AND next_attempt <= ? ORDER BY next_attempt, created LIMIT ?`)
      .all(now, limit)
      .filter((row): row is JobRow & { body: Buffer } => row.body !== null)
      .map((row) => ({
        id: row.id,
        webhookId: row.webhook_id,
        aliasId: row.alias_id,
        url: row.url,
        body: row.body,
        created: row.created,
        attempts: row.attempts,
        nextAttempt: row.next_attempt,
      }));
  }

  /** Earliest next attempt of any pending job, or null. */
  nextDue(): number | null {
    const row = this.db.prepare<[], { t: number | null }>(`SELECT min(next_attempt) AS t FROM jobs WHERE state = 'pending'`).get();
    return row?.t ?? null;
  }

  /**
   * Records one attempt and its consequence in one transaction: delivered/failed drop the body,
   * retry schedules the next attempt.
   */
  recordAttempt(
    job: WebhookJob,
    attempt: { status: number | null; error: string | null; durationMs: number; at: number },
    outcome: 'delivered' | 'retry' | 'failed',
    nextAttempt: number | null,
  ): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO log (job_id, webhook_id, alias_id, url, attempt, at, status, error, duration_ms, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(job.id, job.webhookId, job.aliasId, job.url, job.attempts + 1, attempt.at, attempt.status, attempt.error, Math.round(attempt.durationMs), outcome);
      if (outcome === 'retry') {
        this.db.prepare('UPDATE jobs SET attempts = attempts + 1, next_attempt = ? WHERE id = ?').run(nextAttempt ?? attempt.at, job.id);
      } else {
        this.db.prepare('UPDATE jobs SET attempts = attempts + 1, state = ?, body = NULL WHERE id = ?').run(outcome, job.id);
      }
    }).immediate();
  }

  /** Delivery log of one webhook (or of an alias), newest first. */
  log(filter: { webhookId?: number; aliasId?: string }, limit = 50): DeliveryLogEntry[] {
    const rows =
      filter.webhookId !== undefined
        ? this.db.prepare<[number, number], LogRow>('SELECT * FROM log WHERE webhook_id = ? ORDER BY id DESC LIMIT ?').all(filter.webhookId, limit)
        : this.db.prepare<[string, number], LogRow>('SELECT * FROM log WHERE alias_id = ? ORDER BY id DESC LIMIT ?').all(filter.aliasId ?? '', limit);
    return rows.map((row) => ({
      id: row.id,
      jobId: row.job_id,
      webhookId: row.webhook_id,
      aliasId: row.alias_id,
      url: row.url,
      attempt: row.attempt,
      at: new Date(row.at),
      status: row.status,
      error: row.error,
      durationMs: row.duration_ms,
      outcome: row.outcome,
    }));
  }

  counts(): WebhookCounts {
    const rows = this.db.prepare<[], { state: string; n: number }>('SELECT state, count(*) AS n FROM jobs GROUP BY state').all();
    const get = (s: string): number => rows.find((r) => r.state === s)?.n ?? 0;
    return { pending: get('pending'), delivered: get('delivered'), failed: get('failed') };
  }

  /** Drops finished jobs and log rows older than `before` (housekeeping). */
  prune(before: number): void {
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM jobs WHERE state != 'pending' AND created < ?`).run(before);
      this.db.prepare('DELETE FROM log WHERE at < ?').run(before);
    }).immediate();
  }
}
