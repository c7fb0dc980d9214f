// Accounts: the glue every protocol uses to create aliases, change passwords, log in (unlock + drain the
// sealed queue) and deliver mail to an alias whether its mailbox is unlocked or not. Logs ids, never addresses.
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
  type AliasMaterial,
  type KdfParams,
  type KeyRing,
} from '../crypto/index.js';
import type { AliasId, AliasRecord, Directory } from '../directory/index.js';
import { normalizeAddress } from '../directory/index.js';
import type { Logger } from '../log.js';
import { NoSuchFolder } from '../mailbox/errors.js';
import type { AppendOptions, AppendResult, Mailbox, MailboxId, MailboxStore } from '../mailbox/types.js';
import { DEFAULT_THROTTLE, LoginThrottle, normalizeIp, type ThrottlePolicy } from './throttle.js';

export { DEFAULT_THROTTLE, LoginThrottle, type ThrottlePolicy } from './throttle.js';

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
  /** Unseals each waiting message in order and calls deliver; an item is deleted only after deliver resolved. */
  drain(mailboxId: MailboxId, privateKey: Uint8Array, deliver: (message: DrainedMessage) => Promise<void>): Promise<number>;
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
  private readonly drains = new Map<string, Promise<void>>();

  constructor(options: AccountsOptions) {
    this.directory = options.directory;
    this.mailboxes = options.mailboxes;
    this.keyRing = options.keyRing;
    this.queue = options.queue;
    this.logger = options.logger;
    this.kdf = options.kdf ?? DEFAULT_KDF;
    this.throttle = new LoginThrottle({ ...DEFAULT_THROTTLE, ...options.throttle });
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
    const alias = this.directory.requireAlias(address);
    const generated = newPassword === undefined || newPassword === null;
    const secret = generated ? generatePassword() : newPassword;
    if (!generated) {
      const weakness = checkPasswordStrength(secret, { address: alias.address });
      if (weakness) throw new WeakPassword(weakness);
    }
    let material: AliasMaterial | null;
    if (oldPassword !== null) {
      material = await this.verifyPassword(alias, oldPassword);
      if (!material) throw new AuthFailed();
    } else {
      material = this.keyRing.get(alias.id);
      if (!material) throw new AliasLocked(alias.displayAddress);
    }
    const salt = newSalt();
    const keys = await deriveAliasKeys(secret, salt, this.kdf);
    try {
      const wrappedPrivateKey = wrapSecret(keys.wrappingKey, material.privateKey, privateKeyAad(alias.id));
      // Trap: the file is re-keyed before the directory row changes; a crash between the two leaves the
      // mailbox under the new key with the old verifier (see report / issue 3 for the recovery record).
      await this.mailboxes.rekey(alias.mailboxId, material.mailboxKey, keys.mailboxKey);
      try {
        this.directory.updateAliasKeys(alias.id, { salt, kdf: this.kdf, verifier: keys.verifier, wrappedPrivateKey });
      } catch (error) {
        // The directory refused (busy, disk full): put the old key back so the old password keeps working.
        await this.mailboxes.rekey(alias.mailboxId, keys.mailboxKey, material.mailboxKey);
        throw error;
      }
      this.keyRing.forgetPassword(alias.id);
      if (this.keyRing.has(alias.id)) this.keyRing.put(alias.id, { mailboxKey: keys.mailboxKey, privateKey: material.privateKey });
      this.logger.info({ event: 'alias.password_changed', aliasId: alias.id }, 'alias password changed');
      return generated ? { password: secret } : {};
    } finally {
      wipe(keys.mailboxKey);
      wipe(keys.wrappingKey);
      wipe(material.mailboxKey);
      wipe(material.privateKey);
    }
  }

  /**
   * Logs in: throttling, password check (cached for repeat logins, else argon2id + verifier), keys into the
   * key ring, mailbox opened, sealed queue drained into it. Throws AuthFailed or TooManyAttempts.
   */
  async authenticate(address: string, password: string, context: LoginContext): Promise<AliasSession> {
    const alias = await this.checkLogin(address, password, context);
    if (!this.keyRing.acquire(alias.id)) throw new AuthFailed(); // dropped between check and acquire (idle timer)
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.keyRing.release(alias.id);
    };
    try {
      const mailbox = await this.openMailbox(alias);
      await this.drainQueue(alias);
      this.logger.info({ event: 'auth.ok', aliasId: alias.id, protocol: context.protocol }, 'login');
      return { alias, mailbox, release };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Unlocks an alias without a session (admin UI "unlock"); drains its queue. Returns the alias. */
  async unlock(address: string, password: string, context: LoginContext = { ip: 'local', protocol: 'admin' }): Promise<AliasRecord> {
    const alias = await this.checkLogin(address, password, context);
    this.keyRing.acquire(alias.id);
    try {
      await this.openMailbox(alias);
      await this.drainQueue(alias);
    } finally {
      this.keyRing.release(alias.id); // starts the idle timer
    }
    this.logger.info({ event: 'alias.unlocked', aliasId: alias.id }, 'alias unlocked');
    return alias;
  }

  /** Drops the keys of one alias (by id) or of all, and closes their mailboxes. */
  async lock(aliasId: AliasId | 'all'): Promise<void> {
    const ids = aliasId === 'all' ? this.keyRing.unlockedIds() : [aliasId];
    for (const id of ids) this.keyRing.drop(id, 'manual');
    await Promise.all(ids.map((id) => this.closeMailboxOf(id)));
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
   * else sealed into its queue. Durable (fsync) before it resolves.
   */
  async deliverOrQueue(alias: AliasRecord, raw: Buffer, options: DeliveryOptions): Promise<DeliveryResult> {
    const material = this.keyRing.get(alias.id);
    if (material) {
      try {
        const mailbox = await this.mailboxes.open(alias.mailboxId, material.mailboxKey);
        const uid = await this.appendTo(mailbox, raw, options);
        return { stored: 'mailbox', uid };
      } finally {
        wipe(material.mailboxKey);
        wipe(material.privateKey);
      }
    }
    if (!this.queue) throw new Error('the sealed queue is not available');
    await this.queue.enqueue(alias.mailboxId, alias.publicKey, raw, options);
    return { stored: 'queue' };
  }

  /** Number of sealed messages waiting for the alias. */
  queuedCount(alias: AliasRecord): number {
    return this.queue ? this.queue.count(alias.mailboxId) : 0;
  }

  /** Deletes an alias: directory row, mailbox file, queue file, keys. */
  async removeAlias(address: string): Promise<AliasRecord> {
    const alias = this.directory.requireAlias(address);
    this.keyRing.drop(alias.id, 'manual');
    this.directory.deleteAlias(alias.id);
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
    const wait = this.throttle.lockedFor(ip, aliasKey);
    if (wait > 0) {
      this.logger.warn({ event: 'auth.locked_out', protocol: context.protocol }, 'login refused: too many failures');
      throw new TooManyAttempts(wait);
    }
    const alias = this.directory.getAlias(aliasKey);
    const material = alias && alias.enabled ? await this.verifyPassword(alias, password) : await this.burnTime(password);
    if (!alias || !material) {
      const delay = this.throttle.recordFailure(ip, aliasKey);
      this.logger.warn({ event: 'auth.failed', aliasId: alias?.id ?? null, protocol: context.protocol, delayMs: delay }, 'login failed');
      if (delay > 0) await sleep(delay);
      throw new AuthFailed();
    }
    this.throttle.recordSuccess(aliasKey);
    if (!this.keyRing.has(alias.id)) this.keyRing.put(alias.id, material, { remember: false });
    this.keyRing.rememberPassword(alias.id, password);
    wipe(material.mailboxKey);
    wipe(material.privateKey);
    return alias;
  }

  /** The alias's unlocked material when the password is right, else null. Cheap when cached in the key ring. */
  private async verifyPassword(alias: AliasRecord, password: string): Promise<AliasMaterial | null> {
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

  /** Moves sealed mail into the mailbox; one drain per alias at a time (concurrent logins share it). */
  private drainQueue(alias: AliasRecord): Promise<void> {
    if (!this.queue) return Promise.resolve();
    const running = this.drains.get(alias.id);
    if (running) return running;
    const drain = this.runDrain(alias).finally(() => this.drains.delete(alias.id));
    this.drains.set(alias.id, drain);
    return drain;
  }

  private async runDrain(alias: AliasRecord): Promise<void> {
    const queue = this.queue;
    if (!queue) return;
    // Twice at most: a message sealed while the first pass ran (keys were not yet in the ring) is picked up.
    for (let pass = 0; pass < 2 && queue.count(alias.mailboxId) > 0; pass++) {
      const material = this.keyRing.get(alias.id);
      if (!material) return;
      try {
        const mailbox = await this.mailboxes.open(alias.mailboxId, material.mailboxKey);
        const drained = await queue.drain(alias.mailboxId, material.privateKey, async (message) => {
          // The queue item id makes a retried drain (crash after append, before the row delete) store nothing twice.
          await this.appendTo(mailbox, message.raw, message.meta, `queue:${message.id}`);
        });
        if (drained > 0) this.logger.info({ event: 'queue.drained', aliasId: alias.id, messages: drained }, 'sealed queue drained');
      } finally {
        wipe(material.mailboxKey);
        wipe(material.privateKey);
      }
    }
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
    const alias = this.directory.getAliasById(aliasId);
    if (alias && this.mailboxes.isOpen(alias.mailboxId)) await this.mailboxes.close(alias.mailboxId);
  }
}
