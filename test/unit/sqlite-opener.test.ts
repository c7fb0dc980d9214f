// The shared SQLite opener (server/sqlite.ts) on real encrypted files: what every store's file looks like on
// disk, and how each store names a key that does not open its file.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3-multiple-ciphers';
import { checkIntegrity, openSqlite, SqliteFileMissing, SqliteUnreadable, type SqliteDb } from '../../server/sqlite.js';
import { openDb } from '../../server/mailbox/sqlite.js';
import { WrongKey } from '../../server/mailbox/errors.js';
import { openQueueDatabase, QueueFileUnreadable } from '../../server/queue/sqlite.js';
import { openEncryptedDatabase, UndecryptableDatabase } from '../../server/directory/db.js';
import { openWithRawKey } from '../../server/backup/sqlite.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-opener-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const mode = (file: string): number => fs.statSync(file).mode & 0o777;
const digest = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/** A small encrypted file with one row, closed cleanly (WAL checkpointed into the main file). */
function makeFile(file: string, key: Buffer): void {
  const db = openSqlite(file, { key, profile: 'live' });
  db.exec('CREATE TABLE t (v TEXT); INSERT INTO t VALUES (\'kept\');');
  db.close();
}

function pragma(db: SqliteDb, name: string): unknown {
  return db.pragma(name, { simple: true });
}

test('a new live file is created 0600 (with its -wal and -shm), encrypted from its first page, with the documented pragmas', () => {
  const file = path.join(dir, 'live.sqlite');
  const key = randomBytes(32);
  const previous = process.umask(0); // SQLite alone would create 0666 here
  let db: SqliteDb;
  try {
    db = openSqlite(file, { key, profile: 'live' });
  } finally {
    process.umask(previous);
  }
  try {
    db.exec('CREATE TABLE t (v TEXT); INSERT INTO t VALUES (\'x\');');
    assert.equal(mode(file), 0o600);
    assert.equal(mode(`${file}-wal`), 0o600);
    assert.equal(mode(`${file}-shm`), 0o600);
    assert.equal(pragma(db, 'journal_mode'), 'wal');
    assert.equal(pragma(db, 'synchronous'), 2, 'synchronous=FULL');
    assert.equal(pragma(db, 'secure_delete'), 1);
    assert.equal(pragma(db, 'temp_store'), 2, 'temp_store=MEMORY');
    assert.equal(pragma(db, 'busy_timeout'), 5000);
    assert.equal(pragma(db, 'foreign_keys'), 1);
    assert.equal(pragma(db, 'encoding'), 'UTF-8');
    assert.equal(checkIntegrity(db), true);
    assert.equal(checkIntegrity(db, 'full'), true);
  } finally {
    db.close();
  }
  assert.ok(!fs.readFileSync(file).subarray(0, 16).equals(SQLITE_HEADER), 'no plaintext SQLite header on disk');
});

test('a copy opens without changing its journal mode; read-only and must-exist opens of a missing file create nothing', () => {
  const file = path.join(dir, 'copy.sqlite');
  const key = randomBytes(32);
  makeFile(file, key);
  const live = openSqlite(file, { key, profile: 'live' });
  live.pragma('journal_mode = DELETE');
  live.close();
  const copy = openSqlite(file, { key, profile: 'copy', mustExist: true });
  try {
    assert.equal(pragma(copy, 'journal_mode'), 'delete');
    assert.equal(pragma(copy, 'temp_store'), 2);
    assert.equal(pragma(copy, 'foreign_keys'), 1);
  } finally {
    copy.close();
  }
  const missing = path.join(dir, 'missing.sqlite');
  assert.throws(() => openSqlite(missing, { key, profile: 'copy', readonly: true }), SqliteFileMissing);
  assert.throws(() => openSqlite(missing, { key, profile: 'live', mustExist: true }), SqliteFileMissing);
  assert.equal(fs.existsSync(missing), false);
});

test('a wrong key is refused with SqliteUnreadable (keyRefused) and leaves the file byte-for-byte unchanged', () => {
  const file = path.join(dir, 'keyed.sqlite');
  const key = randomBytes(32);
  makeFile(file, key);
  const before = digest(file);
  const err = (() => {
    try {
      openSqlite(file, { key: randomBytes(32), profile: 'live' });
    } catch (error) {
      return error;
    }
    return null;
  })();
  assert.ok(err instanceof SqliteUnreadable, 'typed error');
  assert.equal(err.keyRefused, true);
  assert.equal(digest(file), before);
  assert.equal(fs.existsSync(`${file}-wal`), false, 'no WAL written for a refused key');
  assert.throws(() => openSqlite(file, { key: Buffer.alloc(16), profile: 'live' }), RangeError, 'only 32-byte raw keys');
  const again = openSqlite(file, { key, profile: 'live' });
  try {
    assert.deepEqual(again.prepare('SELECT v FROM t').all(), [{ v: 'kept' }]);
  } finally {
    again.close();
  }
});

test('a file keyed the way every earlier version keyed it (chacha20, raw hex key pragma) still opens', () => {
  const file = path.join(dir, 'legacy.sqlite');
  const key = randomBytes(32);
  const legacy = new Database(file);
  legacy.pragma("cipher='chacha20'");
  legacy.pragma(`key="x'${key.toString('hex')}'"`);
  legacy.pragma('journal_mode = WAL');
  legacy.exec('CREATE TABLE t (v TEXT); INSERT INTO t VALUES (\'old\');');
  legacy.close();
  const db = openSqlite(file, { key, profile: 'live' });
  try {
    assert.deepEqual(db.prepare('SELECT v FROM t').all(), [{ v: 'old' }]);
  } finally {
    db.close();
  }
  // And a file the opener wrote opens with those same pragmas alone.
  const reader = new Database(file, { readonly: true });
  try {
    reader.pragma("cipher='chacha20'");
    reader.pragma(`key="x'${key.toString('hex')}'"`);
    assert.deepEqual(reader.prepare('SELECT v FROM t').all(), [{ v: 'old' }]);
  } finally {
    reader.close();
  }
});

test('each store names a key that does not open its file in its own terms', () => {
  const key = randomBytes(32);
  const wrong = randomBytes(32);
  const mailbox = path.join(dir, 'mailbox.sqlite');
  makeFile(mailbox, key);
  assert.throws(() => openDb(mailbox, wrong, { encrypted: true }), WrongKey);
  assert.throws(() => openWithRawKey(mailbox, wrong), WrongKey);
  assert.throws(() => openEncryptedDatabase(mailbox, wrong), UndecryptableDatabase);
  const queue = path.join(dir, 'queue.sqlite');
  openQueueDatabase(queue, key, 'q1').close();
  assert.equal(mode(queue), 0o600);
  assert.throws(() => openQueueDatabase(queue, wrong, 'q1'), QueueFileUnreadable);
  // A file that is not SQLite at all is refused the same way, never rewritten.
  const junk = path.join(dir, 'junk.sqlite');
  fs.writeFileSync(junk, randomBytes(8192), { mode: 0o600 });
  const before = digest(junk);
  assert.throws(() => openDb(junk, key, { encrypted: true }), WrongKey);
  assert.equal(digest(junk), before);
});
