// The password-change recovery record. A change re-keys the mailbox file first and updates the directory
// row after; a crash between the two would leave the file under a key the stored verifier does not match.
// So before the re-key the directory (encrypted with the app key) gets a record holding both credential
// sets and each mailbox key wrapped under a key derived from the other one. Whichever of the two passwords
// is used next can then derive BOTH mailbox keys, find the one the file is under, and make file and
// directory agree with the password that was used ("the first password used after a crash wins").
// Nothing in it is more secret than what the directory row already holds: salts, verifiers, wrapped keys.
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { unwrapSecret, wrapSecret, type KdfParams } from '../crypto/index.js';

/** Directory setting holding the record of an interrupted change (one per alias, by id — never the address). */
export const pendingSettingKey = (aliasId: string): string => `accounts.pending-password:${aliasId}`;
export const PENDING_PREFIX = 'accounts.pending-password:';

export interface Credentials {
  readonly salt: Buffer;
  readonly kdf: KdfParams;
  readonly verifier: Buffer;
  readonly wrappedPrivateKey: Uint8Array;
}

export interface PendingChange {
  readonly old: Credentials;
  readonly next: Credentials;
  /** The new mailbox key, wrapped under recoveryKey(old mailbox key). */
  readonly nextKeyUnderOld: Buffer;
  /** The old mailbox key, wrapped under recoveryKey(new mailbox key). */
  readonly oldKeyUnderNext: Buffer;
}

/** A wrapping key derived from a mailbox key (never the mailbox key itself: one key, one purpose). */
function recoveryKey(mailboxKey: Uint8Array): Uint8Array {
  return hkdf(sha256, mailboxKey, undefined, new TextEncoder().encode('sealpost/password-change-recovery/v1'), 32);
}

const aad = (aliasId: string, which: 'old' | 'next'): Uint8Array => new TextEncoder().encode(`sealpost/pending-password/${which}/${aliasId}`);

export function makePendingChange(aliasId: string, old: Credentials, next: Credentials, oldMailboxKey: Buffer, nextMailboxKey: Buffer): PendingChange {
  return {
    old,
    next,
    nextKeyUnderOld: wrapSecret(recoveryKey(oldMailboxKey), nextMailboxKey, aad(aliasId, 'next')),
    oldKeyUnderNext: wrapSecret(recoveryKey(nextMailboxKey), oldMailboxKey, aad(aliasId, 'old')),
  };
}

/** Given the mailbox key of one side, the key of the other side. Throws SealError if the record was tampered with. */
export function otherMailboxKey(aliasId: string, pending: PendingChange, side: 'old' | 'next', mailboxKey: Buffer): Buffer {
  return side === 'old'
    ? unwrapSecret(recoveryKey(mailboxKey), pending.nextKeyUnderOld, aad(aliasId, 'next'))
    : unwrapSecret(recoveryKey(mailboxKey), pending.oldKeyUnderNext, aad(aliasId, 'old'));
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

function credsToJson(c: Credentials): Record<string, unknown> {
  return { salt: b64(c.salt), kdf: c.kdf, verifier: b64(c.verifier), wrappedPrivateKey: b64(c.wrappedPrivateKey) };
}

export function pendingToJson(p: PendingChange): Record<string, unknown> {
  return { v: 1, old: credsToJson(p.old), next: credsToJson(p.next), nextKeyUnderOld: b64(p.nextKeyUnderOld), oldKeyUnderNext: b64(p.oldKeyUnderNext) };
}

function bytesField(o: Record<string, unknown>, name: string): Buffer {
  const v = o[name];
  if (typeof v !== 'string') throw new Error(`pending password change: ${name} missing`);
  return Buffer.from(v, 'base64');
}

function credsFromJson(value: unknown): Credentials {
  if (!value || typeof value !== 'object') throw new Error('pending password change: credentials missing');
  const o = value as Record<string, unknown>;
  const kdf = o.kdf as KdfParams | undefined;
  if (!kdf || typeof kdf !== 'object') throw new Error('pending password change: kdf missing');
  return { salt: bytesField(o, 'salt'), kdf, verifier: bytesField(o, 'verifier'), wrappedPrivateKey: bytesField(o, 'wrappedPrivateKey') };
}

/** Parses the stored record; null when absent. A malformed record throws (it is never silently dropped). */
export function pendingFromJson(value: unknown): PendingChange | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || (value as { v?: unknown }).v !== 1) throw new Error('pending password change: unknown record version');
  const o = value as Record<string, unknown>;
  return { old: credsFromJson(o.old), next: credsFromJson(o.next), nextKeyUnderOld: bytesField(o, 'nextKeyUnderOld'), oldKeyUnderNext: bytesField(o, 'oldKeyUnderNext') };
}

/** TESTS ONLY (SEALPOST_TEST=1): SIGKILL this process at a named point of a password change. */
export type CrashPoint = 'pending-saved' | 'rekeyed' | 'committed';

export function crashPointForTest(point: CrashPoint): void {
  if (process.env.SEALPOST_TEST !== '1' || process.env.SEALPOST_TEST_CRASH_AT !== point) return;
  process.kill(process.pid, 'SIGKILL');
}
