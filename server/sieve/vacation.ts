// When a vacation reply is due (RFC 5230 §4.5-4.6, RFC 3834 §2) and what it looks like (RFC 5230 §5). Pure: the
// caller keeps the "answered already" log and queues the reply with an empty envelope sender.
import { randomBytes } from 'node:crypto';
import libmime from 'libmime';
import type { SieveMessageView } from './message.js';
import type { SieveVacationAction } from './run.js';

/** Senders that are software, never a person (RFC 5230 §4.6, RFC 3834 §2). */
const ROBOT_LOCALPART = /^(mailer-daemon|postmaster|listserv|majordomo|no-?reply|do-?not-?reply|bounces?|owner-.*|.*-request|.*-owner|.*-bounces?)$/i;

/**
 * The address to answer, or null when no reply is due: a bounce (empty MAIL FROM), an automatic or bulk message,
 * a list message, a robot sender, or a message not addressed to one of the owner's addresses.
 */
export function vacationDue(message: SieveMessageView, ownAddresses: readonly string[]): string | null {
  const env = message.envelope;
  const sender = env ? env.from : (message.addresses('return-path')[0] ?? message.addresses('from')[0] ?? '');
  if (!sender || !sender.includes('@')) return null;
  const localpart = sender.slice(0, sender.lastIndexOf('@'));
  if (ROBOT_LOCALPART.test(localpart)) return null;
  const auto = message.header('auto-submitted');
  if (auto.some((v) => v.trim().split(/[\s;(]/)[0]!.toLowerCase() !== 'no')) return null;
  if (message.header('precedence').some((v) => /^(bulk|list|junk)$/i.test(v.trim()))) return null;
  for (const name of ['list-id', 'list-help', 'list-unsubscribe', 'list-subscribe', 'list-post', 'list-owner', 'list-archive', 'x-auto-response-suppress']) {
    if (message.header(name).length > 0) return null;
  }
  const own = new Set(ownAddresses.map((a) => a.toLowerCase()));
  const addressed = ['to', 'cc', 'bcc', 'resent-to', 'resent-cc', 'resent-bcc'].some((h) => message.addresses(h).some((a) => own.has(a.toLowerCase())));
  if (!addressed) return null;
  if (own.has(sender.toLowerCase())) return null;
  return sender;
}

export interface VacationReplyInput {
  readonly action: SieveVacationAction;
  readonly message: SieveMessageView;
  /** The alias address the reply comes from (when :from is absent or not the owner's). */
  readonly from: string;
  readonly to: string;
  readonly hostname: string;
  readonly now: Date;
}

const headerText = (value: string): string => libmime.encodeWords(value.replace(/[\r\n]+/g, ' '), 'Q', 52);

/** The reply (RFC 5230 §5): Auto-Submitted: auto-replied, In-Reply-To/References, "Auto: <subject>" by default. */
export function buildVacationReply(input: VacationReplyInput): Buffer {
  const { action, message } = input;
  const original = message.header('subject')[0] ?? '';
  const subject = action.subject ?? `Auto: ${original}`.trim();
  const messageId = message.header('message-id')[0]?.trim() ?? '';
  const references = [...(message.header('references')[0] ?? '').split(/\s+/).filter(Boolean), messageId].filter(Boolean);
  const lines = [
    `From: ${input.from}`,
    `To: ${input.to}`,
    `Subject: ${headerText(subject)}`,
    `Date: ${input.now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${randomBytes(12).toString('hex')}@${input.hostname}>`,
    'Auto-Submitted: auto-replied (vacation)',
    'Precedence: bulk',
    'MIME-Version: 1.0',
  ];
  if (messageId) lines.push(`In-Reply-To: ${messageId}`);
  if (references.length) lines.push(`References: ${references.join(' ')}`);
  let body: string;
  if (action.mime) {
    // :mime: the reason is a MIME entity of its own (RFC 5230 §4.4): its headers go on the reply.
    body = action.reason.replace(/\r?\n/g, '\r\n');
  } else {
    lines.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64');
    body = `\r\n${Buffer.from(action.reason, 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n`;
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n${body}`, 'utf8');
}
