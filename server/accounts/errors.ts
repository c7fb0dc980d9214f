// The errors accounts/ throws to its callers. Each protocol maps them to its own reply once (IMAP NO,
// POP3 -ERR, SMTP 535/454, HTTP 401/429).
import { UserError } from '../errors.js';

/** Wrong address or password, or a disabled alias (deliberately indistinguishable to the client). */
export class AuthFailed extends UserError {
  constructor() {
    super('Invalid address or password.', 'AUTH_FAILED');
  }
}

/** Too many failed logins from this IP or for this alias; retry after retryAfterMs. */
export class TooManyAttempts extends UserError {
  constructor(readonly retryAfterMs: number) {
    super(`Too many failed logins; try again in ${Math.max(1, Math.ceil(retryAfterMs / 60_000))} minute(s).`, 'TOO_MANY_ATTEMPTS');
  }
}

/** Why a login was refused, for each protocol's own reply (POP3 -ERR, SMTP 535/454, …). */
export type LoginRefusal = 'invalid-credentials' | 'too-many-attempts';

/** The refusal an authenticate() error stands for, or null when it is an internal failure (not the client's fault). */
export function loginRefusal(error: unknown): LoginRefusal | null {
  if (error instanceof TooManyAttempts) return 'too-many-attempts';
  if (error instanceof AuthFailed) return 'invalid-credentials';
  return null;
}

export class WeakPassword extends UserError {
  constructor(reason: string) {
    super(reason, 'WEAK_PASSWORD');
  }
}

/** An admin password change needs the mailbox key: the alias must be unlocked, or the current password given. */
export class AliasLocked extends UserError {
  constructor(address: string) {
    super(`The mailbox of ${address} is locked; give its current password (or unlock it first) to change the password.`, 'ALIAS_LOCKED');
  }
}

/** An error's class name, for logs (never its message, which may quote an address or a header). */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'error';
}
