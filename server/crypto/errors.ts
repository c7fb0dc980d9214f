// Typed errors of server/crypto. Messages never contain key material or plaintext.

/** Why a sealed box or wrapped secret could not be opened. */
export type SealErrorCode = 'bad-format' | 'bad-version' | 'bad-key' | 'auth-failed';

/** Thrown by unseal/unwrapSecret on any malformed, tampered, wrong-key or wrong-AAD input. */
export class SealError extends Error {
  readonly code: SealErrorCode;
  constructor(code: SealErrorCode, message: string) {
    super(message);
    this.name = 'SealError';
    this.code = code;
  }
}
