// Accounts: the glue every protocol uses to create aliases, change passwords, log in (unlock, then the
// sealed queue drains in the background) and deliver mail to an alias whether its mailbox is unlocked or
// not. Logs ids, never addresses.
import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../config/errors.js';
import {
  DEFAULT_KDF,
  checkPasswordStrength,
  deriveAliasKeys,
  generatePassword,
  generateSealKeyPair,
  newSalt,
  timingSafeEqual,
  unwrapSecret,
  wipe,
  wrapSecret,
  type AliasKeys,
  type AliasMaterial,
  type KdfParams,
  type KeyRing,
} from '../crypto/index.js';
import type { AliasId, AliasRecord, Directory } from '../directory/index.js';
import { normalizeAddress } from '../directory/index.js';
import type { Logger } from '../log.js';
import { MailboxLocked, NoSuchFolder, OverQuota, WrongKey } from '../mailbox/errors.js';
import type { AppendOptions, AppendResult, Mailbox, MailboxId, MailboxStore } from '../mailbox/types.js';
import type { SecurityProtocol } from '../security-log.js';
import { logSecurityEvent } from '../security-log.js';
import { DEFAULT_THROTTLE, LoginThrottle, normalizeIp, type ThrottlePolicy } from './throttle.js';
import { crashPointForTest, makePendingChange, otherMailboxKey, pendingFromJson, pendingSettingKey, pendingToJson, PENDING_PREFIX, type Credentials, type PendingChange } from './recovery.js';
import { SessionRegistry, type RevokeReason } from './sessions.js';
import { AliasUsage } from './usage.js';
import { drainRetryDelayMs, readStalledDrain, writeStalledDrain, type DrainProgress, type DrainState } from './drain.js';

export { DEFAULT_THROTTLE, LoginThrottle, isThrottleExempt, loginThrottleFromEnv, type ThrottlePolicy } from './throttle.js';
export type { RevokeReason } from './sessions.js';
export { AliasUsage, type QuotaReservation, type UsageSnapshot } from './usage.js';
export { describeDrain, type DrainProgress, type DrainState } from './drain.js';

/** Wrong address or password, or a disabled alias (deliberately indistinguishable to the client). */
export class AuthFailed extends UserError {
  constructor() {
    super('Invalid address or password.', 'AUTH_FAILED');
  }
}

/** Too many failed logins from this IP or for this alias; retry after retryAfterMs. */
export class TooManyAttempts extends UserError {
  constructor(readonly retryAfterMs: number) {
    super(`Too many failed logins; try again in ${Math.max(1, Math.ceil(retryAfterMs / 60_000))} minute(s).`, 'TOO_MANY_ATTEMPTS');
  }
}

/** Why a login was refused, for each protocol's own reply (POP3 -ERR, SMTP 535/454, …). */
export type LoginRefusal = 'invalid-credentials' | 'too-many-attempts';

/** The refusal an authenticate() error stands for, or null when it is an internal failure (not the client's fault). */
export function loginRefusal(error: unknown): LoginRefusal | null {
  if (error instanceof TooManyAttempts) return 'too-many-attempts';
  if (error instanceof AuthFailed) return 'invalid-credentials';
  return null;
}

export class WeakPassword extends UserError {
  constructor(reason: string) {
    super(reason, 'WEAK_PASSWORD');
  }
}

/** An admin password change needs the mailbox key: the alias must be unlocked, or the current password given. */
export class AliasLocked extends UserError {
  constructor(address: string) {
    super(`The mailbox of ${address} is locked; give its current password (or unlock it first) to change the password.`, 'ALIAS_LOCKED');
  }
}

export type LoginProtocol = 'imap' | 'pop3' | 'submission' | 'admin' | 'cli';

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
}

export type DeliveryOptions = QueuedDeliveryMeta;

export interface DeliveryResult {
  /** 'mailbox': appended now; 'queue': sealed into the alias queue until the next unlock. */
  readonly stored: 'mailbox' | 'queue';
  readonly uid?: number;
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
  /** Appends in flight while the sealed queue drains (default DRAIN_CONCURRENCY). */
  readonly drainConcurrency?: number;
}

/** How long unlock() (not a protocol login) waits for the drain it starts. */
export const UNLOCK_DRAIN_WAIT_MS = 10_000;

/** Appends in flight while a queue drains: enough to fill the mailbox's group commit, bounded. */
export const DRAIN_CONCURRENCY = 32;

/** A drain found the alias's keys dropped (locked, removed): it stops, the rest stays queued. */
class DrainStopped extends Error {
  constructor() {
    super('the mailbox was locked during the drain');
    this.name = 'DrainStopped';
  }
}

/** One alias's drain as this process knows it. */
interface DrainRecord {
  readonly mailboxId: MailboxId;
  state: DrainState;
  drained: number;
  /** Messages waiting when the current pass began, and `drained` then: "to go" without the lag of batched row deletes. */
  passQueued: number;
  passDrained: number;
  since: Date;
  error?: string;
  /** Mailbox usage when the drain stopped over quota: a drop below it (expunge) resumes the drain. */
  usedAtStop?: number;
  /** Consecutive failed attempts (retry back-off). */
  failures: number;
  retry?: NodeJS.Timeout;
}

/** A running drain; `again` asks it for one more pass when it ends (a login or unlock while it ran). */
interface RunningDrain {
  again: boolean;
  readonly done: Promise<void>;
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

/** The store's idempotent append (not part of the Mailbox contract, so detected at run time). */
interface IdempotentAppend {
  appendOnce(folder: string, raw: Buffer, options: AppendOptions & { readonly dedupeKey: string }): Promise<AppendResult>;
}

function hasAppendOnce(mailbox: Mailbox): mailbox is Mailbox & IdempotentAppend {
  return typeof (mailbox as Partial<IdempotentAppend>).appendOnce === 'function';
}

function privateKeyAad(aliasId: string): Uint8Array {
  return new TextEncoder().encode(`sealpost/alias-private-key/v1/${aliasId}`);
}

export class Accounts {
  private readonly directory: Directory;
  private readonly mailboxes: MailboxStore;
  private readonly keyRing: KeyRing;
  private readonly queue: SealedQueuePort | null;
  private readonly logger: Logger;
  private readonly kdf: KdfParams;
  private readonly throttle: LoginThrottle;
  private readonly drains = new Map<string, RunningDrain>();
  private readonly drainRecords = new Map<string, DrainRecord>();
  private readonly drainConcurrency: number;
  private readonly sessions: SessionRegistry;
  /** Recoveries of interrupted password changes in progress (one per alias at a time). */
  private readonly recovering = new Map<string, Promise<unknown>>();
  /** Last-known usage per alias (directory), for quota checks while a mailbox is locked. */
  readonly usage: AliasUsage;

  constructor(options: AccountsOptions) {
    this.directory = options.directory;
    this.mailboxes = options.mailboxes;
    this.keyRing = options.keyRing;
    this.queue = options.queue;
    this.logger = options.logger;
    this.kdf = options.kdf ?? DEFAULT_KDF;
    this.throttle = new LoginThrottle({ ...DEFAULT_THROTTLE, ...options.throttle }, options.throttleClock);
    this.usage = new AliasUsage({ directory: this.directory, mailboxes: this.mailboxes, keyRing: this.keyRing, logger: this.logger });
    this.drainConcurrency = Math.max(1, Math.floor(options.drainConcurrency ?? DRAIN_CONCURRENCY));
    // A drain stopped over quota resumes once the owner frees space (EXPUNGE, folder delete, move out).
    this.mailboxes.onChange((event) => this.resumeDrainIfFreed(event.mailboxId));
    this.sessions = new SessionRegistry((error) =>
      this.logger.warn({ event: 'session.revoke_failed', err: error instanceof Error ? error.message : String(error) }, 'a session did not close cleanly'),
    );
  }

  /**
   * Creates an alias and its encrypted mailbox. Without a password one is generated (returned once).
   * Throws InvalidAddress, UnknownDomain, AliasExists, WeakPassword. A half-made mailbox file is removed on failure.
   */
  async createAlias(address: string, password?: string | null, options: CreateAliasOptions = {}): Promise<CreatedAlias> {
    const normalized = this.directory.validateNewAddress(address);
    const generated = password === undefined || password === null;
    const secret = generated ? generatePassword() : password;
    if (!generated) {
      const weakness = checkPasswordStrength(secret, { address: normalized.address });
      if (weakness) throw new WeakPassword(weakness);
    }
    if (options.quotaBytes !== undefined && options.quotaBytes !== null && !(Number.isSafeInteger(options.quotaBytes) && options.quotaBytes > 0)) {
      throw new UserError('The quota must be a positive number of bytes.', 'BAD_QUOTA');
    }
    const aliasId = crypto.randomUUID() as AliasId;
    const mailboxId = crypto.randomUUID() as MailboxId;
    const salt = newSalt();
    const keys = await deriveAliasKeys(secret, salt, this.kdf);
    const pair = generateSealKeyPair();
    try {
      const wrappedPrivateKey = wrapSecret(keys.wrappingKey, pair.privateKey, privateKeyAad(aliasId));
      await this.mailboxes.create(mailboxId, keys.mailboxKey, options.quotaBytes ?? null);
      try {
        const alias = this.directory.insertAlias({
          id: aliasId,
          address: normalized.address,
          mailboxId,
          salt,
          kdf: this.kdf,
          verifier: keys.verifier,
          publicKey: pair.publicKey,
          wrappedPrivateKey,
          quotaBytes: options.quotaBytes ?? null,
        });
        this.logger.info({ event: 'alias.created', aliasId, mailboxId }, 'alias created');
        return generated ? { alias, password: secret } : { alias };
      } catch (error) {
        await this.mailboxes.remove(mailboxId).catch(() => undefined);
        throw error;
      }
    } finally {
      wipe(keys.mailboxKey);
      wipe(keys.wrappingKey);
      wipe(pair.privateKey);
    }
  }

  /**
   * Changes an alias password and re-keys its mailbox. oldPassword null = admin change, which needs the
   * alias unlocked (its keys in the key ring). newPassword null/undefined = generate one (returned once).
   */
  async changePassword(address: string, oldPassword: string | null, newPassword?: string | null): Promise<{ password?: string }> {
    let alias = this.directory.requireAlias(address);
    const generated = newPassword === undefined || newPassword === null;
    const secret = generated ? generatePassword() : newPassword;
    if (!generated) {
      const weakness = checkPasswordStrength(secret, { address: alias.address });
      if (weakness) throw new WeakPassword(weakness);
    }
    let material: AliasMaterial | null;
    if (oldPassword !== null) {
      material = await this.verifyPassword(alias, oldPassword); // also finishes an earlier interrupted change
      if (!material) throw new AuthFailed();
      alias = this.directory.requireAlias(address);
    } else {
      if (this.directory.getSetting(pendingSettingKey(alias.id)) !== undefined) throw new AliasLocked(alias.displayAddress); // needs a password to resolve
      material = this.keyRing.get(alias.id);
      if (!material) throw new AliasLocked(alias.displayAddress);
    }
    const salt = newSalt();
    const keys = await deriveAliasKeys(secret, salt, this.kdf);
    const pendingKey = pendingSettingKey(alias.id);
    try {
      const wrappedPrivateKey = wrapSecret(keys.wrappingKey, material.privateKey, privateKeyAad(alias.id));
      const next: Credentials = { salt, kdf: this.kdf, verifier: keys.verifier, wrappedPrivateKey };
      // Recovery record first (durable in the directory): a crash between the re-key of the file and the
      // row update below is resolved at the next login with either password (see recovery.ts).
      const pending = makePendingChange(alias.id, credentialsOf(alias), next, material.mailboxKey, keys.mailboxKey);
      this.directory.setSetting(pendingKey, pendingToJson(pending));
      crashPointForTest('pending-saved');
      // Sessions holding the old key end now (IMAP BYE, POP3 close) instead of failing on a closed handle.
      this.revokeSessions(alias.id, 'password-changed');
      try {
        await this.mailboxes.rekey(alias.mailboxId, material.mailboxKey, keys.mailboxKey);
      } catch (error) {
        await this.settleFailedRekey(alias, material.mailboxKey);
        throw error;
      }
      crashPointForTest('rekeyed');
      try {
        this.directory.transaction(() => {
          this.directory.updateAliasKeys(alias.id, next);
          this.directory.setSetting(pendingKey, undefined);
        });
      } catch (error) {
        // The directory refused (busy, disk full): put the old key back so the old password keeps working.
        await this.mailboxes.rekey(alias.mailboxId, keys.mailboxKey, material.mailboxKey);
        this.clearPending(alias.id);
        throw error;
      }
      crashPointForTest('committed');
      this.keyRing.forgetPassword(alias.id);
      if (this.keyRing.has(alias.id)) {
        this.keyRing.put(alias.id, { mailboxKey: keys.mailboxKey, privateKey: material.privateKey });
        // Mail that arrived during the re-key was sealed into the queue: bring it in now.
        this.drainInBackground(alias);
      }
      this.logger.info({ event: 'alias.password_changed', aliasId: alias.id }, 'alias password changed');
      return generated ? { password: secret } : {};
    } finally {
      wipe(keys.mailboxKey);
      wipe(keys.wrappingKey);
      wipe(material.mailboxKey);
      wipe(material.privateKey);
    }
  }

  /** Ends every live protocol session of the alias (IMAP BYE, POP3 close); returns how many. */
  revokeSessions(aliasId: string, reason: RevokeReason): number {
    const told = this.sessions.revoke(aliasId, reason);
    if (told > 0) this.logger.info({ event: 'session.revoked', aliasId, reason, sessions: told }, 'sessions ended');
    return told;
  }

  /** Same, by mailbox id (a restore knows only the mailbox). */
  revokeMailboxSessions(mailboxId: string, reason: RevokeReason): number {
    const told = this.sessions.revokeMailbox(mailboxId, reason);
    if (told > 0) this.logger.info({ event: 'session.revoked', mailboxId, reason, sessions: told }, 'sessions ended');
    return told;
  }

  /** Ids of aliases whose password change was interrupted (resolved at their next login). */
  pendingPasswordChanges(): string[] {
    return Object.keys(this.directory.getSettings())
      .filter((key) => key.startsWith(PENDING_PREFIX))
      .map((key) => key.slice(PENDING_PREFIX.length));
  }

  /**
   * Logs in: throttling, password check (cached for repeat logins, else argon2id + verifier), keys into the
   * key ring, mailbox opened. The sealed queue then drains in the background: the login answers at once
   * and can never fail because of the drain (messages appear as they land; see drainStatus()).
   * Throws AuthFailed or TooManyAttempts.
   */
  async authenticate(address: string, password: string, context: LoginContext): Promise<AliasSession> {
    const alias = await this.checkLogin(address, password, context);
    if (!this.keyRing.acquire(alias.id)) throw new AuthFailed(); // dropped between check and acquire (idle timer)
    const live = this.sessions.add(alias.id, alias.mailboxId);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      live.remove();
      this.keyRing.release(alias.id);
    };
    try {
      const mailbox = await this.openMailbox(alias);
      this.drainInBackground(alias);
      this.logger.info({ event: 'auth.ok', aliasId: alias.id, protocol: context.protocol }, 'login');
      return { alias, mailbox, release, onRevoked: live.onRevoked };
    } catch (error) {
      release();
      throw error;
    }
  }

  /**
   * Unlocks an alias without a session (admin UI "unlock", CLI operations that need the key such as backup
   * or export); its queue drains in the background. It waits up to UNLOCK_DRAIN_WAIT_MS for that drain, so
   * what the caller reads next includes a small queue; a large one keeps draining after it returns, and a
   * drain error never fails the unlock. Returns the alias.
   */
  async unlock(address: string, password: string, context: LoginContext = { ip: 'local', protocol: 'admin' }): Promise<AliasRecord> {
    const alias = await this.checkLogin(address, password, context);
    this.keyRing.acquire(alias.id);
    try {
      await this.openMailbox(alias);
      this.drainInBackground(alias);
      await this.whenDrained(alias.id, UNLOCK_DRAIN_WAIT_MS);
    } finally {
      this.keyRing.release(alias.id); // starts the idle timer
    }
    this.logger.info({ event: 'alias.unlocked', aliasId: alias.id }, 'alias unlocked');
    return alias;
  }

  /** Drops the keys of one alias (by id) or of all, ends their sessions and closes their mailboxes. */
  async lock(aliasId: AliasId | 'all'): Promise<void> {
    const ids = aliasId === 'all' ? this.keyRing.unlockedIds() : [aliasId];
    for (const id of ids) {
      this.revokeSessions(id, 'locked');
      this.keyRing.drop(id, 'manual');
    }
    // A running drain sees the keys gone and stops after its appends in flight; then the file closes.
    await Promise.all(ids.map((id) => this.drains.get(id)?.done));
    await Promise.all(ids.map((id) => this.closeMailboxOf(id)));
  }

  /**
   * Unlocks an alias with material it already has (a key remembered on this device): into the key ring,
   * mailbox opened (WrongKey if the key is stale), sealed queue drained in the background. remember keeps
   * it from idling out.
   */
  async unlockWithMaterial(alias: AliasRecord, material: AliasMaterial, options: { remember?: boolean } = {}): Promise<void> {
    await this.mailboxes.open(alias.mailboxId, material.mailboxKey);
    this.keyRing.put(alias.id, material, { remember: options.remember ?? false });
    this.drainInBackground(alias);
  }

  isUnlocked(aliasId: AliasId): boolean {
    return this.keyRing.has(aliasId);
  }

  /** Key ring onDrop hook: closes the mailbox of an alias whose keys were dropped (idle timeout). */
  handleKeysDropped(aliasId: string): void {
    this.closeMailboxOf(aliasId).catch((error: unknown) => {
      this.logger.warn({ event: 'mailbox.close_failed', aliasId, err: error instanceof Error ? error.message : String(error) }, 'closing a mailbox failed');
    });
  }

  /**
   * Delivers a message for MX/DSN: appended to the folder (default INBOX) when the alias is unlocked,
   * else sealed into its queue. Durable (fsync) before it resolves. Over the quota it throws OverQuota and
   * stores nothing: unlocked, the mailbox checks inside its commit; sealed, the room is reserved in the
   * same synchronous step as the check (AliasUsage.reserve), so parallel deliveries cannot overshoot.
   */
  async deliverOrQueue(alias: AliasRecord, raw: Buffer, options: DeliveryOptions): Promise<DeliveryResult> {
    const material = this.keyRing.get(alias.id);
    if (material) {
      try {
        const mailbox = await this.mailboxes.open(alias.mailboxId, material.mailboxKey);
        const uid = await this.appendTo(mailbox, raw, options);
        return { stored: 'mailbox', uid };
      } catch (error) {
        // Re-key, restore or lock in progress (handle closed, file under another key): nothing was written,
        // so seal it into the queue instead of refusing; the next unlock drains it.
        if (!(error instanceof MailboxLocked || error instanceof WrongKey) || !this.queue) throw error;
        this.logger.info({ event: 'delivery.queued_while_busy', aliasId: alias.id, reason: error.code }, 'mailbox busy: message sealed into the queue');
      } finally {
        wipe(material.mailboxKey);
        wipe(material.privateKey);
      }
    }
    const queue = this.queue;
    if (!queue) throw new Error('the sealed queue is not available');
    await this.sealWithReservation([alias], raw.length, () => queue.enqueue(alias.mailboxId, alias.publicKey, raw, options));
    return { stored: 'queue' };
  }

  /**
   * Seals one message for several locked aliases: all durable or none (needs the queue's enqueueMany),
   * each within its quota (else OverQuota and nothing stored for any).
   */
  async queueForMany(aliases: readonly AliasRecord[], raw: Buffer, options: DeliveryOptions): Promise<void> {
    const queue = this.queue;
    if (!queue?.enqueueMany) throw new Error('the sealed queue cannot store one message for several aliases at once');
    const enqueueMany = queue.enqueueMany.bind(queue);
    await this.sealWithReservation(aliases, raw.length, () => enqueueMany(aliases.map((a) => ({ mailboxId: a.mailboxId, publicKey: a.publicKey, raw, meta: options }))));
  }

  /** Reserves quota room for every alias (synchronously, all or none), runs seal, then turns the room into queued bytes. */
  private async sealWithReservation(aliases: readonly AliasRecord[], bytes: number, seal: () => Promise<unknown>): Promise<void> {
    const reservations = [];
    for (const alias of aliases) {
      const reservation = this.usage.reserve(alias, bytes);
      if (!reservation) {
        for (const r of reservations) r.release();
        this.logger.info({ event: 'delivery.over_quota', aliasId: alias.id }, 'message refused: the locked mailbox would exceed its quota');
        throw new OverQuota();
      }
      reservations.push(reservation);
    }
    try {
      await seal();
    } catch (error) {
      for (const r of reservations) r.release();
      throw error;
    }
    for (const r of reservations) r.sealed();
  }

  /**
   * Where the sealed queue of an alias stands: waiting count, messages stored by the current/last drain,
   * and the state (a stall — over quota, error — is also known across processes through the directory).
   */
  drainStatus(alias: AliasRecord): DrainProgress {
    const record = this.drainRecords.get(alias.id);
    // While draining, rows are deleted in batches after their appends: count what is really still to go.
    const waiting = this.queuedCount(alias);
    const queued = record?.state === 'draining' ? Math.min(waiting, Math.max(0, record.passQueued - (record.drained - record.passDrained))) : waiting;
    if (record && record.state !== 'idle') {
      return { state: record.state, queued, drained: record.drained, since: record.since.toISOString(), ...(record.error ? { error: record.error } : {}) };
    }
    // Not running here: a stall recorded by this or another process (the CLI, before a restart).
    const stalled = queued > 0 ? this.safeStalled(alias.id) : null;
    if (stalled) return { state: stalled.state, queued, drained: 0, since: stalled.since, ...(stalled.error ? { error: stalled.error } : {}) };
    return { state: 'idle', queued, drained: record?.drained ?? 0, since: record ? record.since.toISOString() : null };
  }

  /**
   * Resolves when no drain of the alias is running (true), or after timeoutMs (false) — POP3 waits a
   * little for a small queue (its maildrop is fixed at login); tests wait for a drain to settle.
   */
  async whenDrained(aliasId: string, timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    for (;;) {
      const running = this.drains.get(aliasId);
      if (!running) return true;
      if (!Number.isFinite(timeoutMs)) {
        await running.done;
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        running.done.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), Math.max(0, timeoutMs));
          timer.unref();
        }),
      ]);
      if (timer) clearTimeout(timer);
      if (timedOut) return false;
      return !this.drains.has(aliasId);
    }
  }

  /** Number of sealed messages waiting for the alias. */
  queuedCount(alias: AliasRecord): number {
    return this.queue ? this.queue.count(alias.mailboxId) : 0;
  }

  /** Deletes an alias: directory row, mailbox file, queue file, keys. */
  async removeAlias(address: string): Promise<AliasRecord> {
    const alias = this.directory.requireAlias(address);
    this.revokeSessions(alias.id, 'removed');
    this.keyRing.drop(alias.id, 'manual');
    this.directory.deleteAlias(alias.id);
    this.clearPending(alias.id);
    await this.drains.get(alias.id)?.done;
    this.forgetDrain(alias.id);
    await this.mailboxes.remove(alias.mailboxId);
    if (this.queue) await this.queue.remove(alias.mailboxId);
    this.logger.info({ event: 'alias.removed', aliasId: alias.id, mailboxId: alias.mailboxId }, 'alias removed');
    return alias;
  }

  // ── internals ──────────────────────────────────────────────────────────

  /** Throttle + password check; on success the alias keys are in the key ring. */
  private async checkLogin(address: string, password: string, context: LoginContext): Promise<AliasRecord> {
    let aliasKey: string;
    try {
      aliasKey = normalizeAddress(address).address;
    } catch {
      aliasKey = `invalid:${address.trim().toLowerCase().slice(0, 320)}`;
    }
    const ip = normalizeIp(context.ip);
    const protocol = securityProtocolOf(context.protocol);
    const state = this.throttle.check(ip, aliasKey);
    if (state.lockedForMs > 0) {
      logSecurityEvent(this.logger, 'auth.lockout', { ip, protocol, reason: state.scope === 'ip' ? 'ip-locked' : 'pair-locked', detail: { retryAfterS: Math.ceil(state.lockedForMs / 1000) } });
      throw new TooManyAttempts(state.lockedForMs);
    }
    // Many IPs failing on this alias: an IP its owner has not logged in from waits before its password is checked.
    if (state.slowdownMs > 0) await sleep(state.slowdownMs);
    const alias = this.directory.getAlias(aliasKey);
    const material = alias && alias.enabled ? await this.verifyPassword(alias, password) : await this.burnTime(password);
    if (!alias || !material) {
      const outcome = this.throttle.recordFailure(ip, aliasKey);
      const reason = !alias ? 'unknown-user' : !alias.enabled ? 'disabled-alias' : 'bad-password';
      const ids: Record<string, string> = alias ? { aliasId: alias.id } : {};
      logSecurityEvent(this.logger, 'auth.failed', { ip, protocol, reason, detail: { ...ids, failures: outcome.pairFailures, delayMs: outcome.delayMs } });
      if (outcome.locked) {
        const lockS = Math.ceil(this.throttle.lockedFor(ip, aliasKey) / 1000);
        logSecurityEvent(this.logger, 'auth.lockout', { ip, protocol, reason: outcome.locked === 'ip' ? 'ip-lock-started' : 'pair-lock-started', detail: { ...ids, lockS } });
      }
      if (outcome.delayMs > 0) await sleep(outcome.delayMs);
      throw new AuthFailed();
    }
    this.throttle.recordSuccess(ip, aliasKey);
    if (!this.keyRing.has(alias.id)) this.keyRing.put(alias.id, material, { remember: false });
    this.keyRing.rememberPassword(alias.id, password);
    wipe(material.mailboxKey);
    wipe(material.privateKey);
    return alias;
  }

  /** The alias's unlocked material when the password is right, else null. Cheap when cached in the key ring. */
  private async verifyPassword(alias: AliasRecord, password: string): Promise<AliasMaterial | null> {
    if (this.directory.getSetting(pendingSettingKey(alias.id)) !== undefined) return this.recoverPasswordChange(alias, password);
    if (this.keyRing.has(alias.id) && this.keyRing.checkCachedPassword(alias.id, password)) {
      const cached = this.keyRing.get(alias.id);
      if (cached) return cached;
    }
    const keys = await deriveAliasKeys(password, alias.salt, alias.kdf);
    try {
      if (!timingSafeEqual(keys.verifier, alias.verifier)) {
        wipe(keys.mailboxKey);
        return null;
      }
      const privateKey = unwrapSecret(keys.wrappingKey, alias.wrappedPrivateKey, privateKeyAad(alias.id));
      return { mailboxKey: keys.mailboxKey, privateKey };
    } finally {
      wipe(keys.wrappingKey);
      wipe(keys.verifier);
    }
  }

  /**
   * An interrupted password change (recovery record present): the password is checked against the old
   * and the new credentials; the one it matches wins — the file is re-keyed to its key if the crash left
   * it under the other one, and the directory row is set to its credentials — then the record is removed.
   * One recovery per alias at a time; a concurrent login waits and is then checked normally.
   */
  private async recoverPasswordChange(alias: AliasRecord, password: string): Promise<AliasMaterial | null> {
    const running = this.recovering.get(alias.id);
    if (running) {
      await running.catch(() => undefined);
      const fresh = this.directory.getAliasById(alias.id);
      return fresh ? this.verifyPassword(fresh, password) : null;
    }
    const work = this.runRecovery(alias, password);
    this.recovering.set(alias.id, work);
    try {
      return await work;
    } finally {
      this.recovering.delete(alias.id);
    }
  }

  private async runRecovery(alias: AliasRecord, password: string): Promise<AliasMaterial | null> {
    const pending = pendingFromJson(this.directory.getSetting(pendingSettingKey(alias.id)));
    if (!pending) return this.verifyPassword(alias, password);
    let side: 'old' | 'next' | null = null;
    let keys: AliasKeys | null = null;
    for (const candidate of ['old', 'next'] as const) {
      const creds = pending[candidate];
      const derived = await deriveAliasKeys(password, creds.salt, creds.kdf);
      if (timingSafeEqual(derived.verifier, creds.verifier)) {
        side = candidate;
        keys = derived;
        break;
      }
      wipe(derived.mailboxKey);
      wipe(derived.wrappingKey);
    }
    if (!side || !keys) return null;
    const chosen = pending[side];
    const other = otherMailboxKey(alias.id, pending, side, keys.mailboxKey);
    const privateKey = unwrapSecret(keys.wrappingKey, chosen.wrappedPrivateKey, privateKeyAad(alias.id));
    wipe(keys.wrappingKey);
    try {
      // Which key is the file under? Ours first; else the other one, and then it is re-keyed back to ours.
      const underOurs = await this.opensWith(alias, keys.mailboxKey);
      if (!underOurs) {
        if (!(await this.opensWith(alias, other))) throw new WrongKey('The mailbox opens with neither the old nor the new key');
        this.revokeSessions(alias.id, 'password-changed');
        this.keyRing.drop(alias.id, 'manual');
        await this.mailboxes.rekey(alias.mailboxId, other, keys.mailboxKey);
      }
      this.directory.transaction(() => {
        if (!timingSafeEqual(this.directory.requireAlias(alias.address).verifier, chosen.verifier)) this.directory.updateAliasKeys(alias.id, chosen);
        this.directory.setSetting(pendingSettingKey(alias.id), undefined);
      });
      this.logger.warn({ event: 'alias.password_change_recovered', aliasId: alias.id, kept: side === 'old' ? 'old password' : 'new password' }, 'an interrupted password change was resolved');
      return { mailboxKey: keys.mailboxKey, privateKey };
    } catch (error) {
      wipe(keys.mailboxKey);
      wipe(privateKey);
      throw error;
    } finally {
      wipe(other);
    }
  }

  /** Whether the mailbox file opens with this key (a handle cached under another key counts as no). */
  private async opensWith(alias: AliasRecord, mailboxKey: Buffer): Promise<boolean> {
    try {
      await this.mailboxes.open(alias.mailboxId, mailboxKey);
      return true;
    } catch (error) {
      if (error instanceof WrongKey) return false;
      throw error;
    }
  }

  /** After a failed re-key: if the file still opens with the old key the change never happened — drop the record. */
  private async settleFailedRekey(alias: AliasRecord, oldKey: Buffer): Promise<void> {
    try {
      if (await this.opensWith(alias, oldKey)) this.clearPending(alias.id);
    } catch {
      // Left for the next login to resolve.
    }
  }

  private clearPending(aliasId: string): void {
    try {
      if (this.directory.getSetting(pendingSettingKey(aliasId)) !== undefined) this.directory.setSetting(pendingSettingKey(aliasId), undefined);
    } catch (error) {
      this.logger.warn({ event: 'alias.pending_clear_failed', aliasId, err: errorName(error) }, 'could not clear a password-change record');
    }
  }

  /** Spends one derivation on unknown or disabled aliases, so timing does not tell which addresses exist. */
  private async burnTime(password: string): Promise<null> {
    const keys = await deriveAliasKeys(password, Buffer.alloc(16), this.kdf);
    wipe(keys.mailboxKey);
    wipe(keys.wrappingKey);
    wipe(keys.verifier);
    return null;
  }

  private async openMailbox(alias: AliasRecord): Promise<Mailbox> {
    const material = this.keyRing.get(alias.id);
    if (!material) throw new AuthFailed();
    try {
      return await this.mailboxes.open(alias.mailboxId, material.mailboxKey);
    } finally {
      wipe(material.mailboxKey);
      wipe(material.privateKey);
    }
  }

  /** Starts (or asks the running one for another pass) the drain of the alias's queue; never throws. */
  private drainInBackground(alias: AliasRecord): void {
    void this.drainQueue(alias);
  }

  /**
   * Moves sealed mail into the mailbox; one drain per alias at a time (a login while it runs asks it for one
   * more pass). Never rejects: over quota it stops and waits for space, other errors are logged and retried.
   */
  private drainQueue(alias: AliasRecord): Promise<void> {
    if (!this.queue) return Promise.resolve();
    const running = this.drains.get(alias.id);
    if (running) {
      running.again = true;
      return running.done;
    }
    const record = this.drainRecords.get(alias.id);
    if (record?.retry) {
      clearTimeout(record.retry);
      record.retry = undefined;
    }
    const run: { again: boolean; done: Promise<void> } = { again: false, done: Promise.resolve() };
    run.done = (async () => {
      try {
        do {
          run.again = false;
          await this.runDrain(alias);
        } while (run.again && this.keyRing.has(alias.id) && this.drainRecords.get(alias.id)?.state === 'idle');
      } finally {
        this.drains.delete(alias.id);
      }
    })();
    this.drains.set(alias.id, run);
    return run.done;
  }

  private async runDrain(alias: AliasRecord): Promise<void> {
    const queue = this.queue;
    if (!queue) return;
    const previous = this.drainRecords.get(alias.id);
    const record: DrainRecord = { mailboxId: alias.mailboxId, state: 'draining', drained: 0, passQueued: 0, passDrained: 0, since: new Date(), failures: previous?.failures ?? 0 };
    let dequeuedBytes = 0;
    const settleBytes = (): void => {
      if (dequeuedBytes > 0) this.usage.dequeued(alias, dequeuedBytes);
      dequeuedBytes = 0;
    };
    let mailbox: Mailbox | null = null;
    try {
      if (queue.count(alias.mailboxId) === 0) {
        record.state = 'idle';
        this.drainRecords.set(alias.id, record);
        this.clearStalled(alias.id);
        return;
      }
      this.drainRecords.set(alias.id, record);
      // Twice at most: a message sealed while the first pass ran (keys were not yet in the ring) is picked up.
      for (let pass = 0; pass < 2 && queue.count(alias.mailboxId) > 0; pass++) {
        const material = this.keyRing.get(alias.id);
        if (!material) throw new DrainStopped();
        record.passQueued = queue.count(alias.mailboxId);
        record.passDrained = record.drained;
        try {
          const box = await this.mailboxes.open(alias.mailboxId, material.mailboxKey);
          mailbox = box;
          await queue.drain(
            alias.mailboxId,
            material.privateKey,
            async (message) => {
              if (!this.keyRing.has(alias.id)) throw new DrainStopped();
              // The queue item id makes a retried drain (crash after append, before the row delete) store nothing twice.
              await this.appendTo(box, message.raw, message.meta, `queue:${message.id}`);
              record.drained++;
              dequeuedBytes += message.raw.length;
              if (record.drained % 256 === 0) settleBytes(); // one directory write per batch, not per message
            },
            { concurrency: this.drainConcurrency },
          );
        } finally {
          wipe(material.mailboxKey);
          wipe(material.privateKey);
        }
      }
      record.state = 'idle';
      record.failures = 0;
      record.since = new Date();
      this.clearStalled(alias.id);
      if (record.drained > 0) this.logger.info({ event: 'queue.drained', aliasId: alias.id, messages: record.drained }, 'sealed queue drained');
    } catch (error) {
      record.since = new Date();
      if (error instanceof DrainStopped || !this.keyRing.has(alias.id)) {
        // Locked or removed meanwhile: the rest waits for the next unlock.
        record.state = 'idle';
        this.logger.info({ event: 'queue.drain_stopped', aliasId: alias.id, messages: record.drained }, 'sealed queue drain stopped: the mailbox was locked');
      } else if (error instanceof OverQuota) {
        record.state = 'over-quota';
        record.usedAtStop = mailbox ? this.safeQuotaUsed(mailbox) : undefined;
        this.saveStalled(alias.id, { state: 'over-quota', since: record.since.toISOString() });
        this.logger.warn({ event: 'queue.drain_over_quota', aliasId: alias.id, messages: record.drained, left: this.queuedCount(alias) }, 'sealed queue drain stopped: the mailbox is full; the rest stays queued until mail is deleted');
      } else {
        record.state = 'error';
        record.error = errorName(error);
        record.failures++;
        this.saveStalled(alias.id, { state: 'error', since: record.since.toISOString(), error: record.error });
        const delayMs = drainRetryDelayMs(record.failures);
        this.logger.warn({ event: 'queue.drain_failed', aliasId: alias.id, err: record.error, messages: record.drained, retryInS: Math.round(delayMs / 1000) }, 'sealed queue drain failed; will retry');
        record.retry = setTimeout(() => {
          record.retry = undefined;
          const fresh = this.directory.getAliasById(alias.id);
          if (fresh && this.keyRing.has(alias.id)) this.drainInBackground(fresh);
        }, delayMs);
        record.retry.unref();
      }
    } finally {
      settleBytes();
      if (mailbox) {
        try {
          this.usage.drained(alias, mailbox, queue.count(alias.mailboxId) === 0);
        } catch {
          // The mailbox closed meanwhile (locked): the figures are written when it next opens.
        }
      }
    }
  }

  /** After a change of a mailbox whose drain stopped over quota: when its usage went down, drain again. */
  private resumeDrainIfFreed(mailboxId: MailboxId): void {
    for (const [aliasId, record] of this.drainRecords) {
      if (record.mailboxId !== mailboxId || record.state !== 'over-quota' || this.drains.has(aliasId)) continue;
      const alias = this.directory.getAliasById(aliasId as AliasId);
      const material = this.keyRing.get(aliasId);
      if (!alias || !material) return;
      this.mailboxes
        .open(mailboxId, material.mailboxKey)
        .then((mailbox) => {
          const used = this.safeQuotaUsed(mailbox);
          if (used !== undefined && (record.usedAtStop === undefined || used < record.usedAtStop)) {
            this.logger.info({ event: 'queue.drain_resumed', aliasId }, 'space freed: the sealed queue drain resumes');
            this.drainInBackground(alias);
          }
        })
        .catch(() => undefined)
        .finally(() => {
          wipe(material.mailboxKey);
          wipe(material.privateKey);
        });
      return;
    }
  }

  private safeQuotaUsed(mailbox: Mailbox): number | undefined {
    try {
      return mailbox.quota().usedBytes;
    } catch {
      return undefined;
    }
  }

  private safeStalled(aliasId: string): ReturnType<typeof readStalledDrain> {
    try {
      return readStalledDrain(this.directory, aliasId);
    } catch {
      return null;
    }
  }

  private saveStalled(aliasId: string, stalled: Parameters<typeof writeStalledDrain>[2]): void {
    try {
      writeStalledDrain(this.directory, aliasId, stalled);
    } catch (error) {
      this.logger.warn({ event: 'queue.drain_state_failed', aliasId, err: errorName(error) }, 'could not record the drain state');
    }
  }

  private clearStalled(aliasId: string): void {
    this.saveStalled(aliasId, null);
  }

  /** An alias removed: its drain record, retry timer and stalled state go. */
  private forgetDrain(aliasId: string): void {
    const record = this.drainRecords.get(aliasId);
    if (record?.retry) clearTimeout(record.retry);
    this.drainRecords.delete(aliasId);
    this.clearStalled(aliasId);
  }

  private async appendTo(mailbox: Mailbox, raw: Buffer, meta: QueuedDeliveryMeta, dedupeKey?: string): Promise<number> {
    const options = { flags: meta.flags, internalDate: meta.receivedAt };
    const append = (folder: string): Promise<AppendResult> =>
      dedupeKey && hasAppendOnce(mailbox) ? mailbox.appendOnce(folder, raw, { ...options, dedupeKey }) : mailbox.append(folder, raw, options);
    const folder = meta.folder ?? 'INBOX';
    try {
      return (await append(folder)).uid;
    } catch (error) {
      // A folder deleted since the message was routed there: INBOX rather than losing it.
      if (error instanceof NoSuchFolder && folder !== 'INBOX') return (await append('INBOX')).uid;
      throw error;
    }
  }

  private async closeMailboxOf(aliasId: string): Promise<void> {
    this.usage.flush(aliasId); // while the handle is still open
    const alias = this.directory.getAliasById(aliasId);
    if (alias && this.mailboxes.isOpen(alias.mailboxId)) await this.mailboxes.close(alias.mailboxId);
  }
}

function credentialsOf(alias: AliasRecord): Credentials {
  return { salt: alias.salt, kdf: alias.kdf, verifier: alias.verifier, wrappedPrivateKey: alias.wrappedPrivateKey };
}

/** The security log's name for a login's protocol (the local CLI arrives over the control socket). */
function securityProtocolOf(protocol: LoginProtocol): SecurityProtocol {
  return protocol === 'cli' ? 'control' : protocol;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'error';
}

export type { PendingChange };
