// Named secrets (R2 credentials, relay passwords, remembered alias keys): OS keychain first, else an
// app-key-encrypted 0600 file in the data dir.
import path from 'node:path';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { SealError, unwrapSecret, wipe, wrapSecret } from '../crypto/index.js';
import { KeychainUnavailable, keychainDelete, keychainEnabled, keychainGet, keychainSet } from './os-keychain.js';
import { KeyFileError, readPrivateFile, replacePrivateFile } from './files.js';

export const SECRETS_FILE = 'secrets.sealed';
const NAME = /^[A-Za-z0-9][A-Za-z0-9:._@-]{0,127}$/;
const FILE_AAD = new TextEncoder().encode('sealpost/secrets-file/v1');

/** Where a secret lives. */
export type SecretBackend = 'keychain' | 'file';

function checkName(name: string): void {
  if (!NAME.test(name)) throw new Error(`Invalid secret name "${name.slice(0, 40)}": use letters, digits and : . _ @ - (max 128).`);
}

/**
 * Get/set/delete named string secrets. Keychain items use service "sealpost", account
 * "secret:<name>"; the keychain is per OS user, so names must be unique across data dirs (use ids).
 * The fallback file is rewritten whole (atomically) on each change. Its read-modify-write is
 * synchronous, so stores in one process never interleave; two PROCESSES (CLI and server) changing
 * secrets at the same instant can lose one update.
 */
export class SecretStore {
  readonly #file: string;
  readonly #fileKey: Buffer;
  readonly #useKeychain: boolean;
  #keychainWorks: boolean | undefined;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string, appKey: Uint8Array, env: NodeJS.ProcessEnv = process.env) {
    if (appKey.length !== 32) throw new Error('The app key must be 32 bytes.');
    this.#file = path.join(dataDir, SECRETS_FILE);
    this.#fileKey = Buffer.from(hkdf(sha256, appKey, undefined, new TextEncoder().encode('sealpost/secrets-file/v1/key'), 32));
    this.#useKeychain = keychainEnabled(env);
  }

  /** The secret's value, or null when it is not set. */
  async getSecret(name: string): Promise<string | null> {
    checkName(name);
    if (this.#useKeychain && this.#keychainWorks !== false) {
      try {
        const v = await keychainGet(account(name));
        if (v !== null) return v;
      } catch (err) {
        if (!(err instanceof KeychainUnavailable)) throw err;
      }
    }
    return this.#readFile()[name] ?? null;
  }

  /** Stores the secret (keychain when it works, else the encrypted file); returns where it went. */
  setSecret(name: string, value: string): Promise<SecretBackend> {
    checkName(name);
    return this.#serialize(async () => {
      if (this.#useKeychain && this.#keychainWorks !== false) {
        try {
          await keychainSet(account(name), value);
          this.#keychainWorks = true;
          this.#removeFromFile(name); // no stale copy left in the fallback
          return 'keychain';
        } catch (err) {
          if (!(err instanceof KeychainUnavailable)) throw err;
          this.#keychainWorks = false;
        }
      }
      const all = this.#readFile();
      all[name] = value;
      this.#writeFile(all);
      return 'file';
    });
  }

  /** Removes the secret wherever it is; false when it was not set. */
  deleteSecret(name: string): Promise<boolean> {
    checkName(name);
    return this.#serialize(async () => {
      let found = false;
      if (this.#useKeychain && this.#keychainWorks !== false) {
        try {
          found = await keychainDelete(account(name));
        } catch (err) {
          if (!(err instanceof KeychainUnavailable)) throw err;
        }
      }
      return this.#removeFromFile(name) || found;
    });
  }

  #serialize<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn, fn);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  #removeFromFile(name: string): boolean {
    const all = this.#readFile();
    if (!(name in all)) return false;
    delete all[name];
    this.#writeFile(all);
    return true;
  }

  #readFile(): Record<string, string> {
    let raw: Buffer | null;
    try {
      raw = readPrivateFile(this.#file);
    } catch (err) {
      if (err instanceof KeyFileError) throw new Error(err.message);
      throw err;
    }
    if (!raw) return Object.create(null) as Record<string, string>;
    let plain: Buffer;
    try {
      plain = unwrapSecret(this.#fileKey, raw, FILE_AAD);
    } catch (err) {
      if (err instanceof SealError) throw new Error(`${this.#file} cannot be decrypted with this app key (${err.code}).`);
      throw err;
    }
    try {
      const parsed: unknown = JSON.parse(plain.toString('utf8'));
      const out = Object.create(null) as Record<string, string>;
      if (parsed && typeof parsed === 'object' && 'secrets' in parsed && parsed.secrets && typeof parsed.secrets === 'object') {
        for (const [k, v] of Object.entries(parsed.secrets)) if (typeof v === 'string') out[k] = v;
      }
      return out;
    } finally {
      wipe(plain);
    }
  }

  #writeFile(all: Record<string, string>): void {
    const plain = Buffer.from(JSON.stringify({ version: 1, secrets: all }), 'utf8');
    const sealed = wrapSecret(this.#fileKey, plain, FILE_AAD);
    wipe(plain);
    replacePrivateFile(this.#file, sealed);
  }
}

function account(name: string): string {
  return `secret:${name}`;
}
