// The IMAP server's limits: defaults here, overrides from SEALPOST_IMAP_* (settings.ts).

export interface ImapLimits {
  /** Largest APPEND literal (advertised as APPENDLIMIT). */
  readonly maxMessageBytes: number;
  /** Longest command line before / after login (excluding literals). */
  readonly maxLineBytesPreAuth: number;
  readonly maxLineBytes: number;
  /** Literals in one command (APPEND has one; SEARCH a few). */
  readonly maxLiteralsPerCommand: number;
  /** All literals of one command together (own engine; MULTIAPPEND/CATENATE), never below one APPENDLIMIT message. */
  readonly maxCommandBytes: number;
  /** Largest literal before login (LOGIN with literal strings). */
  readonly maxLiteralBytesPreAuth: number;
  /** Concurrent connections from one IP address, and logged-in sessions of one alias. */
  readonly maxConnectionsPerIp: number;
  readonly maxConnectionsPerAlias: number;
  /** Open connections on IMAP + IMAPS together (lowered further to IMAP's share of the fd limit). */
  readonly maxConnections: number;
  /** A TLS handshake (IMAPS, or after STARTTLS) must complete within this. */
  readonly tlsHandshakeTimeoutMs: number;
  /** Unauthenticated connections are closed after this long. */
  readonly preAuthTimeoutMs: number;
  /** Authenticated connections without any traffic are closed after this long (RFC 3501: at least 30 min). */
  readonly socketTimeoutMs: number;
  /** An IDLE is ended with BYE after this long (clients re-IDLE every ~29 min). */
  readonly idleTimeoutMs: number;
  /** COMPRESS=DEFLATE: inflated bytes allowed = slack + ratio × compressed bytes. */
  readonly inflateRatio: number;
  readonly inflateSlackBytes: number;
  /** Nesting of one SEARCH/SORT/THREAD program (NOT, OR, parenthesised lists): deeper is answered BAD. */
  readonly maxSearchDepth: number;
  /** Text keys (TEXT, BODY, SUBJECT, FROM, TO, CC, BCC, HEADER) in one search program: each costs an index query. */
  readonly maxSearchTextKeys: number;
}

export const DEFAULT_LIMITS: ImapLimits = {
  maxMessageBytes: 50 * 1024 * 1024,
  maxLineBytesPreAuth: 8 * 1024,
  maxLineBytes: 64 * 1024,
  maxLiteralsPerCommand: 32,
  maxCommandBytes: 100 * 1024 * 1024,
  maxLiteralBytesPreAuth: 1024,
  maxConnectionsPerIp: 64,
  maxConnectionsPerAlias: 32,
  maxConnections: 2000,
  tlsHandshakeTimeoutMs: 30_000,
  preAuthTimeoutMs: 60_000,
  socketTimeoutMs: 30 * 60_000 + 37_000,
  idleTimeoutMs: 30 * 60_000,
  inflateRatio: 100,
  inflateSlackBytes: 16 * 1024 * 1024,
  maxSearchDepth: 64,
  maxSearchTextKeys: 64,
};
