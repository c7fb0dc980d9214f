// The one place ManageSieve learns what the Sieve language part of Sealpost supports: the extensions it
// advertises (SIEVE capability), MAXREDIRECTS, and the checker PUTSCRIPT and CHECKSCRIPT run (RFC 5804 §2.6, §2.12).
import { checkSieve, SIEVE_EXTENSIONS, SIEVE_LIMITS } from '../sieve/index.js';

export type SieveCheck = { readonly ok: true; readonly warnings?: readonly string[] } | { readonly ok: false; readonly line: number; readonly message: string };

export interface SieveChecker {
  /** The extensions (RFC 5228 "require" names) the interpreter supports, for the SIEVE capability. */
  readonly extensions: readonly string[];
  /** MAXREDIRECTS: redirects one script may do, when the interpreter caps them. */
  readonly maxRedirects: number | null;
  check(script: string): SieveCheck;
}

export const sieveChecker: SieveChecker = {
  extensions: [...SIEVE_EXTENSIONS],
  maxRedirects: SIEVE_LIMITS.maxRedirects,
  check: (script) => checkSieve(script),
};
