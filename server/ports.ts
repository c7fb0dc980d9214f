// Ports: what a layer needs from another part of the appliance, declared here (below every protocol
// engine) and filled in by the composition root (server/app.ts). An engine that needs to send mail
// (IMAP, POP3, ops, the MX's forwarding) takes an OutboundPort and never imports server/smtp/.
import type { SealpostConfig } from './config/index.js';

/** What a caller outside the outbound queue may queue: a submission or a forward (DSNs are the queue's own). */
export type OutboundKind = 'submission' | 'forward';

/** One message to send. The recipients are envelope addresses; raw is the complete message as sent. */
export interface OutboundMessage {
  readonly from: string;
  readonly to: readonly string[];
  readonly raw: Buffer;
  readonly kind: OutboundKind;
  /** The sending alias, so its delivery reports find its mailbox even if the address changes. */
  readonly aliasId?: string | null;
}

/** Queue a message for sending (outbound.sqlite): durable (fsync) before it resolves with the queue id. */
export interface OutboundPort {
  enqueue(message: OutboundMessage): Promise<string>;
  /** Takes a queued message back before it is sent (the rollback of a delivery that failed elsewhere). */
  drop?(id: string): number;
  /** DKIM-signs for a domain (signatures prepended; the message unchanged when the domain has no keys). */
  dkimSign?(raw: Buffer, domain: string): Promise<Buffer>;
}

/**
 * The outbound queue as the app context carries it for the owner's tools (admin API, CLI) and the
 * delivery worker. Its members are declared by server/smtp/outbound/index.ts (a module augmentation of
 * this interface), so the context — and every engine that receives it — imports no protocol engine.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled in by server/smtp/outbound
export interface OutboundService {}

/** Where a message in the outgoing history stands, in the owner's words. */
export type OutgoingStatus = 'waiting' | 'sending' | 'delivered' | 'bounced' | 'cancelled' | 'partly delivered';

/** Where one recipient of an outgoing message stands. */
export type OutgoingRecipientStatus = 'waiting' | 'sending' | 'delivered' | 'bounced' | 'cancelled';

/** The connection a delivery attempt went over: whom it talked to and how. */
export interface OutgoingSession {
  /** The MX or relay host, and the address dialled; null when no connection was made. */
  readonly host: string | null;
  readonly address: string | null;
  /** TLS protocol and cipher, or null for a plain-text session. */
  readonly tlsVersion: string | null;
  readonly tlsCipher: string | null;
  /** The certificate was checked (against the host name, or the recipient's DANE records). */
  readonly verified: boolean;
  /** What asked for (or did not ask for) the check: DANE, the recipient's MTA-STS policy, the relay settings, or opportunistic TLS. */
  readonly policy: 'dane' | 'mta-sts' | 'relay' | 'opportunistic' | null;
}

/** One delivery attempt of one recipient: the session, and what came back. */
export interface OutgoingAttempt extends OutgoingSession {
  /** When the reply (or the failure) came, ms since the epoch. */
  readonly at: number;
  readonly outcome: 'delivered' | 'deferred' | 'bounced';
  readonly code: number;
  readonly response: string;
}

/** One message of the outgoing history, as a row of the list. */
export interface OutgoingSummary {
  readonly id: string;
  readonly kind: 'submission' | 'forward' | 'dsn';
  /** Envelope sender ('' for a delivery report). */
  readonly sender: string;
  readonly aliasId: string | null;
  readonly created: number;
  /** When every recipient became final (the message bytes were wiped then); null while it is in the queue. */
  readonly finished: number | null;
  readonly size: number;
  readonly status: OutgoingStatus;
  readonly recipients: number;
  /** Attempts over all recipients. */
  readonly attempts: number;
  /** Earliest next try of a waiting recipient. */
  readonly nextAttempt: number | null;
}

export interface OutgoingRecipient {
  readonly address: string;
  readonly status: OutgoingRecipientStatus;
  readonly attempts: number;
  readonly nextAttempt: number | null;
  readonly lastCode: number | null;
  readonly lastResponse: string | null;
  /** The most recent attempts, oldest first (at most the page limit). */
  readonly history: readonly OutgoingAttempt[];
  /** Older attempts not listed. */
  readonly olderAttempts: number;
}

export interface OutgoingDetail extends OutgoingSummary {
  /** Recipients in the order given (at most the page limit). */
  readonly recipientList: readonly OutgoingRecipient[];
  readonly moreRecipients: number;
}

export interface OutgoingPage {
  readonly messages: readonly OutgoingSummary[];
  /** Cursor for the next (older) page, or null at the end. */
  readonly next: string | null;
}

/** The outgoing history and its two actions, as the owner's operations (server/ops/outgoing.ts) use it. */
export interface OutgoingHistoryPort {
  /** Largest page (messages per list, recipients and attempts per message) any caller gets. */
  readonly historyPageMax: number;
  /** Newest first; `cursor` is a previous page's `next`. */
  historyPage(limit: number, cursor: string | null): OutgoingPage;
  historyOf(id: string): OutgoingDetail | null;
  /** Makes the waiting recipients of a message due now; returns how many. */
  retry(id: string): number;
  /** Gives up on the pending recipients of a message (no bounce); returns how many. */
  drop(id: string): number;
}

/**
 * The running `serve` loop, for the restart operation (server/ops/settings.ts). `serve` fills it in; one-shot
 * CLI contexts and tests that start services themselves have none.
 */
export interface RestartPort {
  /** The configuration the next start would use: saved settings read again (flags and SEALPOST_* still win). Throws ConfigError. */
  nextConfig(): SealpostConfig;
  /** Closes every listener gracefully and starts again in this process, after the current request is answered. */
  restart(): void;
  /** State handed from one run to the next in this process (the admin's signed-in sessions), by owner name. */
  readonly kept: Map<string, unknown>;
}
