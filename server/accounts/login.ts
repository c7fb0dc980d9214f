// Logging in: the throttle, the password check, the keys into the key ring and the mailbox opened; the
// sealed queue then drains in the background, so a login answers at once and never fails because of it.
import { setTimeout as sleep } from 'node:timers/promises';
import { canonicalAppPassword, wipe, type AliasMaterial } from '../crypto/index.js';
import { normalizeAddress, type AliasRecord } from '../directory/index.js';
import type { Mailbox } from '../mailbox/types.js';
import { logSecurityEvent, type SecurityProtocol } from '../security-log.js';
import type { AppPasswords } from './app-passwords.js';
import type { Drainer } from './drainer.js';
import { AuthFailed, TooManyAttempts } from './errors.js';
import type { SessionRegistry } from './sessions.js';
import { normalizeIp, type LoginThrottle } from './throttle.js';
import type { AccountsCore, AliasSession, LoginContext, LoginProtocol } from './types.js';
import type { PasswordVerifier } from './verify.js';
import { stageStart, timeStage } from '../stages.js';
import { pendingSettingKey } from './recovery.js';

/** Where app passwords log in: the mail protocols. Never the admin UI or the CLI (owner operations). */
const APP_PASSWORD_PROTOCOLS: ReadonlySet<LoginProtocol> = new Set(['imap', 'pop3', 'submission']);

/** A password check that passed: the alias, and the app password used (null: the alias password). */
interface CheckedLogin {
  readonly alias: AliasRecord;
  readonly appPasswordId: string | null;
}

export class Login {
  constructor(
    private readonly core: AccountsCore,
    private readonly verifier: PasswordVerifier,
    private readonly throttle: LoginThrottle,
    private readonly sessions: SessionRegistry,
    private readonly drainer: Drainer,
    private readonly appPasswords: AppPasswords,
  ) {}

  /**
   * Logs in: throttling, password check (cached for repeat logins, else argon2id + verifier), keys into the
   * key ring, mailbox opened. The sealed queue then drains in the background: the login answers at once
   * and can never fail because of the drain (messages appear as they land; see Drainer.status()).
   * Throws AuthFailed or TooManyAttempts.
   */
  async authenticate(address: string, password: string, context: LoginContext): Promise<AliasSession> {
    const { keyRing, logger } = this.core;
    const { alias, appPasswordId } = await timeStage(stageStart('login.check'), this.checkLogin(address, password, context, APP_PASSWORD_PROTOCOLS.has(context.protocol)));
    if (!keyRing.acquire(alias.id)) throw new AuthFailed(); // dropped between check and acquire (idle timer)
    const live = this.sessions.add(alias.id, alias.mailboxId, appPasswordId);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      live.remove();
      keyRing.release(alias.id);
    };
    try {
      // Revoked while its password was being checked: the revocation found no session to end, so refuse here.
      if (appPasswordId !== null && !this.appPasswords.exists(alias.id, appPasswordId)) throw new AuthFailed();
      const mailbox = await timeStage(stageStart('login.open-mailbox'), this.openMailbox(alias));
      this.drainer.start(alias);
      logger.info({ event: 'auth.ok', aliasId: alias.id, protocol: context.protocol, ...(appPasswordId ? { appPasswordId } : {}) }, 'login');
      return { alias, mailbox, release, onRevoked: live.onRevoked };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Throttle + alias password check (never an app password); on success the alias keys are in the key ring. */
  async check(address: string, password: string, context: LoginContext): Promise<AliasRecord> {
    return (await this.checkLogin(address, password, context, false)).alias;
  }

  /**
   * Throttle + password check: when allowed (mail protocols) and the text can be an app password, the alias's
   * app passwords are tried first, then the alias password. On success the alias keys are in the key ring.
   */
  private async checkLogin(address: string, password: string, context: LoginContext, allowAppPasswords: boolean): Promise<CheckedLogin> {
    const { directory, keyRing, logger } = this.core;
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
      logSecurityEvent(logger, 'auth.lockout', { ip, protocol, reason: state.scope === 'ip' ? 'ip-locked' : 'pair-locked', detail: { retryAfterS: Math.ceil(state.lockedForMs / 1000) } });
      throw new TooManyAttempts(state.lockedForMs);
    }
    // Many IPs failing on this alias: an IP its owner has not logged in from waits before its password is checked.
    if (state.slowdownMs > 0) await sleep(state.slowdownMs);
    const alias = directory.getAlias(aliasKey);
    const appShaped = allowAppPasswords && canonicalAppPassword(password) !== null;
    let material: AliasMaterial | null = null;
    let appPasswordId: string | null = null;
    let triedApp = false;
    if (alias && alias.enabled) {
      // Not during an unresolved password change: app passwords hold the keys of one side only.
      if (appShaped && this.appPasswords.has(alias.id) && directory.getSetting(pendingSettingKey(alias.id)) === undefined) {
        triedApp = true;
        const app = await timeStage(stageStart('login.kdf'), this.appPasswords.verify(alias, password));
        if (app) ({ id: appPasswordId, material } = app);
      }
      material ??= await this.verifier.verify(alias, password);
    } else {
      await this.verifier.burnTime(password);
    }
    // A refused app-shaped password costs two derivations whatever the alias, so timing does not tell which exist.
    if (!material && appShaped && !triedApp) await this.verifier.burnTime(password);
    if (!alias || !material) {
      const outcome = this.throttle.recordFailure(ip, aliasKey);
      const reason = !alias ? 'unknown-user' : !alias.enabled ? 'disabled-alias' : 'bad-password';
      const ids: Record<string, string> = alias ? { aliasId: alias.id } : {};
      logSecurityEvent(logger, 'auth.failed', { ip, protocol, reason, detail: { ...ids, failures: outcome.pairFailures, delayMs: outcome.delayMs } });
      if (outcome.locked) {
        const lockS = Math.ceil(this.throttle.lockedFor(ip, aliasKey) / 1000);
        logSecurityEvent(logger, 'auth.lockout', { ip, protocol, reason: outcome.locked === 'ip' ? 'ip-lock-started' : 'pair-lock-started', detail: { ...ids, lockS } });
      }
      if (outcome.delayMs > 0) await sleep(outcome.delayMs);
      throw new AuthFailed();
    }
    this.throttle.recordSuccess(ip, aliasKey);
    if (!keyRing.has(alias.id)) keyRing.put(alias.id, material, { remember: false });
    // Only the alias password is cached for repeat logins: an app password is checked in full each time, so its
    // revocation takes effect at the next login.
    if (appPasswordId === null) keyRing.rememberPassword(alias.id, password);
    else this.appPasswords.touch(alias.id, appPasswordId, ip);
    wipe(material.mailboxKey);
    wipe(material.privateKey);
    return { alias, appPasswordId };
  }

  /** Opens the mailbox of an alias whose keys are in the key ring (AuthFailed when they are gone). */
  async openMailbox(alias: AliasRecord): Promise<Mailbox> {
    const material = this.core.keyRing.get(alias.id);
    if (!material) throw new AuthFailed();
    try {
      return await this.core.mailboxes.open(alias.mailboxId, material.mailboxKey);
    } finally {
      wipe(material.mailboxKey);
      wipe(material.privateKey);
    }
  }
}

/** The security log's name for a login's protocol (the local CLI arrives over the control socket). */
function securityProtocolOf(protocol: LoginProtocol): SecurityProtocol {
  return protocol === 'cli' ? 'control' : protocol;
}
