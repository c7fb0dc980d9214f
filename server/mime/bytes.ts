// The cheap half of server/mime, with no parser behind it: stored-structure (de)serialisation and line
// endings. The mailbox store imports this eagerly and the parser (WildDuck's indexer, libmime…) only
// when the first message is parsed, so CLI commands that open a mailbox do not load it.
import { serialize, deserialize } from 'node:v8';
import type { MessageStructure } from './types.js';

/** Bytes for storing a structure; Buffers inside envelope/bodystructure survive (JSON would not). */
export function serializeStructure(structure: MessageStructure): Buffer {
  return serialize(structure);
}

/** A fresh copy each call, so imap-core's getQueryResponse may mutate it freely. */
export function deserializeStructure(bytes: Buffer | Uint8Array): MessageStructure {
  return deserialize(bytes) as MessageStructure;
}

/** Line endings as CRLF (bare LF and lone CR converted); returns the same Buffer when already canonical. */
export function toCrlf(raw: Buffer): Buffer {
  let bare = false;
  for (let i = raw.indexOf(0x0a); i >= 0; i = raw.indexOf(0x0a, i + 1)) {
    if (i === 0 || raw[i - 1] !== 0x0d) {
      bare = true;
      break;
    }
  }
  if (!bare) {
    for (let i = raw.indexOf(0x0d); i >= 0; i = raw.indexOf(0x0d, i + 1)) {
      if (raw[i + 1] !== 0x0a) {
        bare = true;
        break;
      }
    }
  }
  if (!bare) return raw;
  return Buffer.from(raw.toString('binary').replace(/\r\n|\r|\n/g, '\r\n'), 'binary');
}
