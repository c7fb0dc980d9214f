// Checking an alias password: the cached check for a repeat login, else argon2id and the verifier; an
// interrupted password change (recovery record present) is resolved here by whichever password is given.
import { deriveAliasKeys, timingSafeEqual, unwrapSecret, wipe, type AliasKeys, type AliasMaterial } from '../crypto/index.js';
import type { AliasRecord } from '../directory/index.js';
import { WrongKey } from '../mailbox/errors.js';
import { resealAppPasswords } from './app-passwords.js';
import { privateKeyAad } from './keys.js';
import { otherMailboxKey, pendingFromJson, pendingSettingKey } from './recovery.js';
import type { AccountsCore } from './types.js';
import { stageStart, timeStage } from '../stages.js';

export class PasswordVerifier {
  /** Recoveries of interrupted password changes in progress (one per alias at a time). */
  private readonly recovering = new Map<string, Promise<unknown>>();

  constructor(private readonly core: AccountsCore) {}

  /** The alias's unlocked material when the password is right, else null. Cheap when cached in the key ring. */
  async verify(alias: AliasRecord, password: string): Promise<AliasMaterial | null> {
    const { directory, keyRing } = this.core;
    if (directory.getSetting(pendingSettingKey(alias.id)) !== undefined) return this.recoverPasswordChange(alias, password);
    if (keyRing.has(alias.id) && keyRing.checkCachedPassword(alias.id, password)) {
      const cached = keyRing.get(alias.id);
      if (cached) return cached;
    }
    const keys = await timeStage(stageStart('login.kdf'), deriveAliasKeys(password, alias.salt, alias.kdf));
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
  async burnTime(password: string): Promise<null> {
    const keys = await deriveAliasKeys(password, Buffer.alloc(16), this.core.kdf);
    wipe(keys.mailboxKey);
    wipe(keys.wrappingKey);
    wipe(keys.verifier);
    return null;
  }

  /** Whether the mailbox file opens with this key (a handle cached under another key counts as no). */
  async opensWith(alias: AliasRecord, mailboxKey: Buffer): Promise<boolean> {
    try {
      await this.core.mailboxes.open(alias.mailboxId, mailboxKey);
      return true;
    } catch (error) {
      if (error instanceof WrongKey) return false;
      throw error;
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
      const fresh = this.core.directory.getAliasById(alias.id);
      return fresh ? this.verify(fresh, password) : null;
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
    const { directory, keyRing, mailboxes, logger } = this.core;
    const pending = pendingFromJson(directory.getSetting(pendingSettingKey(alias.id)));
    if (!pending) return this.verify(alias, password);
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
        this.core.revokeSessions(alias.id, 'password-changed');
        keyRing.drop(alias.id, 'manual');
        await mailboxes.rekey(alias.mailboxId, other, keys.mailboxKey);
      }
      directory.transaction(() => {
        if (!timingSafeEqual(directory.requireAlias(alias.address).verifier, chosen.verifier)) directory.updateAliasKeys(alias.id, chosen);
        // The app passwords follow the side kept (the crash may have come before or after they were re-sealed).
        resealAppPasswords(directory, alias.id, { mailboxKey: keys.mailboxKey, privateKey });
        directory.setSetting(pendingSettingKey(alias.id), undefined);
      });
      logger.warn({ event: 'alias.password_change_recovered', aliasId: alias.id, kept: side === 'old' ? 'old password' : 'new password' }, 'an interrupted password change was resolved');
      return { mailboxKey: keys.mailboxKey, privateKey };
    } catch (error) {
      wipe(keys.mailboxKey);
      wipe(privateKey);
      throw error;
    } finally {
      wipe(other);
    }
  }
}
