// The message as Sieve tests see it: header fields (unfolded, RFC 2047-decoded for comparison), addresses, size,
// the envelope, and the body (raw, or decoded text parts) within the body-bytes limit.
import addressparser from 'nodemailer/lib/addressparser/index.js';
import { buildTree, scanHeader } from '../mime/tree.js';
import { decodeWords, headerFields, partText, type HeaderField } from '../mime/text.js';

export interface SieveEnvelope {
  /** MAIL FROM ('' for a bounce). */
  readonly from: string;
  /** The RCPT TO this copy was delivered for. */
  readonly to: string;
}

export interface SieveBodyPart {
  readonly contentType: string;
  readonly text: string;
}

/** What the interpreter reads of one message; built once per delivery. */
export interface SieveMessageView {
  readonly size: number;
  readonly envelope: SieveEnvelope | null;
  /** Decoded values of every field of that name (lower case), in order. */
  header(name: string): string[];
  /** The addresses in the named fields (groups flattened). */
  addresses(name: string): string[];
  /** The body for the body test: the raw body, or the decoded parts (text only unless content types are asked). */
  rawBody(): string;
  parts(): readonly SieveBodyPart[];
}

interface ParsedAddress {
  readonly address?: string;
  readonly group?: readonly ParsedAddress[];
}

function flatten(list: readonly ParsedAddress[], out: string[]): void {
  for (const a of list) {
    if (a.group) flatten(a.group, out);
    else if (a.address !== undefined) out.push(a.address);
  }
}

export function messageView(raw: Buffer, envelope: SieveEnvelope | null, maxBodyBytes: number): SieveMessageView {
  const { headerEnd } = scanHeader(raw, 0, raw.length);
  const fields: HeaderField[] = headerFields(raw.subarray(0, headerEnd));
  const values = (name: string): string[] => {
    const lower = name.toLowerCase();
    return fields.filter((f) => f.name.toLowerCase() === lower).map((f) => f.value);
  };
  let bodyParts: SieveBodyPart[] | null = null;
  return {
    size: raw.length,
    envelope,
    header: (name) => values(name).map((v) => decodeWords(v)),
    addresses: (name) => {
      const out: string[] = [];
      for (const v of values(name)) {
        try {
          flatten(addressparser(v) as ParsedAddress[], out);
        } catch {
          // An unparseable address field holds no address.
        }
      }
      return out;
    },
    rawBody: () => raw.subarray(headerEnd, headerEnd + maxBodyBytes).toString('utf8'),
    parts: () => {
      if (bodyParts) return bodyParts;
      bodyParts = [];
      let budget = maxBodyBytes;
      try {
        const tree = buildTree(raw.length > maxBodyBytes * 2 ? raw.subarray(0, maxBodyBytes * 2) : raw);
        for (const leaf of tree.leaves) {
          if (budget <= 0) break;
          const text = partText(raw, leaf).slice(0, budget);
          budget -= text.length;
          bodyParts.push({ contentType: leaf.part.contentType.toLowerCase(), text });
        }
      } catch {
        bodyParts = [{ contentType: 'text/plain', text: raw.subarray(headerEnd, headerEnd + maxBodyBytes).toString('utf8') }];
      }
      return bodyParts;
    },
  };
}
