// The indexer's parseMimeTree, able to split multiparts whose boundary is given the RFC 2231 way
// (boundary*="us-ascii''abc", or in sections). The indexer turns such a value into an RFC 2047 word and splits
// on that, so it finds no parts and the message fell back to one text part. Here each such Content-Type field
// reaches the indexer as `boundary="abc"`, and the node gets its original field lines back afterwards, so
// header comparisons and BODYSTRUCTURE parameter lists still see what was sent.
import { indexer, type IndexerNode } from './indexer.js';
import { decodedParameter } from './params.js';

const MARKER = 'x-sealpost-field';
// A multipart Content-Type field at the start of a line, with its continuation lines.
const MULTIPART_FIELD = /^content-type[ \t]*:[ \t]*multipart\/[^\r\n]*(?:(?:\r\n|\n|\r)[ \t][^\r\n]*)*/gim;
const MARKED = new RegExp(`; ${MARKER}=(\\d+)$`);
// RFC 2046 §5.1.1 bchars: what a boundary may contain.
const BCHARS = /^[0-9A-Za-z'()+_,\-./:=? ]{1,70}$/;

/** Multipart fields with an RFC 2231 boundary rewritten to a plain one, each marked with its index in `originals`. */
function plainBoundaries(input: string): { input: string; originals: string[] } {
  const originals: string[] = [];
  if (!/boundary\*/i.test(input)) return { input, originals };
  const rewritten = input.replace(MULTIPART_FIELD, (field) => {
    if (!/boundary\*/i.test(field)) return field;
    const value = field.slice(field.indexOf(':') + 1).replace(/(?:\r\n|\n|\r)(?=[ \t])/g, '');
    const boundary = decodedParameter(value, 'boundary');
    if (boundary === null || !BCHARS.test(boundary)) return field;
    originals.push(field);
    const type = (value.split(';')[0] ?? '').trim();
    return `Content-Type: ${type}; boundary="${boundary}"; ${MARKER}=${originals.length - 1}`;
  });
  return { input: rewritten, originals };
}

function restore(node: IndexerNode | false | undefined, originals: readonly string[], depth = 0): void {
  if (!node || depth > 2000) return;
  node.header = node.header.map((line) => {
    const m = MARKED.exec(line);
    const original = m ? originals[Number(m[1])] : undefined;
    // As the indexer keeps a field: line breaks as CRLF.
    return original === undefined ? line : original.replace(/\r*\n|\r/g, '\r\n');
  });
  for (const child of node.childNodes ?? []) restore(child, originals, depth + 1);
  restore(node.message, originals, depth + 1);
}

/** indexer.parseMimeTree over a 'binary' string, RFC 2231 boundaries included. */
export function parseMimeTree(input: string): IndexerNode | false {
  const { input: plain, originals } = plainBoundaries(input);
  const tree = indexer.parseMimeTree(plain);
  if (originals.length) restore(tree, originals);
  return tree;
}
