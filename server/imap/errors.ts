// The one place where errors become IMAP tagged replies (RFC 5530 response codes).
// Hooks throw the store's typed errors (server/mailbox/errors.ts) or ImapError; nothing else decides reply text.
import { AuthFailed, TooManyAttempts } from '../accounts/index.js';
import { MailboxError } from '../mailbox/errors.js';

export type ImapResponseCode =
  | 'TRYCREATE'
  | 'OVERQUOTA'
  | 'NONEXISTENT'
  | 'ALREADYEXISTS'
  | 'AUTHENTICATIONFAILED'
  | 'CONTACTADMIN'
  | 'UNAVAILABLE'
  | 'CANNOT'
  | 'SERVERBUG'
  | 'LIMIT'
  | 'BADCHARSET (UTF-8 US-ASCII)'
  | 'PRIVACYREQUIRED'
  | 'CLIENTBUG';

export interface ImapReply {
  readonly response: 'OK' | 'NO' | 'BAD';
  readonly code: ImapResponseCode | string | null;
  readonly message: string;
}

/** An IMAP-level refusal raised by our own hooks (bad argument, limit, policy). */
export class ImapError extends Error {
  constructor(
    readonly reply: ImapReply,
  ) {
    super(reply.message);
    this.name = 'ImapError';
  }
}

export const imapNo = (code: ImapResponseCode | null, message: string): ImapError => new ImapError({ response: 'NO', code, message });
export const imapBad = (message: string): ImapError => new ImapError({ response: 'BAD', code: null, message });

/**
 * What the failing operation was about, so NoSuchFolder says TRYCREATE for a COPY/APPEND target
 * (the client may create it and retry) and NONEXISTENT everywhere else.
 */
export type ErrorRole = 'folder' | 'destination' | 'auth';

/** Shape of the errors accounts.authenticate throws (server/accounts): a code string, optionally a retry hint. */
interface CodedError {
  readonly code?: unknown;
  readonly name?: unknown;
}

const AUTH_FAILED = /^(AUTH_FAILED|INVALID_CREDENTIALS|BAD_CREDENTIALS|UNKNOWN_ALIAS|WRONG_PASSWORD|AuthenticationFailed)$/i;
const AUTH_THROTTLED = /(THROTTL|LOCKED_OUT|LOCKOUT|TOO_MANY|RATE)/i;
const AUTH_DISABLED = /(DISABLED|SUSPENDED)/i;

function codeOf(error: unknown): string {
  if (error && typeof error === 'object') {
    const { code, name } = error as CodedError;
    if (typeof code === 'string' && code) return code;
    if (typeof name === 'string') return name;
  }
  return '';
}

/** Maps any thrown value to the reply the client sees. Never includes internal details for unknown errors. */
export function replyFor(error: unknown, role: ErrorRole): ImapReply {
  if (error instanceof ImapError) return error.reply;
  if (error instanceof MailboxError) {
    switch (error.code) {
      case 'NO_SUCH_FOLDER':
        return role === 'destination'
          ? { response: 'NO', code: 'TRYCREATE', message: 'Destination folder does not exist' }
          : { response: 'NO', code: 'NONEXISTENT', message: 'No such folder' };
      case 'FOLDER_EXISTS':
        return { response: 'NO', code: 'ALREADYEXISTS', message: 'Folder already exists' };
      case 'NO_SUCH_MESSAGE':
        return { response: 'NO', code: null, message: 'No such message' };
      case 'OVER_QUOTA':
        return { response: 'NO', code: 'OVERQUOTA', message: 'Mailbox is over quota' };
      case 'INVALID':
        return { response: 'NO', code: 'CANNOT', message: safeText(error.message, 'Request not allowed') };
      case 'MAILBOX_LOCKED':
      case 'WRONG_KEY':
        return { response: 'NO', code: 'UNAVAILABLE', message: 'Mailbox is not available right now, try again later' };
      case 'RETRYABLE':
        return { response: 'NO', code: 'UNAVAILABLE', message: 'Temporary failure, try again later' };
    }
  }
  if (error instanceof AuthFailed) return { response: 'NO', code: 'AUTHENTICATIONFAILED', message: 'Invalid credentials' };
  if (error instanceof TooManyAttempts) {
    return { response: 'NO', code: 'CONTACTADMIN', message: 'Too many failed logins, try again later' };
  }
  if (role === 'auth') {
    const code = codeOf(error);
    if (AUTH_THROTTLED.test(code)) {
      return { response: 'NO', code: 'CONTACTADMIN', message: 'Too many failed logins, try again later' };
    }
    if (AUTH_DISABLED.test(code)) return { response: 'NO', code: 'CONTACTADMIN', message: 'Account disabled' };
    if (AUTH_FAILED.test(code)) return { response: 'NO', code: 'AUTHENTICATIONFAILED', message: 'Invalid credentials' };
    return { response: 'NO', code: 'UNAVAILABLE', message: 'Authentication is temporarily unavailable' };
  }
  return { response: 'NO', code: 'SERVERBUG', message: 'Internal error, the failure was logged' };
}

/** True when the error is expected in normal operation (a refusal), false when it is a bug worth logging loudly. */
export function isExpected(error: unknown): boolean {
  if (error instanceof ImapError || error instanceof MailboxError) return true;
  const code = codeOf(error);
  return AUTH_FAILED.test(code) || AUTH_THROTTLED.test(code) || AUTH_DISABLED.test(code);
}

/** Loggable summary of an error: name and code only (messages may carry folder names or addresses). */
export function errorSummary(error: unknown): { name: string; code: string } {
  if (error instanceof Error) return { name: error.name, code: codeOf(error) };
  return { name: typeof error, code: '' };
}

// Store messages for INVALID are written for users; keep them one short printable line.
function safeText(text: string, fallback: string): string {
  const line = [...text].map((c) => (c.charCodeAt(0) < 0x20 ? ' ' : c)).join('').trim();
  return line && line.length <= 200 ? line : fallback;
}
