// Changing an alias password: new keys derived, the mailbox file re-keyed, the directory row updated, with
// a durable recovery record first so a crash at any step is resolved at the next login (see recovery.ts).
import { deriveAliasKeys, newSalt, wipe, wrapSecret, type AliasMaterial } from '../crypto/index.js';
import type { AliasRecord } from '../directory/index.js';
import { resealAppPasswords } from './app-passwords.js';
import { AliasLocked, AuthFailed, errorName } from './errors.js';
import { chooseSecret, credentialsOf, privateKeyAad } from './keys.js';
import { crashPointForTest, makePendingChange, pendingSettingKey, pendingToJson, PENDING_PREFIX, type Credentials } from './recovery.js';
import type { AccountsCore } from './types.js';
import type { PasswordVerifier } from './verify.js';

export class PasswordChange {
  constructor(
    private readonly core: AccountsCore,
    private readonly verifier: PasswordVerifier,
    /** Called after the keys of an unlocked alias changed: mail sealed during the re-key is brought in. */
    private readonly onRekeyed: (alias: AliasRecord) => void,
  ) {}

  /**
   * Changes an alias password and re-keys its mailbox. oldPassword null = admin change, which needs the
   * alias unlocked (its keys in the key ring). newPassword null/undefined = generate one (returned once).
   */
  async change(address: string, oldPassword: string | null, newPassword?: string | null): Promise<{ password?: string }> {
    const { directory, keyRing, mailboxes, logger, kdf } = this.core;
    let alias = directory.requireAlias(address);
    const { secret, generated } = chooseSecret(newPassword, alias.address);
    let material: AliasMaterial | null;
    if (oldPassword !== null) {
      material = await this.verifier.verify(alias, oldPassword); // also finishes an earlier interrupted change
      if (!material) throw new AuthFailed();
      alias = directory.requireAlias(address);
    } else {
      if (directory.getSetting(pendingSettingKey(alias.id)) !== undefined) throw new AliasLocked(alias.displayAddress); // needs a password to resolve
      material = keyRing.get(alias.id);
      if (!material) throw new AliasLocked(alias.displayAddress);
    }
    const salt = newSalt();
    const keys = await deriveAliasKeys(secret, salt, kdf);
    const pendingKey = pendingSettingKey(alias.id);
    try {
      const wrappedPrivateKey = wrapSecret(keys.wrappingKey, material.privateKey, privateKeyAad(alias.id));
      const next: Credentials = { salt, kdf, verifier: keys.verifier, wrappedPrivateKey };
      // Recovery record first (durable in the directory): a crash between the re-key of the file and the
      // row update below is resolved at the next login with either password (see recovery.ts).
      const pending = makePendingChange(alias.id, credentialsOf(alias), next, material.mailboxKey, keys.mailboxKey);
      directory.setSetting(pendingKey, pendingToJson(pending));
      crashPointForTest('pending-saved');
      // Sessions holding the old key end now (IMAP BYE, POP3 close) instead of failing on a closed handle.
      this.core.revokeSessions(alias.id, 'password-changed');
      try {
        await mailboxes.rekey(alias.mailboxId, material.mailboxKey, keys.mailboxKey);
      } catch (error) {
        await this.settleFailedRekey(alias, material.mailboxKey);
        throw error;
      }
      crashPointForTest('rekeyed');
      try {
        directory.transaction(() => {
          directory.updateAliasKeys(alias.id, next);
          // App passwords get the new mailbox key sealed to their own public keys (no app password needed).
          resealAppPasswords(directory, alias.id, { mailboxKey: keys.mailboxKey, privateKey: material.privateKey });
          directory.setSetting(pendingKey, undefined);
        });
      } catch (error) {
        // The directory refused (busy, disk full): put the old key back so the old password keeps working.
        await mailboxes.rekey(alias.mailboxId, keys.mailboxKey, material.mailboxKey);
        this.clearPending(alias.id);
        throw error;
      }
      crashPointForTest('committed');
      keyRing.forgetPassword(alias.id);
      if (keyRing.has(alias.id)) {
        keyRing.put(alias.id, { mailboxKey: keys.mailboxKey, privateKey: material.privateKey });
        // Mail that arrived during the re-key was sealed into the queue: bring it in now.
        this.onRekeyed(alias);
      }
      logger.info({ event: 'alias.password_changed', aliasId: alias.id }, 'alias password changed');
      return generated ? { password: secret } : {};
    } finally {
      wipe(keys.mailboxKey);
      wipe(keys.wrappingKey);
      wipe(material.mailboxKey);
      wipe(material.privateKey);
    }
  }

  /** Ids of aliases whose password change was interrupted (resolved at their next login). */
  pending(): string[] {
    return Object.keys(this.core.directory.getSettings())
      .filter((key) => key.startsWith(PENDING_PREFIX))
      .map((key) => key.slice(PENDING_PREFIX.length));
  }

  /** Removes the alias's recovery record, if any (failures are logged: the next login resolves it). */
  clearPending(aliasId: string): void {
    const { directory, logger } = this.core;
    try {
      if (directory.getSetting(pendingSettingKey(aliasId)) !== undefined) directory.setSetting(pendingSettingKey(aliasId), undefined);
    } catch (error) {
      logger.warn({ event: 'alias.pending_clear_failed', aliasId, err: errorName(error) }, 'could not clear a password-change record');
    }
  }

  /** After a failed re-key: if the file still opens with the old key the change never happened — drop the record. */
  private async settleFailedRekey(alias: AliasRecord, oldKey: Buffer): Promise<void> {
    try {
      if (await this.verifier.opensWith(alias, oldKey)) this.clearPending(alias.id);
    } catch {
      // Left for the next login to resolve.
    }
  }
}
