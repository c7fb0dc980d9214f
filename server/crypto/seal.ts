// Hybrid post-quantum sealed boxes (X25519 + ML-KEM-768 → HKDF-SHA256 → XChaCha20-Poly1305)
// and symmetric secret wrapping. ML-KEM-768 and HKDF from the audited @noble libraries; X25519 and the
// ChaCha20-Poly1305 core from Node's OpenSSL (native.ts). Our own fixed byte layouts below.
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { SealKeyPair } from './types.js';
import { SealError } from './errors.js';
import { concatBytes, randomBytes, wipe } from './bytes.js';
import { x25519Ephemeral, x25519Generate, x25519SecretKeyObject, x25519SharedWith, xchachaDecrypt, xchachaEncrypt } from './native.js';

/*
 * Layouts (version byte first so the format can evolve):
 *   publicKey  = 0x01 | x25519 public (32) | ML-KEM-768 encapsulation key (1184)          = 1217 bytes
 *   privateKey = 0x01 | x25519 secret (32) | x25519 public (32) | ML-KEM-768 decapsulation key (2400) = 2465 bytes
 *                (FIPS 203 dk embeds the encapsulation key at [1152, 2336), so unseal rebuilds the
 *                 recipient public key by slicing, with no scalar multiplication)
 *   sealed     = 0x01 | ephemeral x25519 public (32) | ML-KEM ciphertext (1088) | AEAD ciphertext+tag (n+16)
 * key‖nonce = HKDF-SHA256(ikm = ss_x25519 ‖ ss_mlkem, salt = SHA-256(header ‖ recipient publicKey),
 *                         info = "sealpost/seal/v1", 56 bytes). The AEAD key is single-use, so the nonce is derived too.
 * AEAD AAD = header ‖ caller's aad.
 *   wrapped    = 0x01 | nonce (24) | XChaCha20-Poly1305 ciphertext+tag, AAD = "sealpost/wrap/v1" ‖ caller's aad
 */
const SEAL_VERSION = 1;
const X_LEN = 32;
const KEM_PK_LEN = 1184;
const KEM_SK_LEN = 2400;
const KEM_CT_LEN = 1088;
const KEM_EK_OFFSET_IN_DK = 1152;
const TAG_LEN = 16;
export const SEAL_PUBLIC_KEY_BYTES = 1 + X_LEN + KEM_PK_LEN;
export const SEAL_PRIVATE_KEY_BYTES = 1 + 2 * X_LEN + KEM_SK_LEN;
const SEAL_HEADER_BYTES = 1 + X_LEN + KEM_CT_LEN;
/** Bytes a sealed box adds to its plaintext. */
export const SEAL_OVERHEAD_BYTES = SEAL_HEADER_BYTES + TAG_LEN;

const SEAL_INFO = new TextEncoder().encode('sealpost/seal/v1');
const WRAP_VERSION = 1;
const WRAP_NONCE_LEN = 24;
const WRAP_LABEL = new TextEncoder().encode('sealpost/wrap/v1');
const EMPTY = new Uint8Array(0);

/** A fresh hybrid key pair for an alias: its public half seals queued mail, its private half is wrapped by the alias key. */
export function generateSealKeyPair(): SealKeyPair {
  const { secretKey: xSecret, publicKey: xPublic } = x25519Generate();
  const kemSeed = randomBytes(64);
  const kem = ml_kem768.keygen(kemSeed);
  wipe(kemSeed);
  const publicKey = concatBytes(Uint8Array.of(SEAL_VERSION), xPublic, kem.publicKey);
  const privateKey = concatBytes(Uint8Array.of(SEAL_VERSION), xSecret, xPublic, kem.secretKey);
  wipe(xSecret);
  wipe(kem.secretKey);
  return { publicKey, privateKey };
}

function checkPublicKey(publicKey: Uint8Array): void {
  if (publicKey.length !== SEAL_PUBLIC_KEY_BYTES || publicKey[0] !== SEAL_VERSION) {
    throw new SealError('bad-key', 'Not a Sealpost v1 sealing public key.');
  }
}

/** The public key that belongs to a private key (derived, not stored). */
export function sealPublicKeyOf(privateKey: Uint8Array): Uint8Array {
  if (privateKey.length !== SEAL_PRIVATE_KEY_BYTES || privateKey[0] !== SEAL_VERSION) {
    throw new SealError('bad-key', 'Not a Sealpost v1 sealing private key.');
  }
  const xPublic = privateKey.subarray(1 + X_LEN, 1 + 2 * X_LEN);
  const dk = privateKey.subarray(1 + 2 * X_LEN);
  return concatBytes(Uint8Array.of(SEAL_VERSION), xPublic, dk.subarray(KEM_EK_OFFSET_IN_DK, KEM_EK_OFFSET_IN_DK + KEM_PK_LEN));
}

function sealKeyAndNonce(ssX: Uint8Array, ssKem: Uint8Array, header: Uint8Array, recipient: Uint8Array): Uint8Array {
  const ikm = concatBytes(ssX, ssKem);
  const salt = sha256(concatBytes(header, recipient));
  const okm = hkdf(sha256, ikm, salt, SEAL_INFO, 32 + 24);
  wipe(ikm);
  return okm;
}

/** Seals plaintext to a hybrid public key; only the private key holder can open it. Optional aad must match at unseal. */
export function seal(publicKey: Uint8Array, plaintext: Uint8Array, aad: Uint8Array = EMPTY): Buffer {
  checkPublicKey(publicKey);
  const xRecipient = publicKey.subarray(1, 1 + X_LEN);
  const kemRecipient = publicKey.subarray(1 + X_LEN);
  let ssX: Uint8Array;
  let ephPublic: Uint8Array;
  try {
    ({ publicKey: ephPublic, shared: ssX } = x25519Ephemeral(xRecipient));
  } catch {
    throw new SealError('bad-key', 'The sealing public key is not a valid X25519 key.');
  }
  const { cipherText: kemCt, sharedSecret: ssKem } = ml_kem768.encapsulate(kemRecipient);
  const header = concatBytes(Uint8Array.of(SEAL_VERSION), ephPublic, kemCt);
  const okm = sealKeyAndNonce(ssX, ssKem, header, publicKey);
  wipe(ssX);
  wipe(ssKem);
  const body = xchachaEncrypt(okm.subarray(0, 32), okm.subarray(32), plaintext, concatBytes(header, aad));
  wipe(okm);
  return concatBytes(header, body);
}

/** Opens a sealed box; throws SealError on any malformed, tampered, wrong-key or wrong-aad input. */
export function unseal(privateKey: Uint8Array, sealed: Uint8Array, aad: Uint8Array = EMPTY): Buffer {
  return sealOpener(privateKey)(sealed, aad);
}

/** Opens sealed boxes with sealed box and aad as arguments (see sealOpener). */
export type SealOpener = (sealed: Uint8Array, aad?: Uint8Array) => Buffer;

/**
 * unseal() for many boxes to one key: the key is checked, its public half rebuilt and its X25519 secret
 * loaded into OpenSSL once, not per box (the sealed-queue drain opens thousands in a row). The opener keeps
 * a reference to `privateKey`: wiping it afterwards disables the ML-KEM half (every open then fails).
 */
export function sealOpener(privateKey: Uint8Array): SealOpener {
  const recipient = sealPublicKeyOf(privateKey);
  const xSecret = x25519SecretKeyObject(privateKey.subarray(1, 1 + X_LEN), privateKey.subarray(1 + X_LEN, 1 + 2 * X_LEN));
  const kemSecret = privateKey.subarray(1 + 2 * X_LEN);
  return (sealed, aad = EMPTY) => {
    if (sealed.length < SEAL_OVERHEAD_BYTES) throw new SealError('bad-format', 'Sealed box is truncated.');
    if (sealed[0] !== SEAL_VERSION) throw new SealError('bad-version', `Unknown sealed box version ${sealed[0]}.`);
    const header = sealed.subarray(0, SEAL_HEADER_BYTES);
    const ephPublic = sealed.subarray(1, 1 + X_LEN);
    const kemCt = sealed.subarray(1 + X_LEN, SEAL_HEADER_BYTES);
    let ssX: Uint8Array;
    try {
      ssX = x25519SharedWith(xSecret, ephPublic);
    } catch {
      // A tampered ephemeral key can land on a low-order point; same outcome as a failed tag.
      throw new SealError('auth-failed', 'Sealed box failed authentication (tampered, wrong key or wrong context).');
    }
    const ssKem = ml_kem768.decapsulate(kemCt, kemSecret); // implicit rejection: bad ct → random secret
    const okm = sealKeyAndNonce(ssX, ssKem, header, recipient);
    wipe(ssX);
    wipe(ssKem);
    try {
      return xchachaDecrypt(okm.subarray(0, 32), okm.subarray(32), sealed.subarray(SEAL_HEADER_BYTES), concatBytes(header, aad));
    } catch {
      throw new SealError('auth-failed', 'Sealed box failed authentication (tampered, wrong key or wrong context).');
    } finally {
      wipe(okm);
    }
  };
}

function checkWrapKey(key: Uint8Array): void {
  if (key.length !== 32) throw new SealError('bad-key', 'A wrapping key must be 32 bytes.');
}

/** Encrypts a secret under a 32-byte key (XChaCha20-Poly1305, random nonce). Optional aad binds it to a context. */
export function wrapSecret(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array = EMPTY): Buffer {
  checkWrapKey(key);
  const nonce = randomBytes(WRAP_NONCE_LEN);
  const body = xchachaEncrypt(key, nonce, plaintext, concatBytes(WRAP_LABEL, aad));
  return concatBytes(Uint8Array.of(WRAP_VERSION), nonce, body);
}

/** Reverses wrapSecret; throws SealError when the key, aad or bytes are wrong. */
export function unwrapSecret(key: Uint8Array, wrapped: Uint8Array, aad: Uint8Array = EMPTY): Buffer {
  checkWrapKey(key);
  if (wrapped.length < 1 + WRAP_NONCE_LEN + TAG_LEN) throw new SealError('bad-format', 'Wrapped secret is truncated.');
  if (wrapped[0] !== WRAP_VERSION) throw new SealError('bad-version', `Unknown wrapped secret version ${wrapped[0]}.`);
  try {
    return xchachaDecrypt(key, wrapped.subarray(1, 1 + WRAP_NONCE_LEN), wrapped.subarray(1 + WRAP_NONCE_LEN), concatBytes(WRAP_LABEL, aad));
  } catch {
    throw new SealError('auth-failed', 'Wrapped secret failed authentication (wrong key or tampered).');
  }
}
