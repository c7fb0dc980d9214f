// Configuration errors. UserError itself lives in server/errors.ts; it is re-exported here so modules
// that still import it from config/ keep working.
import { UserError } from '../errors.js';

export { UserError, isUserError } from '../errors.js';

/** A configuration value (flag, SEALPOST_* variable or saved setting) is invalid. */
export class ConfigError extends UserError {
  constructor(message: string) {
    super(message, 'CONFIG');
  }
}
