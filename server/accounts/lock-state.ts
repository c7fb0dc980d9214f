// Whether an alias is unlocked (its keys in the key ring) and the moves between the states: unlock with
// the password or with remembered keys, lock one or all, and closing a mailbox whose keys idled out.
import type { AliasMaterial } from '../crypto/index.js';
import type { AliasId, AliasRecord } from '../directory/index.js';
import type { Drainer } from './drainer.js';
import type { Login } from './login.js';
import type { AccountsCore, LoginContext } from './types.js';

/** How long unlock() (not a protocol login) waits for the drain it starts. */
export const UNLOCK_DRAIN_WAIT_MS = 10_000;

export class LockState {
  constructor(
    private readonly core: AccountsCore,
    private readonly login: Login,
    private readonly drainer: Drainer,
  ) {}

  /**
   * Unlocks an alias without a session (admin UI "unlock", CLI operations that need the key such as backup
   * or export); its queue drains in the background. It waits up to UNLOCK_DRAIN_WAIT_MS for that drain, so
   * what the caller reads next includes a small queue; a large one keeps draining after it returns, and a
   * drain error never fails the unlock. Returns the alias.
   */
  async unlock(address: string, password: string, context: LoginContext): Promise<AliasRecord> {
    const { keyRing, logger } = this.core;
    const alias = await this.login.check(address, password, context);
    keyRing.acquire(alias.id);
    try {
      await this.login.openMailbox(alias);
      this.drainer.start(alias);
      await this.drainer.whenDrained(alias.id, UNLOCK_DRAIN_WAIT_MS);
    } finally {
      keyRing.release(alias.id); // starts the idle timer
    }
    logger.info({ event: 'alias.unlocked', aliasId: alias.id }, 'alias unlocked');
    return alias;
  }

  /** Drops the keys of one alias (by id) or of all, ends their sessions and closes their mailboxes. */
  async lock(aliasId: AliasId | 'all'): Promise<void> {
    const { keyRing } = this.core;
    const ids = aliasId === 'all' ? keyRing.unlockedIds() : [aliasId];
    for (const id of ids) {
      this.core.revokeSessions(id, 'locked');
      keyRing.drop(id, 'manual');
    }
    // A running drain sees the keys gone and stops after its appends in flight; then the file closes.
    await Promise.all(ids.map((id) => this.drainer.runningDrain(id)));
    await Promise.all(ids.map((id) => this.closeMailboxOf(id)));
  }

  /**
   * Unlocks an alias with material it already has (a key remembered on this device): into the key ring,
   * mailbox opened (WrongKey if the key is stale), sealed queue drained in the background. remember keeps
   * it from idling out.
   */
  async unlockWithMaterial(alias: AliasRecord, material: AliasMaterial, options: { remember?: boolean } = {}): Promise<void> {
    await this.core.mailboxes.open(alias.mailboxId, material.mailboxKey);
    this.core.keyRing.put(alias.id, material, { remember: options.remember ?? false });
    this.drainer.start(alias);
  }

  isUnlocked(aliasId: AliasId): boolean {
    return this.core.keyRing.has(aliasId);
  }

  /** Key ring onDrop hook: closes the mailbox of an alias whose keys were dropped (idle timeout). */
  handleKeysDropped(aliasId: string): void {
    this.closeMailboxOf(aliasId).catch((error: unknown) => {
      this.core.logger.warn({ event: 'mailbox.close_failed', aliasId, err: error instanceof Error ? error.message : String(error) }, 'closing a mailbox failed');
    });
  }

  private async closeMailboxOf(aliasId: string): Promise<void> {
    const { directory, mailboxes, usage } = this.core;
    usage.flush(aliasId); // while the handle is still open
    const alias = directory.getAliasById(aliasId);
    if (alias && mailboxes.isOpen(alias.mailboxId)) await mailboxes.close(alias.mailboxId);
  }
}
