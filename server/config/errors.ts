// Errors a user can fix (bad flag, bad address, weak password…). The CLI prints their message as one
// sentence without a stack trace; anything else is a bug and is printed in full.

export class UserError extends Error {
  /** Stable machine-readable code (used by the admin API and tests). */
  readonly code: string;
  constructor(message: string, code = 'USER_ERROR') {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration value (flag, SEALPOST_* variable or saved setting) is invalid. */
export class ConfigError extends UserError {
  constructor(message: string) {
    super(message, 'CONFIG');
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}
