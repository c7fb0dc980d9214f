// Accounts: the glue every protocol uses to create aliases, change passwords, log in (unlock, then the
// sealed queue drains in the background) and deliver mail to an alias whether its mailbox is unlocked or
// not. Logs ids, never addresses. This class is a facade: each concern is its own file —
//   errors.ts           what callers catch (AuthFailed, TooManyAttempts, WeakPassword, AliasLocked)
//   types.ts            shared shapes and the SealedQueuePort
//   login.ts            throttle + password check + session; verify.ts checks a password (and resolves an
//                       interrupted change); password-change.ts re-keys
//   lock-state.ts       unlock, lock, remembered keys, idle close
//   delivery.ts         deliverOrQueue / queueForMany and the quota reservation; append.ts stores a message
//                       where the delivery filters (delivery-filter.ts: junk, Sieve) decide; sieve-filter.ts
//                       runs the active Sieve script (redirects and vacation replies via the OutboundPort)
//   drainer.ts          the background drain state machine (drain.ts: its states and stalled record)
//   aliases.ts          create and remove an alias
//   app-passwords.ts    per-device passwords: their own sealed copy of the alias keys, re-sealed on a change
import type { AliasMaterial } from '../crypto/index.js';
import { DEFAULT_KDF } from '../crypto/index.js';
import type { AliasId, AliasRecord } from '../directory/index.js';
import { AliasLifecycle } from './aliases.js';
import { AppPasswords, DEFAULT_APP_PASSWORD_LIMITS, type AppPasswordView, type CreatedAppPassword } from './app-passwords.js';
import { Delivery } from './delivery.js';
import type { DrainProgress } from './drain.js';
import { Drainer } from './drainer.js';
import { LockState } from './lock-state.js';
import { Login } from './login.js';
import { PasswordChange } from './password-change.js';
import type { PendingChange } from './recovery.js';
import { SessionRegistry, type RevokeReason } from './sessions.js';
import { DEFAULT_THROTTLE, LoginThrottle } from './throttle.js';
import type { AccountsCore, AccountsOptions, AliasSession, CreateAliasOptions, CreatedAlias, DeliveryOptions, DeliveryResult, LoginContext } from './types.js';
import { AliasUsage } from './usage.js';
import { PasswordVerifier } from './verify.js';

export { DEFAULT_THROTTLE, LoginThrottle, isThrottleExempt, loginThrottleFromEnv, type ThrottlePolicy } from './throttle.js';
export type { RevokeReason } from './sessions.js';
export type { PlacedCopy } from './append.js';
export type { DeliveryDecision, DeliveryFilter, DeliveryFilterInput } from './delivery-filter.js';
export { SieveFilter, sieveLimitsFromEnv, SIEVE_LIMITS_ENV, type SieveFilterOptions } from './sieve-filter.js';
export { AliasUsage, type QuotaReservation, type UsageSnapshot } from './usage.js';
export { describeDrain, type DrainProgress, type DrainState } from './drain.js';
export { AliasLocked, AuthFailed, TooManyAttempts, WeakPassword, loginRefusal, type LoginRefusal } from './errors.js';
export { DRAIN_CONCURRENCY } from './drainer.js';
export {
  APP_PASSWORD_ENV,
  DEFAULT_APP_PASSWORD_LIMITS,
  appPasswordLimitsFromEnv,
  checkAppPasswordName,
  type AppPasswordLimits,
  type AppPasswordView,
  type CreatedAppPassword,
} from './app-passwords.js';
export { UNLOCK_DRAIN_WAIT_MS } from './lock-state.js';
export type {
  AccountsOptions,
  AliasSession,
  CreateAliasOptions,
  CreatedAlias,
  DeliveryOptions,
  DeliveryResult,
  DrainedMessage,
  LoginContext,
  LoginProtocol,
  QueuedDeliveryMeta,
  SealedQueuePort,
} from './types.js';
export type { PendingChange };

export class Accounts {
  /** Last-known usage per alias (directory), for quota checks while a mailbox is locked. */
  readonly usage: AliasUsage;
  private readonly logger: AccountsOptions['logger'];
  private readonly sessions: SessionRegistry;
  private readonly drainer: Drainer;
  private readonly delivery: Delivery;
  private readonly passwords: PasswordChange;
  private readonly login: Login;
  private readonly lockState: LockState;
  private readonly aliases: AliasLifecycle;
  private readonly appPasswords: AppPasswords;

  constructor(options: AccountsOptions) {
    const { directory, mailboxes, keyRing, logger } = options;
    this.logger = logger;
    this.usage = new AliasUsage({ directory, mailboxes, keyRing, logger });
    const core: AccountsCore = {
      directory,
      mailboxes,
      keyRing,
      queue: options.queue,
      logger,
      kdf: options.kdf ?? DEFAULT_KDF,
      usage: this.usage,
      deliveryFilters: options.deliveryFilters ?? [],
      revokeSessions: (aliasId, reason) => this.revokeSessions(aliasId, reason),
    };
    const throttle = new LoginThrottle({ ...DEFAULT_THROTTLE, ...options.throttle }, options.throttleClock);
    this.drainer = new Drainer(core, options.drainConcurrency);
    this.sessions = new SessionRegistry((error) =>
      logger.warn({ event: 'session.revoke_failed', err: error instanceof Error ? error.message : String(error) }, 'a session did not close cleanly'),
    );
    const verifier = new PasswordVerifier(core);
    this.delivery = new Delivery(core);
    this.passwords = new PasswordChange(core, verifier, (alias) => this.drainer.start(alias));
    this.appPasswords = new AppPasswords(core, { ...DEFAULT_APP_PASSWORD_LIMITS, ...options.appPasswords });
    this.login = new Login(core, verifier, throttle, this.sessions, this.drainer, this.appPasswords);
    this.lockState = new LockState(core, this.login, this.drainer);
    this.aliases = new AliasLifecycle(core, this.passwords, this.drainer);
  }

  /** See AliasLifecycle.create (aliases.ts). */
  createAlias(address: string, password?: string | null, options: CreateAliasOptions = {}): Promise<CreatedAlias> {
    return this.aliases.create(address, password, options);
  }

  /** Deletes an alias: directory row, mailbox file, queue file, keys. */
  removeAlias(address: string): Promise<AliasRecord> {
    return this.aliases.remove(address);
  }

  /** See PasswordChange.change (password-change.ts). */
  changePassword(address: string, oldPassword: string | null, newPassword?: string | null): Promise<{ password?: string }> {
    return this.passwords.change(address, oldPassword, newPassword);
  }

  /** Ids of aliases whose password change was interrupted (resolved at their next login). */
  pendingPasswordChanges(): string[] {
    return this.passwords.pending();
  }

  /** See AppPasswords.create (app-passwords.ts): the caller holds the alias keys (unlocked, or checked just now). */
  createAppPassword(alias: AliasRecord, name: string, material: AliasMaterial): Promise<CreatedAppPassword> {
    return this.appPasswords.create(alias, name, material);
  }

  /** The alias's app passwords (names, created, last use), oldest first. */
  listAppPasswords(aliasId: AliasId): AppPasswordView[] {
    return this.appPasswords.list(aliasId);
  }

  /** Deletes an app password and ends the sessions that logged in with it; false when there is no such one. */
  revokeAppPassword(aliasId: AliasId, appPasswordId: string): { readonly revoked: boolean; readonly sessions: number } {
    if (!this.appPasswords.remove(aliasId, appPasswordId)) return { revoked: false, sessions: 0 };
    const sessions = this.sessions.revokeAppPassword(aliasId, appPasswordId);
    if (sessions > 0) this.logger.info({ event: 'session.revoked', aliasId, reason: 'app-password-revoked', sessions }, 'sessions ended');
    return { revoked: true, sessions };
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

  /** See Login.authenticate (login.ts): throws AuthFailed or TooManyAttempts. */
  authenticate(address: string, password: string, context: LoginContext): Promise<AliasSession> {
    return this.login.authenticate(address, password, context);
  }

  /** See LockState.unlock (lock-state.ts). */
  unlock(address: string, password: string, context: LoginContext = { ip: 'local', protocol: 'admin' }): Promise<AliasRecord> {
    return this.lockState.unlock(address, password, context);
  }

  /** Drops the keys of one alias (by id) or of all, ends their sessions and closes their mailboxes. */
  lock(aliasId: AliasId | 'all'): Promise<void> {
    return this.lockState.lock(aliasId);
  }

  /** See LockState.unlockWithMaterial (lock-state.ts). */
  unlockWithMaterial(alias: AliasRecord, material: AliasMaterial, options: { remember?: boolean } = {}): Promise<void> {
    return this.lockState.unlockWithMaterial(alias, material, options);
  }

  isUnlocked(aliasId: AliasId): boolean {
    return this.lockState.isUnlocked(aliasId);
  }

  /** Key ring onDrop hook: closes the mailbox of an alias whose keys were dropped (idle timeout). */
  handleKeysDropped(aliasId: string): void {
    this.lockState.handleKeysDropped(aliasId);
  }

  /** See Delivery.deliverOrQueue (delivery.ts): durable before it resolves; OverQuota stores nothing. */
  deliverOrQueue(alias: AliasRecord, raw: Buffer, options: DeliveryOptions): Promise<DeliveryResult> {
    return this.delivery.deliverOrQueue(alias, raw, options);
  }

  /** See Delivery.queueForMany (delivery.ts): all durable or none, each within its quota. */
  queueForMany(aliases: readonly AliasRecord[], raw: Buffer, options: DeliveryOptions, envelopeTo?: readonly string[]): Promise<void> {
    return this.delivery.queueForMany(aliases, raw, options, envelopeTo);
  }

  /** Where the sealed queue of an alias stands (see Drainer.status in drainer.ts). */
  drainStatus(alias: AliasRecord): DrainProgress {
    return this.drainer.status(alias);
  }

  /**
   * Resolves when no drain of the alias is running (true), or after timeoutMs (false) — POP3 waits a
   * little for a small queue (its maildrop is fixed at login); tests wait for a drain to settle.
   */
  whenDrained(aliasId: string, timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    return this.drainer.whenDrained(aliasId, timeoutMs);
  }

  /** Number of sealed messages waiting for the alias. */
  queuedCount(alias: AliasRecord): number {
    return this.drainer.queuedCount(alias);
  }
}
