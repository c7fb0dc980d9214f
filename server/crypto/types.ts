// Public types of server/crypto. Implementations live beside this file; see ARCHITECTURE.md "Keys".

/** Parameters of the argon2id password KDF, stored per alias so they can be raised later. */
export interface KdfParams {
  readonly algorithm: 'argon2id';
  /** Memory cost in KiB. */
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
}

/** The three 32-byte keys HKDF splits an alias master key into. */
export interface AliasKeys {
  /** Raw SQLite3MultipleCiphers key of the alias mailbox file (cipher=chacha20). */
  readonly mailboxKey: Buffer;
  /** Stored in the directory; proves a password right before any file is touched. */
  readonly verifier: Buffer;
  /** Wraps (XChaCha20-Poly1305) the alias hybrid private key. */
  readonly wrappingKey: Buffer;
}

/** A hybrid X25519 + ML-KEM-768 key pair, serialized (our own fixed layout). */
export interface SealKeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}
