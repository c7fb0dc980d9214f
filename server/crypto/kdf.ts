// Password → alias keys: argon2id (native, @node-rs/argon2) to a 32-byte master, then HKDF-SHA256 splits it.
import { hashRaw, type Algorithm } from '@node-rs/argon2';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { AliasKeys, KdfParams } from './types.js';
import { asBuffer, randomBytes, wipe } from './bytes.js';

/**
 * Default argon2id cost for new aliases: 64 MiB, 3 passes, 1 lane (≈ OWASP/RFC 9106 "second
 * recommended" memory-constrained profile). Measured 70–250 ms per derivation on the 2-core build
 * machine (low figure nearly idle, high figure at load ≈ 10; `npm run bench -- crypto`). Each concurrent derivation holds 64 MiB on one libuv
 * worker thread (4 by default), so the peak is ≈ 256 MiB. Stored per alias, so it can be raised.
 */
export const DEFAULT_KDF: KdfParams = Object.freeze({
  algorithm: 'argon2id',
  memoryKiB: 64 * 1024,
  iterations: 3,
  parallelism: 1,
});

/** Length of the per-alias salt made by newSalt(). */
export const SALT_BYTES = 16;

// HKDF info labels: one per derived key; never reuse a label for another purpose.
const INFO_MAILBOX = new TextEncoder().encode('sealpost/alias/v1/mailbox-key');
const INFO_VERIFIER = new TextEncoder().encode('sealpost/alias/v1/verifier');
const INFO_WRAPPING = new TextEncoder().encode('sealpost/alias/v1/wrapping-key');
const INFO_APP_VERIFIER = new TextEncoder().encode('sealpost/app-password/v1/verifier');
const INFO_APP_WRAPPING = new TextEncoder().encode('sealpost/app-password/v1/wrapping-key');

const ARGON2ID = 2 as Algorithm; // const enum in the .d.ts; the runtime object is empty.

/** 16 fresh random bytes for a new alias (or a password change). */
export function newSalt(): Buffer {
  return randomBytes(SALT_BYTES);
}

function checkParams(params: KdfParams): void {
  if (params.algorithm !== 'argon2id') throw new Error(`Unsupported KDF algorithm "${String(params.algorithm)}".`);
  const int = (n: number, min: number, max: number): boolean => Number.isInteger(n) && n >= min && n <= max;
  if (!int(params.parallelism, 1, 255)) throw new Error('KDF parallelism must be an integer from 1 to 255.');
  if (!int(params.iterations, 1, 1000)) throw new Error('KDF iterations must be an integer from 1 to 1000.');
  if (!int(params.memoryKiB, 8 * params.parallelism, 4 * 1024 * 1024)) {
    throw new Error('KDF memory must be an integer number of KiB from 8×parallelism to 4 GiB.');
  }
}

/** Normalizes a password so the same characters typed on any platform derive the same key. */
function passwordBytes(password: string | Uint8Array): Uint8Array {
  return typeof password === 'string' ? asBuffer(new TextEncoder().encode(password.normalize('NFC'))) : password;
}

/** Raw argon2id master (32 bytes) of a password; the caller must wipe it. */
export async function argon2idMaster(password: string | Uint8Array, salt: Uint8Array, params: KdfParams): Promise<Buffer> {
  checkParams(params);
  if (salt.length < 8) throw new Error('KDF salt must be at least 8 bytes.');
  const pw = passwordBytes(password);
  try {
    return await hashRaw(pw, {
      algorithm: ARGON2ID,
      memoryCost: params.memoryKiB,
      timeCost: params.iterations,
      parallelism: params.parallelism,
      outputLen: 32,
      salt,
    });
  } finally {
    if (typeof password === 'string') wipe(pw);
  }
}

/** Splits a 32-byte master into the alias's three keys (HKDF-SHA256, distinct info labels). */
export function splitMaster(master: Uint8Array): AliasKeys {
  if (master.length !== 32) throw new Error('Alias master key must be 32 bytes.');
  return {
    mailboxKey: asBuffer(hkdf(sha256, master, undefined, INFO_MAILBOX, 32)),
    verifier: asBuffer(hkdf(sha256, master, undefined, INFO_VERIFIER, 32)),
    wrappingKey: asBuffer(hkdf(sha256, master, undefined, INFO_WRAPPING, 32)),
  };
}

/** argon2id(password, salt, params) → 32-byte master → { mailboxKey, verifier, wrappingKey }; the master is wiped. */
export async function deriveAliasKeys(password: string | Uint8Array, salt: Uint8Array, params: KdfParams): Promise<AliasKeys> {
  const master = await argon2idMaster(password, salt, params);
  try {
    return splitMaster(master);
  } finally {
    wipe(master);
  }
}

/** The two keys of an app password: its verifier (stored) and the key that wraps its own sealing private key. */
export interface AppPasswordKeys {
  readonly verifier: Buffer;
  readonly wrappingKey: Buffer;
}

/**
 * argon2id(app password, the alias's app-password salt, params) → HKDF-SHA256 with labels of their own, so an
 * app password's keys never equal an alias password's even for the same bytes and salt; the master is wiped.
 */
export async function deriveAppPasswordKeys(password: string, salt: Uint8Array, params: KdfParams): Promise<AppPasswordKeys> {
  const master = await argon2idMaster(password, salt, params);
  try {
    return {
      verifier: asBuffer(hkdf(sha256, master, undefined, INFO_APP_VERIFIER, 32)),
      wrappingKey: asBuffer(hkdf(sha256, master, undefined, INFO_APP_WRAPPING, 32)),
    };
  } finally {
    wipe(master);
  }
}
