// Mailbox file schema: an ordered list of migrations; PRAGMA user_version = number applied.
// Append new migrations at the end; never edit a released one (files made by it exist on disks).
import { CHUNK_BYTES, decompress } from './codec.js';
import { SIEVE_SCHEMA } from './sieve-store.js';
import { InvalidRequest } from './errors.js';
import { MAILBOX_OBJECT_ID_SQL, newObjectKey } from './object-id.js';
import { refreshedAddressHead } from './search.js';
import { messageKeys, sentDateKey } from './sort-keys.js';
import type { Statement } from 'better-sqlite3-multiple-ciphers';
import type { Db } from './sqlite.js';

export type Migration = (db: Db) => void;

export const DEFAULT_FOLDERS: readonly { path: string; specialUse: string | null }[] = [
  { path: 'INBOX', specialUse: null },
  { path: 'Drafts', specialUse: '\\Drafts' },
  { path: 'Sent', specialUse: '\\Sent' },
  { path: 'Junk', specialUse: '\\Junk' },
  { path: 'Trash', specialUse: '\\Trash' },
  { path: 'Archive', specialUse: '\\Archive' },
];

/** v1: folders, messages, shared bodies, chunked parts, de-duplicated attachments, journal, FTS. */
const v1: Migration = (db) => {
  db.exec(`
    CREATE TABLE mailbox_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      modseq INTEGER NOT NULL,
      last_uid_validity INTEGER NOT NULL,
      last_thread_id INTEGER NOT NULL DEFAULT 0,
      quota_bytes INTEGER,
      used_bytes INTEGER NOT NULL DEFAULT 0,
      message_count INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE folders (
      id INTEGER PRIMARY KEY,
      path TEXT NOT NULL UNIQUE,
      special_use TEXT,
      subscribed INTEGER NOT NULL DEFAULT 1,
      uid_validity INTEGER NOT NULL,
      uid_next INTEGER NOT NULL DEFAULT 1,
      highest_modseq INTEGER NOT NULL,
      message_count INTEGER NOT NULL DEFAULT 0,
      unseen_count INTEGER NOT NULL DEFAULT 0,
      total_size INTEGER NOT NULL DEFAULT 0
    );
    -- One row per distinct stored message; COPY shares it (refcount = messages pointing here).
    CREATE TABLE bodies (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      refcount INTEGER NOT NULL DEFAULT 0,
      size INTEGER NOT NULL,
      header_date TEXT,
      message_id TEXT,
      thread_id INTEGER NOT NULL,
      -- Blobs last, smallest first: a search that only needs search_head never reads the overflow pages after it.
      search_head BLOB NOT NULL,
      structure BLOB NOT NULL,
      search_body BLOB NOT NULL
    );
    CREATE TABLE messages (
      id INTEGER PRIMARY KEY,
      folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
      uid INTEGER NOT NULL,
      modseq INTEGER NOT NULL,
      sysflags INTEGER NOT NULL DEFAULT 0,
      keywords TEXT NOT NULL DEFAULT '',
      internal_date TEXT NOT NULL,
      size INTEGER NOT NULL,
      body_id INTEGER NOT NULL REFERENCES bodies(id),
      UNIQUE (folder_id, uid)
    );
    CREATE INDEX messages_body ON messages(body_id);
    CREATE INDEX messages_modseq ON messages(folder_id, modseq);
    CREATE TABLE attachments (
      id INTEGER PRIMARY KEY,
      sha256 BLOB NOT NULL UNIQUE,
      size INTEGER NOT NULL,
      refcount INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE attachment_chunks (
      attachment_id INTEGER NOT NULL REFERENCES attachments(id) ON DELETE CASCADE,
      seq INTEGER NOT NULL,
      data BLOB NOT NULL,
      PRIMARY KEY (attachment_id, seq)
    );
    -- The raw message as received = its parts in raw_start order: inline chunks (data) or attachment refs.
    CREATE TABLE body_parts (
      body_id INTEGER NOT NULL REFERENCES bodies(id) ON DELETE CASCADE,
      raw_start INTEGER NOT NULL,
      raw_len INTEGER NOT NULL,
      attachment_id INTEGER REFERENCES attachments(id),
      data BLOB,
      PRIMARY KEY (body_id, raw_start)
    );
    CREATE INDEX body_parts_attachment ON body_parts(attachment_id) WHERE attachment_id IS NOT NULL;
    -- kind: 1 append, 2 flags, 3 expunge.
    CREATE TABLE changes (
      id INTEGER PRIMARY KEY,
      folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
      modseq INTEGER NOT NULL,
      kind INTEGER NOT NULL,
      uid INTEGER NOT NULL,
      sysflags INTEGER,
      keywords TEXT
    );
    CREATE INDEX changes_folder_modseq ON changes(folder_id, modseq);
    CREATE INDEX changes_folder_uid ON changes(folder_id, uid);
    CREATE TABLE thread_refs (message_id TEXT PRIMARY KEY, thread_id INTEGER NOT NULL) WITHOUT ROWID;
    -- Contentless trigram index over all searchable text of a body (rowid = bodies.id). detail=none keeps it
    -- ~3x smaller than detail=column: it only narrows candidates; the exact per-field substring test runs
    -- on the text kept compressed in bodies.search.
    CREATE VIRTUAL TABLE search_index USING fts5(
      text, content='', contentless_delete=1, detail=none, tokenize='trigram case_sensitive 0'
    );

    CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
      UPDATE folders SET message_count = message_count + 1, total_size = total_size + NEW.size,
        unseen_count = unseen_count + ((NEW.sysflags & 1) = 0) WHERE id = NEW.folder_id;
      UPDATE mailbox_state SET used_bytes = used_bytes + NEW.size, message_count = message_count + 1;
      UPDATE bodies SET refcount = refcount + 1 WHERE id = NEW.body_id;
    END;
    CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
      UPDATE folders SET message_count = message_count - 1, total_size = total_size - OLD.size,
        unseen_count = unseen_count - ((OLD.sysflags & 1) = 0) WHERE id = OLD.folder_id;
      UPDATE mailbox_state SET used_bytes = used_bytes - OLD.size, message_count = message_count - 1;
      UPDATE bodies SET refcount = refcount - 1 WHERE id = OLD.body_id;
      DELETE FROM bodies WHERE id = OLD.body_id AND refcount <= 0;
    END;
    CREATE TRIGGER messages_au_seen AFTER UPDATE OF sysflags ON messages
      WHEN (OLD.sysflags & 1) != (NEW.sysflags & 1) BEGIN
      UPDATE folders SET unseen_count = unseen_count + (CASE WHEN (NEW.sysflags & 1) = 0 THEN 1 ELSE -1 END)
        WHERE id = NEW.folder_id;
    END;
    CREATE TRIGGER bodies_ad AFTER DELETE ON bodies BEGIN
      DELETE FROM search_index WHERE rowid = OLD.id;
    END;
    CREATE TRIGGER body_parts_ai AFTER INSERT ON body_parts WHEN NEW.attachment_id IS NOT NULL BEGIN
      UPDATE attachments SET refcount = refcount + 1 WHERE id = NEW.attachment_id;
    END;
    CREATE TRIGGER body_parts_ad AFTER DELETE ON body_parts WHEN OLD.attachment_id IS NOT NULL BEGIN
      UPDATE attachments SET refcount = refcount - 1 WHERE id = OLD.attachment_id;
      DELETE FROM attachments WHERE id = OLD.attachment_id AND refcount <= 0;
    END;
  `);
  const now = Math.floor(Date.now() / 1000);
  db.prepare('INSERT INTO mailbox_state (id, modseq, last_uid_validity) VALUES (1, 1, ?)').run(now + DEFAULT_FOLDERS.length);
  const insert = db.prepare('INSERT INTO folders (path, special_use, uid_validity, highest_modseq) VALUES (?, ?, ?, 1)');
  DEFAULT_FOLDERS.forEach((f, i) => insert.run(f.path, f.specialUse, now + i + 1));
};

/** v2: delivery keys of drained sealed-queue items, so re-draining after a crash is idempotent. */
const v2: Migration = (db) => {
  db.exec(`
    CREATE TABLE delivered (
      dedupe_key TEXT PRIMARY KEY,
      folder_id INTEGER NOT NULL,
      uid INTEGER NOT NULL,
      uid_validity INTEGER NOT NULL,
      modseq INTEGER NOT NULL
    ) WITHOUT ROWID;
  `);
};

/**
 * v3: \Noselect folders (RFC 3501 DELETE of a folder that has children keeps it as a name only). A trigger
 * refuses messages inside one, so no write path (append, copy, move) can fill it; the store maps the
 * error to NoSuchFolder.
 */
const v3: Migration = (db) => {
  db.exec(`
    ALTER TABLE folders ADD COLUMN noselect INTEGER NOT NULL DEFAULT 0;
    CREATE TRIGGER messages_bi_noselect BEFORE INSERT ON messages
      WHEN (SELECT noselect FROM folders WHERE id = NEW.folder_id) != 0 BEGIN
      SELECT RAISE(ABORT, 'sealpost: noselect folder');
    END;
  `);
};

/** Columns on messages that SORT orders by (RFC 5256 §3, RFC 5957), each with a (folder, key, uid) index. */
export const SORT_COLUMNS = ['sort_subject', 'sort_date', 'sort_from', 'sort_to', 'sort_cc', 'sort_dfrom', 'sort_dto'] as const;

/** Most header bytes the v4 migration reads per stored message to compute its keys. */
const MIGRATION_HEADER_BYTES = 256 * 1024;

/** The stored message's leading bytes (its header block) from its inline chunks (`parts`: body_parts by body id). */
function storedHeader(parts: Statement, bodyId: number): Buffer {
  const rows = parts.iterate(bodyId) as IterableIterator<{ attachment_id: number | null; data: Buffer | null }>;
  const out: Buffer[] = [];
  let bytes = 0;
  for (const part of rows) {
    if (part.attachment_id !== null || part.data === null) break; // a header is never an attachment body
    const data = decompress(part.data, CHUNK_BYTES); // inline parts are stored CHUNK_BYTES at most
    out.push(data);
    bytes += data.length;
    if (bytes >= MIGRATION_HEADER_BYTES || data.includes('\r\n\r\n')) break;
  }
  return Buffer.concat(out);
}

/**
 * v4: IMAP extension state.
 * - \Recent (RFC 3501 §2.3.2): folders.recent_from, the first UID no session has claimed yet. Existing
 *   folders start with nothing recent (recent_from = uid_next), so an upgrade does not flag old mail.
 * - STATUS DELETED: folders.deleted_count, kept by triggers like unseen_count.
 * - OBJECTID (RFC 8474): folders.object_id (MAILBOXID, random, kept across RENAME); mailbox_state.object_key
 *   keys the permutation that derives EMAILID/THREADID from body and thread numbers (object-id.ts);
 *   bodies_thread finds a THREADID's messages.
 * - SAVEDATE (RFC 8514): messages.save_date; NULL (NIL) for messages stored before v4.
 * - SORT keys (RFC 5256, RFC 5957) on messages, indexed per folder; THREAD keys per body in thread_keys.
 *   Existing messages get theirs computed here from their stored header bytes, so SORT and THREAD never
 *   meet a message without keys.
 */
const v4: Migration = (db) => {
  db.exec(`
    ALTER TABLE folders ADD COLUMN recent_from INTEGER NOT NULL DEFAULT 1;
    UPDATE folders SET recent_from = uid_next;
    ALTER TABLE folders ADD COLUMN deleted_count INTEGER NOT NULL DEFAULT 0;
    UPDATE folders SET deleted_count = (SELECT count(*) FROM messages m WHERE m.folder_id = folders.id AND (m.sysflags & 8) != 0);
    ALTER TABLE folders ADD COLUMN object_id TEXT;
    UPDATE folders SET object_id = ${MAILBOX_OBJECT_ID_SQL};
    CREATE TRIGGER folders_ai_object_id AFTER INSERT ON folders WHEN NEW.object_id IS NULL BEGIN
      UPDATE folders SET object_id = ${MAILBOX_OBJECT_ID_SQL} WHERE id = NEW.id;
    END;
    ALTER TABLE mailbox_state ADD COLUMN object_key TEXT;

    ALTER TABLE messages ADD COLUMN save_date TEXT;
    ALTER TABLE messages ADD COLUMN sort_subject TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN sort_date TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN sort_from TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN sort_to TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN sort_cc TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN sort_dfrom TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN sort_dto TEXT NOT NULL DEFAULT '';

    -- Per stored body: what REFERENCES threading (RFC 5256 §4) reads; small rows, so a thread build over a
    -- large folder never touches the (large) bodies rows.
    CREATE TABLE thread_keys (
      body_id INTEGER PRIMARY KEY,
      message_id TEXT,
      refs TEXT NOT NULL DEFAULT '',
      reply INTEGER NOT NULL DEFAULT 0
    );
    CREATE TRIGGER bodies_ad_thread_keys AFTER DELETE ON bodies BEGIN
      DELETE FROM thread_keys WHERE body_id = OLD.id;
    END;

    CREATE TRIGGER messages_ai_deleted AFTER INSERT ON messages WHEN (NEW.sysflags & 8) != 0 BEGIN
      UPDATE folders SET deleted_count = deleted_count + 1 WHERE id = NEW.folder_id;
    END;
    CREATE TRIGGER messages_ad_deleted AFTER DELETE ON messages WHEN (OLD.sysflags & 8) != 0 BEGIN
      UPDATE folders SET deleted_count = deleted_count - 1 WHERE id = OLD.folder_id;
    END;
    CREATE TRIGGER messages_au_deleted AFTER UPDATE OF sysflags ON messages
      WHEN (OLD.sysflags & 8) != (NEW.sysflags & 8) BEGIN
      UPDATE folders SET deleted_count = deleted_count + (CASE WHEN (NEW.sysflags & 8) != 0 THEN 1 ELSE -1 END)
        WHERE id = NEW.folder_id;
    END;
  `);
  db.prepare('UPDATE mailbox_state SET object_key = ?').run(newObjectKey());
  const insertThread = db.prepare('INSERT OR REPLACE INTO thread_keys (body_id, message_id, refs, reply) VALUES (?, ?, ?, ?)');
  const updateMessages = db.prepare(
    `UPDATE messages SET sort_subject = ?, sort_from = ?, sort_to = ?, sort_cc = ?, sort_dfrom = ?, sort_dto = ?,
       sort_date = CASE WHEN ? IS NOT NULL THEN ? ELSE internal_date END WHERE body_id = ?`,
  );
  const parts = db.prepare('SELECT attachment_id, data FROM body_parts WHERE body_id = ? ORDER BY raw_start');
  const bodies = db.prepare('SELECT id, header_date FROM bodies ORDER BY id').all() as { id: number; header_date: string | null }[];
  for (const body of bodies) {
    const keys = messageKeys(storedHeader(parts, body.id));
    insertThread.run(body.id, keys.messageId, keys.refs, keys.replyOrForward ? 1 : 0);
    const sent = sentDateKey(body.header_date, '') || null;
    updateMessages.run(keys.subject, keys.from, keys.to, keys.cc, keys.displayFrom, keys.displayTo, sent, sent, body.id);
  }
  db.exec(`
    CREATE INDEX bodies_thread ON bodies(thread_id);
    CREATE INDEX messages_sort_arrival ON messages(folder_id, internal_date, uid);
    CREATE INDEX messages_sort_size ON messages(folder_id, size, uid);
    ${SORT_COLUMNS.map((c) => `CREATE INDEX messages_${c} ON messages(folder_id, ${c}, uid);`).join('\n    ')}
  `);
};

/**
 * v5: the subscription list as names of its own (RFC 3501 §6.3.6, RFC 9051 §6.3.7): a server must not drop a name
 * from it because the folder went away, so DELETE keeps it, and RENAME leaves it on the old name (RFC 9051 §6.3.6).
 * The existing marks become rows. folders.subscribed stays, kept equal to "the folder's path is in the list" by
 * triggers, for readers of the folders table alone (readUidState reads live files of any version); a folder row
 * inserted with subscribed = 1 adds its name to the list, as the column's default always meant.
 */
const v5: Migration = (db) => {
  db.exec(`
    CREATE TABLE subscriptions (path TEXT PRIMARY KEY) WITHOUT ROWID;
    INSERT INTO subscriptions (path) SELECT path FROM folders WHERE subscribed != 0;
    CREATE TRIGGER subscriptions_ai AFTER INSERT ON subscriptions BEGIN
      UPDATE folders SET subscribed = 1 WHERE path = NEW.path;
    END;
    CREATE TRIGGER subscriptions_ad AFTER DELETE ON subscriptions BEGIN
      UPDATE folders SET subscribed = 0 WHERE path = OLD.path;
    END;
    CREATE TRIGGER subscriptions_au AFTER UPDATE OF path ON subscriptions BEGIN
      UPDATE folders SET subscribed = 0 WHERE path = OLD.path;
      UPDATE folders SET subscribed = 1 WHERE path = NEW.path;
    END;
    -- A folder inserted subscribed puts its name in the list; any folder is marked by whether its name is listed.
    CREATE TRIGGER folders_ai_subscribed AFTER INSERT ON folders BEGIN
      INSERT OR IGNORE INTO subscriptions (path) SELECT NEW.path WHERE NEW.subscribed != 0;
      UPDATE folders SET subscribed = EXISTS (SELECT 1 FROM subscriptions s WHERE s.path = NEW.path) WHERE id = NEW.id;
    END;
    CREATE TRIGGER folders_au_subscribed AFTER UPDATE OF path ON folders BEGIN
      UPDATE folders SET subscribed = EXISTS (SELECT 1 FROM subscriptions s WHERE s.path = NEW.path) WHERE id = NEW.id;
    END;
    UPDATE folders SET subscribed = 1 WHERE subscribed != 0;
  `);
};

/**
 * v6: FROM/TO/CC/BCC search text of mail stored before group display names were indexed is rebuilt from each
 * stored header (RFC 3501 §6.4.4: the string is searched in the envelope's address fields, group names included).
 * Reads every stored header once, like v4.
 */
const v6: Migration = (db) => {
  const parts = db.prepare('SELECT attachment_id, data FROM body_parts WHERE body_id = ? ORDER BY raw_start');
  const update = db.prepare('UPDATE bodies SET search_head = ? WHERE id = ?');
  const bodies = db.prepare('SELECT id, search_head FROM bodies ORDER BY id').iterate() as IterableIterator<{ id: number; search_head: Buffer }>;
  const changes: [Buffer, number][] = [];
  for (const body of bodies) changes.push([refreshedAddressHead(body.search_head, storedHeader(parts, body.id)), body.id]);
  for (const [head, id] of changes) update.run(head, id);
};

/** v7: the owner's Sieve scripts and the vacation reply log (sieve-store.ts); IF NOT EXISTS, so a file wound back to an older version by a test migrates again. */
const v7: Migration = (db) => {
  db.exec(SIEVE_SCHEMA);
};

/**
 * v8: the junk classifier's counts, inside the encrypted file: messages trained per class, per-token counts, what
 * each stored body was trained as (so it is never counted twice and a re-classification moves its counts), and the
 * bodies a MOVE or COPY into or out of the \Junk folder queued for training. Re-runnable (IF NOT EXISTS), so a
 * file whose version a test set back to exercise an older migration migrates forward again cleanly.
 */
const v8: Migration = (db) => {
  db.exec(`
    CREATE TABLE IF NOT EXISTS junk_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      spam_messages INTEGER NOT NULL DEFAULT 0,
      ham_messages INTEGER NOT NULL DEFAULT 0
    );
    INSERT OR IGNORE INTO junk_state (id) VALUES (1);
    CREATE TABLE IF NOT EXISTS junk_tokens (
      token TEXT PRIMARY KEY,
      spam INTEGER NOT NULL DEFAULT 0,
      ham INTEGER NOT NULL DEFAULT 0,
      -- Day number (days since 1970) of the last training that saw it: pruning drops old rare tokens first.
      last_day INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- 1 spam, 0 ham. Keyed by body (bodies ids are never reused): every copy of a message is one training.
    CREATE TABLE IF NOT EXISTS junk_trained (body_id INTEGER PRIMARY KEY, as_spam INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS junk_pending (body_id INTEGER PRIMARY KEY, as_spam INTEGER NOT NULL);
  `);
};

/**
 * v9: the trigram index catches up in batches after appends (SqliteMailbox.indexSearchBacklog) instead of inside
 * each append's commit; search_progress says through which body id it holds every body. Bodies are AUTOINCREMENT,
 * so "newer than that" is exactly "not indexed yet", and SEARCH tests those rows without the index. A file from
 * before has every body indexed. Re-runnable: an existing row is kept.
 */
const v9: Migration = (db) => {
  db.exec(`
    CREATE TABLE IF NOT EXISTS search_progress (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      indexed_through INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO search_progress (id, indexed_through) VALUES (1, COALESCE((SELECT max(id) FROM bodies), 0));
  `);
};

/**
 * v10: bodies.header_end, the octet where the message's own header ends (root.headerEnd of its parsed structure),
 * so ENVELOPE and BODY[HEADER…] are answered without loading and decoding the whole structure. NULL for bodies
 * stored before (and for any whose header does not start at octet 0): FETCH loads their structure as before.
 * Re-runnable: the column is added only when missing.
 */
const v10: Migration = (db) => {
  const has = db.prepare("SELECT 1 FROM pragma_table_info('bodies') WHERE name = 'header_end'").get();
  if (!has) db.exec('ALTER TABLE bodies ADD COLUMN header_end INTEGER');
};

/**
 * The SORT indexes built on demand (sort.ts onDemandSortIndex): keys whose values land on a random leaf of their
 * index with every new message (subject, addresses, size), so each such index costs every stored message a page
 * written and encrypted, about a third of what an append writes with all seven. Most mail apps never SORT; a
 * mailbox gets the index of a key at its first SORT by that key and keeps it. ARRIVAL and DATE stay built: their
 * keys mostly grow with the UID, so new entries land on the index's last page.
 */
export const ON_DEMAND_SORT_INDEXES: Readonly<Record<string, string>> = {
  sort_subject: 'messages_sort_subject',
  sort_from: 'messages_sort_from',
  sort_to: 'messages_sort_to',
  sort_cc: 'messages_sort_cc',
  sort_dfrom: 'messages_sort_dfrom',
  sort_dto: 'messages_sort_dto',
  size: 'messages_sort_size',
};

/**
 * v11: the SORT indexes of random keys are no longer kept for every file (ON_DEMAND_SORT_INDEXES): dropped here,
 * built again by the first SORT by that key. Re-runnable.
 */
const v11: Migration = (db) => {
  for (const name of Object.values(ON_DEMAND_SORT_INDEXES)) db.exec(`DROP INDEX IF EXISTS ${name}`);
};

export const MIGRATIONS: readonly Migration[] = [v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11];
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Runs the migrations a file lacks, each in its own transaction; `upTo` exists for tests (old-version fixtures). */
export function migrate(db: Db, upTo: number = SCHEMA_VERSION): number {
  const current = Number(db.pragma('user_version', { simple: true }));
  if (current > SCHEMA_VERSION) {
    throw new InvalidRequest(`mailbox schema version ${current} is newer than this Sealpost (${SCHEMA_VERSION}); upgrade Sealpost`);
  }
  for (let version = current; version < upTo; version++) {
    const step = MIGRATIONS[version];
    if (!step) break;
    db.transaction(() => {
      step(db);
      db.pragma(`user_version = ${version + 1}`);
    }).immediate();
  }
  return Number(db.pragma('user_version', { simple: true }));
}
