// App passwords of aliases in sealpost.db (encrypted with the app key): per row the owner's label, the
// verifier and key material of one app password (never the password), and when and from where it was
// last used. Rows go with their alias (ON DELETE CASCADE).
import type { KdfParams } from '../crypto/types.js';
import type { CachedPrepare } from '../sqlite.js';

/** One app password as stored: its key material and what the owner sees. */
export interface AppPasswordRecord {
  readonly id: string;
  readonly aliasId: string;
  readonly name: string;
  readonly salt: Buffer;
  readonly kdf: KdfParams;
  readonly verifier: Buffer;
  readonly publicKey: Buffer;
  readonly wrappedPrivateKey: Buffer;
  /** The alias's mailbox key and private key, sealed to publicKey. */
  readonly sealedKeys: Buffer;
  readonly created: Date;
  readonly lastUsed: Date | null;
  readonly lastIp: string | null;
}

export type NewAppPassword = Omit<AppPasswordRecord, 'created' | 'lastUsed' | 'lastIp'>;

interface AppPasswordRow {
  id: string;
  alias_id: string;
  name: string;
  salt: Buffer;
  kdf: string;
  verifier: Buffer;
  public_key: Buffer;
  wrapped_private_key: Buffer;
  sealed_keys: Buffer;
  created: string;
  last_used: string | null;
  last_ip: string | null;
}

type Audit = (event: string, aliasId: string, detail: Readonly<Record<string, string | number>>) => void;

export class AppPasswordStore {
  constructor(
    private readonly sql: CachedPrepare,
    private readonly parseKdf: (json: string) => KdfParams,
    private readonly audit: Audit,
  ) {}

  /** The alias's app passwords, oldest first. */
  list(aliasId: string): AppPasswordRecord[] {
    return this.sql<[string], AppPasswordRow>('SELECT * FROM app_passwords WHERE alias_id = ? ORDER BY created, id').all(aliasId).map((row) => this.toRecord(row));
  }

  count(aliasId: string): number {
    return this.sql<[string], { n: number }>('SELECT count(*) AS n FROM app_passwords WHERE alias_id = ?').get(aliasId)?.n ?? 0;
  }

  get(aliasId: string, id: string): AppPasswordRecord | null {
    const row = this.sql<[string, string], AppPasswordRow>('SELECT * FROM app_passwords WHERE alias_id = ? AND id = ?').get(aliasId, id);
    return row ? this.toRecord(row) : null;
  }

  /** Stores a new app password (the caller checks the cap and that the name is free, in one transaction). */
  insert(entry: NewAppPassword): AppPasswordRecord {
    this.sql('INSERT INTO app_passwords (id, alias_id, name, salt, kdf, verifier, public_key, wrapped_private_key, sealed_keys, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
      entry.id,
      entry.aliasId,
      entry.name,
      entry.salt,
      JSON.stringify(entry.kdf),
      entry.verifier,
      entry.publicKey,
      entry.wrappedPrivateKey,
      entry.sealedKeys,
      new Date().toISOString(),
    );
    this.audit('alias.app_password_added', entry.aliasId, { appPasswordId: entry.id });
    const stored = this.get(entry.aliasId, entry.id);
    if (!stored) throw new Error('app password not stored');
    return stored;
  }

  /** Deletes one; false when it was not there. */
  remove(aliasId: string, id: string): boolean {
    const removed = this.sql('DELETE FROM app_passwords WHERE alias_id = ? AND id = ?').run(aliasId, id).changes === 1;
    if (removed) this.audit('alias.app_password_revoked', aliasId, { appPasswordId: id });
    return removed;
  }

  /** Replaces the sealed alias keys of one app password (after the alias password changed). */
  reseal(id: string, sealedKeys: Uint8Array): void {
    this.sql('UPDATE app_passwords SET sealed_keys = ? WHERE id = ?').run(Buffer.from(sealedKeys), id);
  }

  /** Records a login with it: when and from which client address. */
  touch(id: string, ip: string): void {
    this.sql('UPDATE app_passwords SET last_used = ?, last_ip = ? WHERE id = ?').run(new Date().toISOString(), ip.slice(0, 64), id);
  }

  private toRecord(row: AppPasswordRow): AppPasswordRecord {
    return {
      id: row.id,
      aliasId: row.alias_id,
      name: row.name,
      salt: row.salt,
      kdf: this.parseKdf(row.kdf),
      verifier: row.verifier,
      publicKey: row.public_key,
      wrappedPrivateKey: row.wrapped_private_key,
      sealedKeys: row.sealed_keys,
      created: new Date(row.created),
      lastUsed: row.last_used ? new Date(row.last_used) : null,
      lastIp: row.last_ip,
    };
  }
}
