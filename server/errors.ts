// Errors a user can fix (bad flag, bad address, weak password…), shared by every layer. The CLI prints
// their message as one sentence without a stack trace, the admin API answers with their code, and each
// protocol maps them to its own reply; anything else is a bug and is reported in full.

export class UserError extends Error {
  /** Stable machine-readable code (used by the admin API and tests). */
  readonly code: string;
  /** What the user can do about it, one sentence (the CLI prints it on a second line). */
  readonly hint?: string;
  constructor(message: string, code = 'USER_ERROR', options: { readonly hint?: string; readonly cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    if (options.hint) this.hint = options.hint;
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}
