// Ports: what a layer needs from another part of the appliance, declared here (below every protocol
// engine) and filled in by the composition root (server/app.ts). An engine that needs to send mail
// (IMAP, POP3, ops, the MX's forwarding) takes an OutboundPort and never imports server/smtp/.

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
