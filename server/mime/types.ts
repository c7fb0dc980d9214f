// Public types of server/mime: what parsing a message yields, for the store and the protocols.
// The store persists `structure` opaquely (serialized with serializeStructure, Buffers preserved).

/** Byte offsets of one MIME part inside the raw message (all offsets absolute, [start, end)). */
export interface MimePart {
  /** IMAP part number ('' for the root, '1', '1.2', …). */
  readonly part: string;
  readonly headerStart: number;
  /** End of the header block including the empty line that ends it. */
  readonly headerEnd: number;
  readonly bodyStart: number;
  readonly bodyEnd: number;
  /** Lower-cased `type/subtype`. */
  readonly contentType: string;
  /** For message/rfc822 parts, the encapsulated message's root part. */
  readonly message?: MimePart;
  readonly children?: readonly MimePart[];
}

/** Everything FETCH needs without reading the body: envelope/bodystructure in imap-core's shape. */
export interface MessageStructure {
  /** imap-core's envelope value (may contain Buffers). */
  readonly envelope: unknown;
  /** imap-core's BODYSTRUCTURE value (may contain Buffers). */
  readonly bodyStructure: unknown;
  /** imap-core's BODY (non-extensible BODYSTRUCTURE) value. */
  readonly body: unknown;
  readonly root: MimePart;
  readonly size: number;
}

/** Decoded, searchable text (never written anywhere but the encrypted mailbox file). */
export interface SearchText {
  readonly subject: string;
  readonly from: string;
  readonly to: string;
  readonly cc: string;
  readonly bcc: string;
  /** All decoded text parts, including text attachments, html reduced to text. */
  readonly body: string;
  /** Unfolded, decoded header lines "Name: value\n…" for HEADER searches. */
  readonly headers: string;
}

export interface ParsedMessage {
  readonly structure: MessageStructure;
  readonly search: SearchText;
  readonly messageId: string | null;
  readonly inReplyTo: string | null;
  readonly references: readonly string[];
  /** Date: header, null when missing or unparseable. */
  readonly date: Date | null;
  /** Byte ranges [start, end) of attachment bodies as encoded in the raw message, worth de-duplicating. */
  readonly attachmentRanges: readonly (readonly [number, number])[];
  /** True when the MIME structure was unusable and the message is presented as one text/plain part. */
  readonly mimeFallback?: boolean;
  /** True when the structure passed SEALPOST_MIME_MAX_DEPTH/MAX_PARTS and its excess is one opaque part. */
  readonly mimeTruncated?: boolean;
}

/** Reads bytes [start, end) of the raw message (the store reads only the chunks covering them). */
export type RangeReader = (start: number, end: number) => Promise<Buffer>;
