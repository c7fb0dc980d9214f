// Every bound on a Sieve script and its run (docs/security.md). The filter may override them from settings.

export interface SieveLimits {
  /** Largest script accepted, in bytes (UTF-8). */
  readonly maxScriptBytes: number;
  /** Deepest nesting of blocks and tests together. */
  readonly maxNesting: number;
  /** Most strings in one string list. */
  readonly maxListItems: number;
  /** Most actions (keep, fileinto, redirect, vacation, discard) one run may take. */
  readonly maxActions: number;
  /** Most redirects one run may send. */
  readonly maxRedirects: number;
  /** Most distinct variables one run may set (RFC 5229). */
  readonly maxVariables: number;
  /** Longest value a variable holds, in characters; longer values are truncated (RFC 5229 §3: at least 4000). */
  readonly maxVariableLength: number;
  /** Most match variables (${0}..${N}) kept from one :matches (RFC 5229 §3.2 requires at least ${0}..${9}). */
  readonly maxMatchVariables: number;
  /** Evaluation steps (comparisons, characters matched) one run may spend before it stops with an implicit keep. */
  readonly maxSteps: number;
  /** Bytes of the message body the body test examines. */
  readonly maxBodyBytes: number;
  /** Vacation :days bounds (RFC 5230 §4.1: the site may clamp them). */
  readonly vacationMinDays: number;
  readonly vacationMaxDays: number;
}

export const SIEVE_LIMITS: SieveLimits = Object.freeze({
  maxScriptBytes: 64 * 1024,
  maxNesting: 24,
  maxListItems: 1024,
  maxActions: 32,
  maxRedirects: 4,
  maxVariables: 128,
  maxVariableLength: 4096,
  maxMatchVariables: 10,
  maxSteps: 2_000_000,
  maxBodyBytes: 1024 * 1024,
  vacationMinDays: 1,
  vacationMaxDays: 30,
});
