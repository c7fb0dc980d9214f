// The plaintext sealed into one queue row: our own fixed layout, padded so row sizes only show a 4 KiB bucket.
//   0x01 | u32 metaLength | meta JSON {id, receivedAt (ms), folder?, flags?, envelope?} | u32 rawLength | raw | zero padding
import { randomBytes } from '../crypto/index.js';

const ENVELOPE_VERSION = 1;
const PAD_TO = 4096;

/** Delivery metadata sealed with a queued message. */
export interface QueuedMeta {
  readonly receivedAt: Date;
  readonly folder?: string;
  readonly flags?: readonly string[];
  /** SMTP MAIL FROM ('' for a bounce) and the RCPT TO it came for (the Sieve envelope test); sealed, never plaintext. */
  readonly envelope?: { readonly from: string; readonly to: string };
}

/** One message taken out of the queue. */
export interface QueuedMessage {
  /** Stable random id (32 hex) of the queued item: the same on every drain attempt, for idempotent delivery. */
  readonly id: string;
  readonly raw: Buffer;
  readonly meta: QueuedMeta;
}

/** The envelope bytes could not be parsed (they authenticated, so this means a bug or a future format). */
export class EnvelopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

export function newQueueItemId(): string {
  return randomBytes(16).toString('hex');
}

export function encodeEnvelope(id: string, raw: Uint8Array, meta: QueuedMeta): Buffer {
  const receivedAt = meta.receivedAt.getTime();
  if (!Number.isFinite(receivedAt)) throw new Error('receivedAt must be a valid Date.');
  const json = Buffer.from(JSON.stringify({
    id,
    receivedAt,
    ...(meta.folder !== undefined ? { folder: meta.folder } : {}),
    ...(meta.flags !== undefined ? { flags: [...meta.flags] } : {}),
    ...(meta.envelope !== undefined ? { envelope: { from: meta.envelope.from, to: meta.envelope.to } } : {}),
  }), 'utf8');
  const used = 1 + 4 + json.length + 4 + raw.length;
  const out = Buffer.alloc(Math.ceil(used / PAD_TO) * PAD_TO);
  let o = out.writeUInt8(ENVELOPE_VERSION, 0);
  o = out.writeUInt32BE(json.length, o);
  o += json.copy(out, o);
  o = out.writeUInt32BE(raw.length, o);
  out.set(raw, o);
  return out;
}

/** The message bytes inside an envelope, as a view (no copy); EnvelopeError when the layout does not hold. */
export function envelopeMessageBytes(plain: Buffer): Buffer {
  if (plain.length < 9 || plain[0] !== ENVELOPE_VERSION) throw new EnvelopeError('unknown queue envelope version');
  const metaLength = plain.readUInt32BE(1);
  if (5 + metaLength + 4 > plain.length) throw new EnvelopeError('queue envelope metadata overruns');
  const rawLength = plain.readUInt32BE(5 + metaLength);
  const rawStart = 5 + metaLength + 4;
  if (rawStart + rawLength > plain.length) throw new EnvelopeError('queue envelope message overruns');
  return plain.subarray(rawStart, rawStart + rawLength);
}

export function decodeEnvelope(plain: Buffer): QueuedMessage {
  if (plain.length < 9 || plain[0] !== ENVELOPE_VERSION) throw new EnvelopeError('unknown queue envelope version');
  const metaLength = plain.readUInt32BE(1);
  if (5 + metaLength + 4 > plain.length) throw new EnvelopeError('queue envelope metadata overruns');
  const parsed: unknown = JSON.parse(plain.subarray(5, 5 + metaLength).toString('utf8'));
  const rawLength = plain.readUInt32BE(5 + metaLength);
  const rawStart = 5 + metaLength + 4;
  if (rawStart + rawLength > plain.length) throw new EnvelopeError('queue envelope message overruns');
  if (!parsed || typeof parsed !== 'object') throw new EnvelopeError('queue envelope metadata is not an object');
  const m = parsed as Record<string, unknown>;
  if (typeof m.id !== 'string' || !/^[0-9a-f]{32}$/.test(m.id) || typeof m.receivedAt !== 'number') {
    throw new EnvelopeError('queue envelope metadata is incomplete');
  }
  const flags = Array.isArray(m.flags) ? m.flags.filter((f): f is string => typeof f === 'string') : undefined;
  const meta: QueuedMeta = {
    receivedAt: new Date(m.receivedAt),
    ...(typeof m.folder === 'string' ? { folder: m.folder } : {}),
    ...(flags ? { flags } : {}),
    ...(envelopeOf(m.envelope) ?? {}),
  };
  return { id: m.id, raw: Buffer.from(plain.subarray(rawStart, rawStart + rawLength)), meta };
}

/** The sealed SMTP envelope, when the item has a well-formed one (items queued before it existed have none). */
function envelopeOf(value: unknown): { envelope: { from: string; to: string } } | null {
  if (!value || typeof value !== 'object') return null;
  const e = value as Record<string, unknown>;
  return typeof e.from === 'string' && typeof e.to === 'string' ? { envelope: { from: e.from, to: e.to } } : null;
}
