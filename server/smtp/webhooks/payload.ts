// The JSON body POSTed to a webhook for one received message, and its signature.
// Signature header: `X-Sealpost-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressObject, ParsedMail } from 'mailparser';

export interface WebhookAuthResults {
  readonly spf: string;
  readonly dkim: string;
  readonly dmarc: string;
  readonly arc: string;
}

export interface WebhookMessageInput {
  /** Delivery id shared by every webhook of this message. */
  readonly id: string;
  readonly alias: string;
  readonly envelopeFrom: string;
  readonly envelopeTo: readonly string[];
  readonly receivedAt: Date;
  readonly raw: Buffer;
  readonly auth: WebhookAuthResults | null;
  /** Include the raw message, base64 (default false). */
  readonly includeRaw?: boolean;
}

interface AddressJson {
  readonly name: string;
  readonly address: string;
}

function addresses(value: AddressObject | AddressObject[] | undefined): AddressJson[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  const out: AddressJson[] = [];
  for (const group of list) {
    for (const entry of group.value) {
      if (entry.address) out.push({ name: entry.name, address: entry.address });
      for (const member of entry.group ?? []) if (member.address) out.push({ name: member.name, address: member.address });
    }
  }
  return out;
}

/** Parses the message and builds the JSON body (UTF-8 bytes). */
export async function buildWebhookBody(input: WebhookMessageInput): Promise<Buffer> {
  // mailparser costs ~200 ms to load: imported at the first webhook, not by every CLI command.
  const { simpleParser } = await import('mailparser');
  const parsed: ParsedMail = await simpleParser(input.raw, { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true });
  const body = {
    event: 'message.received',
    id: input.id,
    receivedAt: input.receivedAt.toISOString(),
    alias: input.alias,
    envelope: { from: input.envelopeFrom, to: input.envelopeTo },
    messageId: parsed.messageId ?? null,
    date: parsed.date ? parsed.date.toISOString() : null,
    subject: parsed.subject ?? null,
    from: addresses(parsed.from),
    to: addresses(parsed.to),
    cc: addresses(parsed.cc),
    replyTo: addresses(parsed.replyTo),
    headers: parsed.headerLines.map((h) => ({ key: h.key, line: h.line })),
    text: parsed.text ?? null,
    html: typeof parsed.html === 'string' ? parsed.html : null,
    attachments: parsed.attachments.map((a) => ({
      filename: a.filename ?? null,
      contentType: a.contentType,
      size: a.size,
      contentId: a.contentId ?? null,
      disposition: a.contentDisposition ?? null,
      sha256: createHash('sha256').update(a.content).digest('hex'),
    })),
    authentication: input.auth,
    size: input.raw.length,
    ...(input.includeRaw ? { raw: input.raw.toString('base64') } : {}),
  };
  return Buffer.from(JSON.stringify(body), 'utf8');
}

export const SIGNATURE_HEADER = 'x-sealpost-signature';

/** The signature header value for a body sent at `timestamp` (unix seconds). */
export function signWebhookBody(secret: string, body: Buffer, timestamp: number): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/** Verifies a signature header (what a receiver does); toleranceSec bounds replay (default 300). */
export function verifyWebhookSignature(secret: string, body: Buffer, header: string, nowSec = Math.floor(Date.now() / 1000), toleranceSec = 300): boolean {
  const fields = new Map(header.split(',').map((part) => part.trim().split('=', 2) as [string, string]));
  const t = Number(fields.get('t'));
  const v1 = fields.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(nowSec - t) > toleranceSec || !/^[0-9a-f]{64}$/.test(v1)) return false;
  const expected = Buffer.from(signWebhookBody(secret, body, t).split('v1=')[1] ?? '', 'hex');
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}
