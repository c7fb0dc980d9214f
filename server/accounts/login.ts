// Logging in: the throttle, the password check, the keys into the key ring and the mailbox opened; the
// sealed queue then drains in the background, so a login answers at once and never fails because of it.
import { setTimeout as sleep } from 'node:timers/promises';
import { wipe } from '../crypto/index.js';
import { normalizeAddress, type AliasRecord } from '../directory/index.js';
import type { Mailbox } from '../mailbox/types.js';
import { logSecurityEvent, type SecurityProtocol } from '../security-log.js';
import type { Drainer } from './drainer.js';
import { AuthFailed, TooManyAttempts } from './errors.js';
import type { SessionRegistry } from './sessions.js';
import { normalizeIp, type LoginThrottle } from './throttle.js';
import type { AccountsCore, AliasSession, LoginContext, LoginProtocol } from './types.js';
import type { PasswordVerifier } from './verify.js';
import { stageStart, timeStage } from '../stages.js';

export class Login {
  constructor(
    private readonly core: AccountsCore,
    private readonly verifier: PasswordVerifier,
    private readonly throttle: LoginThrottle,
    private readonly sessions: SessionRegistry,
    private readonly drainer: Drainer,
  ) {}

  /**
   * Logs in: throttling, password check (cached for repeat logins, else argon2id + verifier), keys into the
   * key ring, mailbox opened. The sealed queue then drains in the background: the login answers at once
   * and can never fail because of the drain (messages appear as they land; see Drainer.status()).
   * Throws AuthFailed or TooManyAttempts.
   */
  async authenticate(address: string, password: string, context: LoginContext): Promise<AliasSession> {
    const { keyRing, logger } = this.core;
    const alias = await timeStage(stageStart('login.check'), this.check(address, password, context));
    if (!keyRing.acquire(alias.id)) throw new AuthFailed(); // dropped between check and acquire (idle timer)
    const live = this.sessions.add(alias.id, alias.mailboxId);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      live.remove();
      keyRing.release(alias.id);
    };
    try {
      const mailbox = await timeStage(stageStart('login.open-mailbox'), this.openMailbox(alias));
      this.drainer.start(alias);
      logger.info({ event: 'auth.ok', aliasId: alias.id, protocol: context.protocol }, 'login');
      return { alias, mailbox, release, onRevoked: live.onRevoked };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Throttle + password check; on success the alias keys are in the key ring. */
  async check(address: string, password: string, context: LoginContext): Promise<AliasRecord> {
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
    const material = alias && alias.enabled ? await this.verifier.verify(alias, password) : await this.verifier.burnTime(password);
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
    keyRing.rememberPassword(alias.id, password);
    wipe(material.mailboxKey);
    wipe(material.privateKey);
    return alias;
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
