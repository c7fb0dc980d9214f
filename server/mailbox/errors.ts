// Typed errors at the mailbox boundary; each protocol maps them to its own reply in one function.

export type MailboxErrorCode =
  | 'NO_SUCH_FOLDER'
  | 'FOLDER_EXISTS'
  | 'NO_SUCH_MESSAGE'
  | 'OVER_QUOTA'
  | 'WRONG_KEY'
  | 'MAILBOX_LOCKED'
  | 'INVALID'
  | 'RETRYABLE';

export class MailboxError extends Error {
  constructor(
    readonly code: MailboxErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The folder does not exist (IMAP: NO [TRYCREATE] / [NONEXISTENT]). */
export class NoSuchFolder extends MailboxError {
  constructor(message = 'No such folder') {
    super('NO_SUCH_FOLDER', message);
  }
}

/** A folder with that name already exists (IMAP: NO [ALREADYEXISTS]). */
export class FolderExists extends MailboxError {
  constructor(message = 'Folder already exists') {
    super('FOLDER_EXISTS', message);
  }
}

/** The message UID is not in the folder. */
export class NoSuchMessage extends MailboxError {
  constructor(message = 'No such message') {
    super('NO_SUCH_MESSAGE', message);
  }
}

/** The write would exceed the alias quota (IMAP: NO [OVERQUOTA], SMTP: 452 4.2.2). */
export class OverQuota extends MailboxError {
  constructor(message = 'Mailbox is over quota') {
    super('OVER_QUOTA', message);
  }
}

/** The key does not decrypt the file; the file was not modified. */
export class WrongKey extends MailboxError {
  constructor(message = 'Wrong key for mailbox') {
    super('WRONG_KEY', message);
  }
}

/** The mailbox is locked (no key in the key ring, or exclusively held by a restore/re-key). */
export class MailboxLocked extends MailboxError {
  constructor(message = 'Mailbox is locked') {
    super('MAILBOX_LOCKED', message);
  }
}

/** The request is malformed for the store (bad folder name, bad flag…). */
export class InvalidRequest extends MailboxError {
  constructor(message: string) {
    super('INVALID', message);
  }
}

/** A transient failure (disk full, busy); the caller may retry (SMTP 451/452, IMAP NO). */
export class Retryable extends MailboxError {
  constructor(
    message = 'Temporary failure, try again later',
    /** The disk (or its quota) is full: SMTP says 452 4.3.1, not a generic 451. */
    readonly diskFull = false,
  ) {
    super('RETRYABLE', message);
  }
}
