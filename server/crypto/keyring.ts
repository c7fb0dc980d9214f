// In-memory ring of unlocked alias keys, each entry encrypted under a random per-process key.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { asBuffer, concatBytes, randomBytes, timingSafeEqual, wipe } from './bytes.js';
import { unwrapSecret, wrapSecret } from './seal.js';

/** What an unlocked alias needs: its mailbox file key and its sealing private key. */
export interface AliasMaterial {
  readonly mailboxKey: Buffer;
  readonly privateKey: Uint8Array;
}

/** Why an alias left the ring. */
export type KeyRingDropReason = 'idle' | 'manual' | 'all';

export interface KeyRingOptions {
  /** How long an alias stays unlocked after its last session ends (ms, default 15 min). */
  readonly idleTimeoutMs?: number;
  /** Called after an alias was dropped and its material wiped (close its mailbox here). Must not throw. */
  readonly onDrop?: (aliasId: string, reason: KeyRingDropReason) => void;
}

export interface PutOptions {
  /** "Remember on this device": never dropped for idleness (still dropped by drop/dropAll). */
  readonly remember?: boolean;
}

interface Entry {
  wrapped: Buffer;
  remember: boolean;
  sessions: number;
  timer: NodeJS.Timeout | undefined;
  passwordCheck: Buffer | undefined;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 15 * 60 * 1000;

/**
 * Unlocked alias keys, only in memory and only encrypted (XChaCha20-Poly1305 under a key made at
 * construction), so a heap dump or swapped page shows no raw alias key beside its ring.
 * Sessions acquire/release an alias; when the last one releases, an idle timer starts and then drops it.
 * get() returns a fresh copy each time: callers wipe() it when done. Timers are unref'd.
 */
export class KeyRing {
  readonly #processKey = randomBytes(32);
  readonly #hmacKey = randomBytes(32);
  readonly #entries = new Map<string, Entry>();
  readonly #idleTimeoutMs: number;
  readonly #onDrop: ((aliasId: string, reason: KeyRingDropReason) => void) | undefined;

  constructor(options: KeyRingOptions = {}) {
    const idle = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    if (!Number.isFinite(idle) || idle < 0) throw new Error('KeyRing idleTimeoutMs must be a non-negative number.');
    this.#idleTimeoutMs = idle;
    this.#onDrop = options.onDrop;
  }

  /** Stores (or replaces) an alias's unlocked material; the ring keeps its own encrypted copy. */
  put(aliasId: string, material: AliasMaterial, options: PutOptions = {}): void {
    if (material.mailboxKey.length !== 32) throw new Error('mailboxKey must be 32 bytes.');
    const plain = concatBytes(material.mailboxKey, material.privateKey);
    const wrapped = wrapSecret(this.#processKey, plain, aliasAad(aliasId));
    wipe(plain);
    const existing = this.#entries.get(aliasId);
    if (existing) {
      wipe(existing.wrapped);
      existing.wrapped = wrapped;
      existing.remember = options.remember ?? existing.remember;
      this.#schedule(aliasId, existing);
      return;
    }
    const entry: Entry = { wrapped, remember: options.remember ?? false, sessions: 0, timer: undefined, passwordCheck: undefined };
    this.#entries.set(aliasId, entry);
    this.#schedule(aliasId, entry);
  }

  /** A fresh decrypted copy of the alias's material, or null when it is locked. Wipe it after use. */
  get(aliasId: string): AliasMaterial | null {
    const entry = this.#entries.get(aliasId);
    if (!entry) return null;
    const plain = unwrapSecret(this.#processKey, entry.wrapped, aliasAad(aliasId));
    const mailboxKey = Buffer.alloc(32);
    plain.copy(mailboxKey, 0, 0, 32);
    const privateKey = new Uint8Array(plain.subarray(32));
    wipe(plain);
    return { mailboxKey, privateKey };
  }

  /** Whether the alias is unlocked. */
  has(aliasId: string): boolean {
    return this.#entries.has(aliasId);
  }

  /** Ids of unlocked aliases. */
  unlockedIds(): string[] {
    return [...this.#entries.keys()];
  }

  /** Whether the alias is held by "remember on this device". */
  isRemembered(aliasId: string): boolean {
    return this.#entries.get(aliasId)?.remember ?? false;
  }

  /** Number of open sessions holding the alias. */
  sessions(aliasId: string): number {
    return this.#entries.get(aliasId)?.sessions ?? 0;
  }

  /** A session starts using the alias (stops its idle timer). False when the alias is not unlocked. */
  acquire(aliasId: string): boolean {
    const entry = this.#entries.get(aliasId);
    if (!entry) return false;
    entry.sessions++;
    this.#schedule(aliasId, entry);
    return true;
  }

  /** A session ends; the idle timer starts when the last one has released. Extra releases are ignored. */
  release(aliasId: string): void {
    const entry = this.#entries.get(aliasId);
    if (!entry || entry.sessions === 0) return;
    entry.sessions--;
    this.#schedule(aliasId, entry);
  }

  /** Locks the alias now: wipes its material and password check, then calls onDrop. */
  drop(aliasId: string, reason: KeyRingDropReason = 'manual'): boolean {
    const entry = this.#entries.get(aliasId);
    if (!entry) return false;
    if (entry.timer) clearTimeout(entry.timer);
    wipe(entry.wrapped);
    wipe(entry.passwordCheck);
    this.#entries.delete(aliasId);
    try {
      this.#onDrop?.(aliasId, reason);
    } catch {
      // onDrop must not throw; a throwing callback must not stop other drops (dropAll) or crash a timer.
    }
    return true;
  }

  /** Locks every alias (shutdown). */
  dropAll(): void {
    for (const id of [...this.#entries.keys()]) this.drop(id, 'all');
  }

  /** Remembers a verified password so a repeat login skips argon2 (only while the alias stays unlocked). */
  rememberPassword(aliasId: string, password: string): boolean {
    const entry = this.#entries.get(aliasId);
    if (!entry) return false;
    wipe(entry.passwordCheck);
    entry.passwordCheck = this.#passwordMac(aliasId, password);
    return true;
  }

  /** Constant-time: is this the password remembered for the unlocked alias? False when none is cached. */
  checkCachedPassword(aliasId: string, password: string): boolean {
    const entry = this.#entries.get(aliasId);
    const mac = this.#passwordMac(aliasId, password);
    const ok = entry?.passwordCheck ? timingSafeEqual(mac, entry.passwordCheck) : false;
    wipe(mac);
    return ok;
  }

  /** Forgets the cached password check (call on password change). */
  forgetPassword(aliasId: string): void {
    const entry = this.#entries.get(aliasId);
    if (!entry) return;
    wipe(entry.passwordCheck);
    entry.passwordCheck = undefined;
  }

  #passwordMac(aliasId: string, password: string): Buffer {
    const id = new TextEncoder().encode(aliasId);
    const pw = new TextEncoder().encode(password.normalize('NFC'));
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, id.length);
    const msg = concatBytes(len, id, pw); // length prefix: ("ab","c") and ("a","bc") differ
    wipe(pw);
    const mac = asBuffer(hmac(sha256, this.#hmacKey, msg));
    wipe(msg);
    return mac;
  }

  #schedule(aliasId: string, entry: Entry): void {
    if (entry.timer) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
    }
    if (entry.sessions > 0 || entry.remember) return;
    entry.timer = setTimeout(() => {
      if (this.#entries.get(aliasId) === entry) this.drop(aliasId, 'idle');
    }, this.#idleTimeoutMs);
    entry.timer.unref();
  }
}

function aliasAad(aliasId: string): Uint8Array {
  return new TextEncoder().encode(`sealpost/keyring/v1/${aliasId}`);
}
