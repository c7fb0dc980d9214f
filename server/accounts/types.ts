// The shapes accounts/ shares with its callers (sessions, delivery, the sealed queue port) and the core
// its parts are built on.
import type { KdfParams, KeyRing } from '../crypto/index.js';
import type { AliasRecord, Directory } from '../directory/index.js';
import type { Logger } from '../log.js';
import type { Mailbox, MailboxId, MailboxStore } from '../mailbox/types.js';
import type { AppPasswordLimits } from './app-passwords.js';
import type { PlacedCopy } from './append.js';
import type { DeliveryFilter } from './delivery-filter.js';
import type { RevokeReason } from './sessions.js';
import type { ThrottlePolicy } from './throttle.js';
import type { AliasUsage } from './usage.js';

export type LoginProtocol = 'imap' | 'pop3' | 'managesieve' | 'submission' | 'admin' | 'cli';

export interface LoginContext {
  readonly ip: string;
  readonly protocol: LoginProtocol;
}

/** A logged-in session's hold on an unlocked mailbox. Call release() once when the session ends. */
export interface AliasSession {
  readonly alias: AliasRecord;
  readonly mailbox: Mailbox;
  release(): void;
  /**
   * The server ends this session (password changed, alias locked or removed, mailbox restored): the
   * protocol closes its connection (IMAP BYE, POP3 close) in the listener. Called at most once.
   */
  onRevoked?(listener: (reason: RevokeReason) => void): void;
}

/** Metadata sealed with a queued message (never contains the message itself). */
export interface QueuedDeliveryMeta {
  readonly folder?: string;
  readonly flags?: readonly string[];
  readonly receivedAt: Date;
  /** SMTP MAIL FROM ('' for a bounce) and the RCPT TO this copy came for; absent for mail not from the MX. */
  readonly envelope?: { readonly from: string; readonly to: string };
}

export type DeliveryOptions = QueuedDeliveryMeta;

export interface DeliveryResult {
  /** 'mailbox': appended now; 'queue': sealed into the alias queue until the next unlock. */
  readonly stored: 'mailbox' | 'queue';
  /** UID of the first stored copy (stored 'mailbox'); absent when a filter discarded the message. */
  readonly uid?: number;
  /** Every copy stored now (stored 'mailbox'): the delivery filters may file it elsewhere, or in several folders. */
  readonly placed?: readonly PlacedCopy[];
}

/** One message taken out of the sealed queue for delivery. */
export interface DrainedMessage {
  /** Stable id of the queued item (use it to make a retried delivery idempotent). */
  readonly id: string;
  readonly raw: Buffer;
  readonly meta: QueuedDeliveryMeta;
}

/** The parts of server/queue that Accounts needs. */
export interface SealedQueuePort {
  /** Seals raw to the alias public key and stores it durably (fsync) before resolving. */
  enqueue(mailboxId: MailboxId, publicKey: Uint8Array, raw: Buffer, meta: QueuedDeliveryMeta): Promise<string>;
  /** Number of messages waiting for this mailbox. */
  count(mailboxId: MailboxId): number;
  /**
   * Unseals each waiting message in order and calls deliver (up to `concurrency` at once, started in
   * order); an item is deleted only after its deliver resolved. A failed deliver stops the drain (rethrown).
   */
  drain(mailboxId: MailboxId, privateKey: Uint8Array, deliver: (message: DrainedMessage) => Promise<void>, options?: { readonly concurrency?: number }): Promise<number>;
  /** Seals one message for several mailboxes: all durable, or none left behind (absent: one at a time). */
  enqueueMany?(items: readonly { mailboxId: string; publicKey: Uint8Array; raw: Uint8Array; meta: QueuedDeliveryMeta }[]): Promise<string[]>;
  /** Deletes the alias's queue file (alias removal). */
  remove(mailboxId: MailboxId): Promise<void>;
  /** Closes open queue files. */
  close(): void | Promise<void>;
}

export interface AccountsOptions {
  readonly directory: Directory;
  readonly mailboxes: MailboxStore;
  readonly keyRing: KeyRing;
  readonly queue: SealedQueuePort | null;
  readonly logger: Logger;
  /** KDF cost for new aliases and password changes (default DEFAULT_KDF). */
  readonly kdf?: KdfParams;
  readonly throttle?: Partial<ThrottlePolicy>;
  /** The login throttle's clock in ms (default Date.now); tests freeze it so lock-outs never expire mid-test. */
  readonly throttleClock?: () => number;
  /** Caps on app passwords (default DEFAULT_APP_PASSWORD_LIMITS; SEALPOST_APP_PASSWORD*). */
  readonly appPasswords?: Partial<AppPasswordLimits>;
  /** Appends in flight while the sealed queue drains (default DRAIN_CONCURRENCY). */
  readonly drainConcurrency?: number;
  /** Decide where delivered and drained messages go (junk classifier, Sieve), in order; none by default. */
  readonly deliveryFilters?: readonly DeliveryFilter[];
}

export interface CreateAliasOptions {
  /** Quota in bytes; null/undefined = unlimited. */
  readonly quotaBytes?: number | null;
}

export interface CreatedAlias {
  readonly alias: AliasRecord;
  /** Only when Sealpost generated the password: show it once, it is not stored anywhere. */
  readonly password?: string;
}

/** What every part of accounts/ is built on; the Accounts facade makes one and hands it to each part. */
export interface AccountsCore {
  readonly directory: Directory;
  readonly mailboxes: MailboxStore;
  readonly keyRing: KeyRing;
  readonly queue: SealedQueuePort | null;
  readonly logger: Logger;
  /** KDF cost for new aliases and password changes. */
  readonly kdf: KdfParams;
  /** Last-known usage per alias, for quota checks while a mailbox is locked. */
  readonly usage: AliasUsage;
  /** Run on every message entering an unlocked mailbox (delivered now or drained). */
  readonly deliveryFilters: readonly DeliveryFilter[];
  /** Ends every live protocol session of the alias (IMAP BYE, POP3 close) and logs it; returns how many. */
  revokeSessions(aliasId: string, reason: RevokeReason): number;
}
