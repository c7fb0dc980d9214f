// The app key: 32 random bytes that encrypt the directory, queues, outbound queue and stored secrets.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, wipe } from '../crypto/index.js';
import { KeychainUnavailable, keychainEnabled, keychainGet, keychainSet } from './os-keychain.js';
import { KeyFileError, createPrivateFileExclusive, readPrivateFile } from './files.js';

export type AppKeySource = 'keychain' | 'env' | 'file';

export interface AppKey {
  readonly key: Buffer;
  readonly source: AppKeySource;
  /** Set when the key lives in a file next to the data; `sealpost doctor` repeats it. */
  readonly warning?: string;
}

/** The app key cannot be obtained; the message says what to do. */
export class AppKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppKeyError';
  }
}

export const APP_KEY_ACCOUNT = 'app-key';
export const APP_KEY_FILE = 'app.key';
/** Present once a data dir holds data encrypted with some app key (owned by server/directory). */
const DIRECTORY_FILE = 'sealpost.db';
const HEX_KEY = /^[0-9a-fA-F]{64}$/;

function parseHexKey(text: string, where: string): Buffer {
  const trimmed = text.trim();
  if (!HEX_KEY.test(trimmed)) {
    throw new AppKeyError(`${where} must be 64 hexadecimal characters (32 bytes); it has ${trimmed.length} characters${/[^0-9a-fA-F]/.test(trimmed) ? ' including non-hex ones' : ''}.`);
  }
  return Buffer.from(trimmed, 'hex');
}

function fileWarning(file: string, why: string): string {
  return `The app key is stored in ${file} (${why}). Anyone who can read that file can open the directory, queues and stored secrets: keep it out of backups of the data dir, or set SEALPOST_APP_KEY from a secret manager instead.`;
}

/**
 * Loads the app key, in order: SEALPOST_APP_KEY (64 hex) → an existing `<dataDir>/app.key` (0600)
 * → OS keychain (service "sealpost", account "app-key"). On first run it creates 32 random bytes in
 * the keychain, or in the key file when no keychain works. It never mints a new key for a data dir that
 * already has a directory database: that data would become unreadable, so it fails with advice instead.
 */
export async function loadAppKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<AppKey> {
  const fromEnv = env.SEALPOST_APP_KEY;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    return { key: parseHexKey(fromEnv, 'SEALPOST_APP_KEY'), source: 'env' };
  }

  // An existing key file wins over the keychain: the keychain item is per OS user, not per data dir,
  // so it may hold another data dir's key, while app.key is certainly this one's.
  const keyFile = path.join(dataDir, APP_KEY_FILE);
  const existing = readKeyFile(keyFile);
  const useKeychain = keychainEnabled(env);
  if (existing) {
    return { key: existing, source: 'file', warning: fileWarning(keyFile, useKeychain ? 'created when no OS keychain was available' : 'SEALPOST_KEYCHAIN=off') };
  }

  let keychainProblem = useKeychain ? '' : 'SEALPOST_KEYCHAIN=off';
  if (useKeychain) {
    try {
      const stored = await keychainGet(APP_KEY_ACCOUNT);
      if (stored !== null) return { key: parseHexKey(stored, 'The app key in the OS keychain (service "sealpost", account "app-key")'), source: 'keychain' };
    } catch (err) {
      if (!(err instanceof KeychainUnavailable)) throw err;
      keychainProblem = `OS keychain unavailable: ${err.message}`;
    }
  }

  if (fs.existsSync(path.join(dataDir, DIRECTORY_FILE))) {
    throw new AppKeyError(
      `The data dir ${dataDir} already holds data but its app key was not found (${keychainProblem || 'no item "app-key" in the OS keychain'}, no ${APP_KEY_FILE}). ` +
        'Unlock the keychain it was created with, restore app.key, or set SEALPOST_APP_KEY.',
    );
  }

  const fresh = randomBytes(32);
  if (useKeychain && !keychainProblem) {
    try {
      await keychainSet(APP_KEY_ACCOUNT, fresh.toString('hex'));
      return { key: fresh, source: 'keychain' };
    } catch (err) {
      if (!(err instanceof KeychainUnavailable)) throw err;
      keychainProblem = `OS keychain unavailable: ${err.message}`;
    }
  }
  const text = Buffer.from(`${fresh.toString('hex')}\n`);
  const created = createPrivateFileExclusive(keyFile, text);
  wipe(text);
  if (!created) {
    // Another process created it first: use theirs.
    wipe(fresh);
    const raced = readKeyFile(keyFile);
    if (!raced) throw new AppKeyError(`${keyFile} vanished while it was being created.`);
    return { key: raced, source: 'file', warning: fileWarning(keyFile, keychainProblem) };
  }
  return { key: fresh, source: 'file', warning: fileWarning(keyFile, keychainProblem) };
}

function readKeyFile(file: string): Buffer | null {
  let raw: Buffer | null;
  try {
    raw = readPrivateFile(file);
  } catch (err) {
    if (err instanceof KeyFileError) throw new AppKeyError(err.message);
    throw err;
  }
  if (!raw) return null;
  try {
    return parseHexKey(raw.toString('latin1'), file);
  } finally {
    wipe(raw);
  }
}
