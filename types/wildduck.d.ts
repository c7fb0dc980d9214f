// Declarations for the parts of @zone-eu/wildduck we use. Declare only what we call.

// ---- indexer (server/mime) ----
declare module '@zone-eu/wildduck/imap-core/lib/indexer/indexer.js' {
  /** A parsed Content-Type / Content-Disposition value. */
  export interface IndexerHeaderValue {
    value: string;
    type: string;
    subtype: string;
    params: Record<string, string>;
    hasParams?: boolean;
  }
  /** One node of the indexer's MIME tree (lib/indexer/parse-mime-tree.js). */
  export interface IndexerNode {
    rootNode?: boolean;
    /** Header fields, continuation lines joined with CRLF, as 'binary' strings. */
    header: string[];
    /** Lower-cased field name → value (strings, arrays, parsed Content-Type, address lists). */
    parsedHeader: Record<string, unknown>;
    /** Part body (line breaks normalised to CRLF). */
    body?: Buffer | false;
    /** Body size after CRLF normalisation (BODYSTRUCTURE size). */
    size?: number;
    lineCount?: number;
    /** Multipart subtype, or false. */
    multipart: string | false;
    boundary: string | false;
    childNodes?: IndexerNode[];
    /** Encapsulated message of an unencoded message/rfc822 part. */
    message?: IndexerNode | false;
  }
  export default class Indexer {
    constructor(options?: Record<string, unknown>);
    /** Returns false only for input it cannot make a node of. */
    parseMimeTree(rfc822: Buffer | string): IndexerNode | false;
    getEnvelope(tree: IndexerNode): unknown[];
    getBodyStructure(tree: IndexerNode): unknown[];
    getBody(tree: IndexerNode): unknown[];
  }
}
