// The Received trace header the MX prepends (RFC 5321 §4.4). The recipient is named only when
// there is exactly one, so Bcc recipients of one transaction do not learn about each other.

export interface ReceivedInfo {
  readonly helo: string;
  readonly clientHostname: string | null;
  readonly ip: string;
  readonly hostname: string;
  readonly transactionId: string;
  readonly tls: { readonly version: string; readonly cipher: string } | null;
  readonly utf8: boolean;
  readonly recipients: readonly string[];
  readonly date: Date;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const pad = (n: number): string => String(n).padStart(2, '0');

/** RFC 5322 date-time in UTC. */
export function rfc5322Date(date: Date): string {
  return (
    `${DAYS[date.getUTCDay()]}, ${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}

// HELO text comes from the client: keep it to one printable token.
const clean = (text: string): string => text.replace(/[^\x21-\x7e]/g, '').slice(0, 255) || 'unknown';

export function receivedHeader(info: ReceivedInfo): string {
  const ipLiteral = info.ip.includes(':') ? `IPv6:${info.ip}` : info.ip;
  const from = `from ${clean(info.helo)} (${info.clientHostname ? clean(info.clientHostname) + ' ' : ''}[${ipLiteral}])`;
  const protocol = `${info.utf8 ? 'UTF8SMTP' : 'ESMTP'}${info.tls ? 'S' : ''}`;
  const tls = info.tls ? ` (${clean(info.tls.version)}:${clean(info.tls.cipher)})` : '';
  const rcpt = info.recipients.length === 1 ? `\r\n\tfor <${info.recipients[0]}>` : '';
  return `Received: ${from}\r\n\tby ${clean(info.hostname)} (Sealpost) with ${protocol}${tls} id ${clean(info.transactionId)}${rcpt};\r\n\t${rfc5322Date(info.date)}\r\n`;
}
