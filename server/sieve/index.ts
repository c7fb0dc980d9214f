// The Sieve mail filtering language (RFC 5228) with fileinto, envelope, imap4flags (RFC 5232), body (RFC 5173),
// variables (RFC 5229), vacation (RFC 5230) and copy (RFC 3894): the checker ManageSieve and the admin use, and the
// interpreter delivery runs. Pure: no I/O; the caller supplies the message and carries out the actions.
import { checkTree, SIEVE_EXTENSIONS } from './grammar.js';
import { parseSieve, SieveSyntaxError, type SieveCommandNode } from './parse.js';
import { SIEVE_LIMITS, type SieveLimits } from './limits.js';

export { SIEVE_EXTENSIONS, SIEVE_LIMITS, SieveSyntaxError };
export type { SieveLimits, SieveCommandNode };

export type SieveCheck = { ok: true } | { ok: false; line: number; message: string };

/** Parses and checks a script: syntax, known commands and tests, require, argument types and counts, limits. */
export function checkSieve(text: string, limits: SieveLimits = SIEVE_LIMITS): SieveCheck {
  try {
    compileSieve(text, limits);
    return { ok: true };
  } catch (error) {
    if (error instanceof SieveSyntaxError) return { ok: false, line: error.line, message: error.message };
    if (error instanceof RangeError) return { ok: false, line: 1, message: 'Script too complex to check' };
    throw error;
  }
}

/** Parses and checks a script, returning its commands; throws SieveSyntaxError. */
export function compileSieve(text: string, limits: SieveLimits = SIEVE_LIMITS): SieveCommandNode[] {
  const tree = parseSieve(text, limits);
  checkTree(tree);
  return tree;
}
