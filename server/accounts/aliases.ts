// Creating an alias (its keys, its encrypted mailbox file and its directory row, all or nothing) and
// removing one (row, mailbox file, queue file, keys, sessions).
import crypto from 'node:crypto';
import { deriveAliasKeys, generateSealKeyPair, newSalt, wipe, wrapSecret } from '../crypto/index.js';
import type { AliasId, AliasRecord } from '../directory/index.js';
import { UserError } from '../errors.js';
import type { MailboxId } from '../mailbox/types.js';
import type { Drainer } from './drainer.js';
import { chooseSecret, privateKeyAad } from './keys.js';
import type { PasswordChange } from './password-change.js';
import type { AccountsCore, CreateAliasOptions, CreatedAlias } from './types.js';

export class AliasLifecycle {
  constructor(
    private readonly core: AccountsCore,
    private readonly passwords: PasswordChange,
    private readonly drainer: Drainer,
  ) {}

  /**
   * Creates an alias and its encrypted mailbox. Without a password one is generated (returned once).
   * Throws InvalidAddress, UnknownDomain, AliasExists, WeakPassword. A half-made mailbox file is removed on failure.
   */
  async create(address: string, password?: string | null, options: CreateAliasOptions = {}): Promise<CreatedAlias> {
    const { directory, mailboxes, logger, kdf } = this.core;
    const normalized = directory.validateNewAddress(address);
    const { secret, generated } = chooseSecret(password, normalized.address);
    if (options.quotaBytes !== undefined && options.quotaBytes !== null && !(Number.isSafeInteger(options.quotaBytes) && options.quotaBytes > 0)) {
      throw new UserError('The quota must be a positive number of bytes.', 'BAD_QUOTA');
    }
    const aliasId = crypto.randomUUID() as AliasId;
    const mailboxId = crypto.randomUUID() as MailboxId;
    const salt = newSalt();
    const keys = await deriveAliasKeys(secret, salt, kdf);
    const pair = generateSealKeyPair();
    try {
      const wrappedPrivateKey = wrapSecret(keys.wrappingKey, pair.privateKey, privateKeyAad(aliasId));
      await mailboxes.create(mailboxId, keys.mailboxKey, options.quotaBytes ?? null);
      try {
        const alias = directory.insertAlias({
          id: aliasId,
          address: normalized.address,
          mailboxId,
          salt,
          kdf,
          verifier: keys.verifier,
          publicKey: pair.publicKey,
          wrappedPrivateKey,
          quotaBytes: options.quotaBytes ?? null,
        });
        logger.info({ event: 'alias.created', aliasId, mailboxId }, 'alias created');
        return generated ? { alias, password: secret } : { alias };
      } catch (error) {
        await mailboxes.remove(mailboxId).catch(() => undefined);
        throw error;
      }
    } finally {
      wipe(keys.mailboxKey);
      wipe(keys.wrappingKey);
      wipe(pair.privateKey);
    }
  }

  /** Deletes an alias: directory row, mailbox file, queue file, keys. */
  async remove(address: string): Promise<AliasRecord> {
    const { directory, keyRing, mailboxes, queue, logger } = this.core;
    const alias = directory.requireAlias(address);
    this.core.revokeSessions(alias.id, 'removed');
    keyRing.drop(alias.id, 'manual');
    directory.deleteAlias(alias.id);
    this.passwords.clearPending(alias.id);
    await this.drainer.runningDrain(alias.id);
    this.drainer.forget(alias.id);
    await mailboxes.remove(alias.mailboxId);
    if (queue) await queue.remove(alias.mailboxId);
    logger.info({ event: 'alias.removed', aliasId: alias.id, mailboxId: alias.mailboxId }, 'alias removed');
    return alias;
  }
}
