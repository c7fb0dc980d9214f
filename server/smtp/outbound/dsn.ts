// Delivery status notifications (RFC 3464 multipart/report) for bounces and delay warnings.
// They are delivered into the sender's own mailbox (never sent over SMTP), so they cannot loop.
import { randomUUID } from 'node:crypto';

export interface DsnRecipient {
  readonly rcpt: string;
  /** Enhanced status code, e.g. '5.1.1' or '4.4.7'. */
  readonly status: string;
  readonly diagnostic: string | null;
  readonly remoteMta: string | null;
}

export interface DsnInput {
  readonly action: 'failed' | 'delayed';
  readonly reportingMta: string;
  readonly sender: string;
  readonly arrivalDate: Date;
  readonly recipients: readonly DsnRecipient[];
  /** The original message; only its header block is attached. */
  readonly original: Buffer;
  readonly now?: Date;
  /** For delayed: when we will give up. */
  readonly willRetryUntil?: Date;
}

export function rfc5322Date(date: Date): string {
  return date.toUTCString().replace('GMT', '+0000');
}

/** The enhanced status code out of an SMTP reply, or a default from the basic code. */
export function enhancedStatus(code: number, response: string): string {
  const m = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(response);
  if (m) return `${m[1]}.${m[2]}.${m[3]}`;
  if (code >= 500) return '5.0.0';
  if (code >= 400) return '4.0.0';
  return '5.0.0';
}

/** The header block of a message (up to and including the blank line), at most 64 KB. */
export function headerBlock(raw: Buffer): Buffer {
  let end = raw.indexOf('\r\n\r\n');
  let sepLen = 4;
  if (end < 0) {
    end = raw.indexOf('\n\n');
    sepLen = 2;
  }
  const block = end < 0 ? raw : raw.subarray(0, end + sepLen);
  return block.subarray(0, 65536);
}

const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ').trim();

export function buildDsn(input: DsnInput): Buffer {
  const now = input.now ?? new Date();
  const boundary = `sealpost-report-${randomUUID()}`;
  const failed = input.action === 'failed';
  const subject = failed ? 'Undelivered Mail Returned to Sender' : 'Delivery Status Notification (Delay)';
  const human = failed
    ? [
        'Your message could not be delivered to the following recipient(s):',
        '',
        ...input.recipients.map((r) => `  <${r.rcpt}>: ${oneLine(r.diagnostic ?? r.status)}`),
        '',
        'The original message headers are attached below.',
      ]
    : [
        'This is a warning only; you do not need to resend your message.',
        '',
        'Your message has not been delivered yet to the following recipient(s):',
        '',
        ...input.recipients.map((r) => `  <${r.rcpt}>: ${oneLine(r.diagnostic ?? r.status)}`),
        '',
        `Sealpost will keep trying${input.willRetryUntil ? ` until ${rfc5322Date(input.willRetryUntil)}` : ''}.`,
      ];
  const perRecipient = input.recipients.map((r) =>
    [
      `Final-Recipient: rfc822; ${r.rcpt}`,
      `Action: ${input.action}`,
      `Status: ${r.status}`,
      ...(r.remoteMta ? [`Remote-MTA: dns; ${r.remoteMta}`] : []),
      ...(r.diagnostic ? [`Diagnostic-Code: smtp; ${oneLine(r.diagnostic)}`] : []),
      `Last-Attempt-Date: ${rfc5322Date(now)}`,
      ...(input.willRetryUntil && !failed ? [`Will-Retry-Until: ${rfc5322Date(input.willRetryUntil)}`] : []),
    ].join('\r\n'),
  );
  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    `To: <${input.sender}>`,
    `Subject: ${subject}`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: <${randomUUID()}@${input.reportingMta}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;\r\n boundary="${boundary}"`,
  ].join('\r\n');
  const parts = [
    `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${human.join('\r\n')}\r\n`,
    `--${boundary}\r\nContent-Type: message/delivery-status\r\n\r\n` +
      `Reporting-MTA: dns; ${input.reportingMta}\r\nArrival-Date: ${rfc5322Date(input.arrivalDate)}\r\n\r\n` +
      perRecipient.join('\r\n\r\n') +
      '\r\n',
    `--${boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n`,
  ];
  return Buffer.concat([
    Buffer.from(`${head}\r\n\r\n${parts.join('')}`),
    headerBlock(input.original),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}
