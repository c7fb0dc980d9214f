// SMTP replies the MX gives, with their enhanced status codes (RFC 3463), and the one place where
// errors from the store, the queue and the directory become SMTP replies.
import { MailboxError, Retryable } from '../../mailbox/errors.js';

/** An SMTP error reply: `code enhanced text`. smtp-server reads `responseCode`. */
export class SmtpReply extends Error {
  readonly responseCode: number;
  constructor(
    code: number,
    readonly enhanced: string,
    text: string,
  ) {
    // The enhanced code travels in the text; the server adapter sends it as-is (see server.ts).
    super(`${enhanced} ${text}`);
    this.responseCode = code;
    this.name = 'SmtpReply';
  }
}

export const REPLIES = {
  unknownRecipient: () => new SmtpReply(550, '5.1.1', 'No such user here'),
  disabledRecipient: () => new SmtpReply(550, '5.1.1', 'No such user here'),
  badRecipient: () => new SmtpReply(553, '5.1.3', 'Invalid recipient address'),
  overQuota: () => new SmtpReply(452, '4.2.2', 'Mailbox is over quota, try again later'),
  tooLarge: (limit: number) => new SmtpReply(552, '5.3.4', `Message exceeds the maximum size of ${limit} bytes`),
  tooManyRecipients: () => new SmtpReply(452, '4.5.3', 'Too many recipients'),
  senderRate: () => new SmtpReply(450, '4.7.1', 'Too many messages from this sender, try again later'),
  tooManyConnections: () => new SmtpReply(421, '4.7.0', 'Too many connections from your address'),
  serverBusy: () => new SmtpReply(421, '4.7.0', 'Too many connections, try again later'),
  tooManyBadRecipients: () => new SmtpReply(421, '4.7.0', 'Too many invalid recipients, closing connection'),
  dmarcReject: () => new SmtpReply(550, '5.7.1', 'Message refused: DMARC policy of the sender domain is reject and the message failed DMARC'),
  loop: () => new SmtpReply(554, '5.4.6', 'Mail loop detected: too many hops'),
  badSender: () => new SmtpReply(553, '5.1.7', 'Invalid sender address'),
  diskFull: () => new SmtpReply(452, '4.3.1', 'Insufficient system storage, nothing was stored; please try again later'),
  temporary: () => new SmtpReply(451, '4.3.0', 'Temporary failure, nothing was stored; please try again later'),
  dnsTemporary: () => new SmtpReply(451, '4.4.3', 'Temporary DNS failure, try again later'),
  reportRefused: (reason: string) => new SmtpReply(550, '5.6.0', `Report not accepted: ${reason}`),
} as const;

/** Maps a failure while storing a message to the reply the sender must see. */
export function storeErrorReply(error: unknown): SmtpReply {
  if (error instanceof SmtpReply) return error;
  if (error instanceof MailboxError && error.code === 'OVER_QUOTA') return REPLIES.overQuota();
  if (isDiskFull(error)) return REPLIES.diskFull();
  return REPLIES.temporary();
}

/** Disk full anywhere on the way (mailbox, sealed queue, file writes), also when wrapped as a cause. */
function isDiskFull(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof Retryable && e.diskFull) return true;
    const code = String((e as { code?: unknown }).code ?? '');
    if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') return true;
  }
  return false;
}
