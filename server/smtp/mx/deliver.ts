// One accepted message, every recipient made durable before the MX says 250. Order of the writes
// is chosen so that whatever can be undone comes first: webhook jobs, appends to unlocked mailboxes
// and forwards are rolled back when a later step fails; sealed-queue appends (which cannot be taken
// back one by one) come last, sealed for all locked recipients in one all-or-nothing enqueueMany. A failure anywhere → 451 4.3.0 and the undone steps leave
// nothing behind.
import { randomUUID } from 'node:crypto';
import type { DeliveryResult } from '../../accounts/index.js';
import type { AliasRecord, ForwardRecord, WebhookRecord } from '../../directory/index.js';
import type { Logger } from '../../log.js';
import type { OutboundPort } from '../../ports.js';
import type { Forwarder } from '../forward/index.js';
import type { AliasWebhook, WebhookAuthResults, Webhooks } from '../webhooks/index.js';
import { storeErrorReply, type SmtpReply } from './replies.js';

/** What the MX needs from Accounts/Directory to deliver (implemented over AppContext in index.ts). */
export interface DeliveryPort {
  isUnlocked(alias: AliasRecord): boolean;
  deliverOrQueue(alias: AliasRecord, raw: Buffer, options: MxDeliveryOptions): Promise<DeliveryResult>;
  /** Removes a just-appended message again (rollback); best effort. */
  undoAppend(alias: AliasRecord, folder: string, uid: number): Promise<void>;
  /** Seals one message for several locked aliases, all durable or none (absent: one by one). */
  readonly queueMany?: (aliases: readonly AliasRecord[], raw: Buffer, options: MxDeliveryOptions, envelopeTo: readonly string[]) => Promise<void>;
  forwardsOf(alias: AliasRecord): ForwardRecord[];
  webhooksOf(alias: AliasRecord): WebhookRecord[];
  includeRaw(webhook: WebhookRecord): boolean;
}

/** Where and how the MX stores one copy; envelope is the SMTP envelope as that alias saw it. */
export interface MxDeliveryOptions {
  readonly folder: string;
  readonly flags: string[];
  readonly receivedAt: Date;
  readonly envelope?: { readonly from: string; readonly to: string };
}

/** Outbound queue calls used by forwarding and bounce relaying; drop() is the rollback. */
export type { OutboundPort };

export interface MessageToDeliver {
  readonly transactionId: string;
  /** The message with our trace headers prepended. */
  readonly raw: Buffer;
  readonly headerBlock: string;
  readonly envelopeFrom: string;
  readonly receivedAt: Date;
  readonly folder: 'INBOX' | 'Junk';
  readonly auth: WebhookAuthResults | null;
  /** Accepted aliases, each once, with the addresses they were reached by. */
  readonly aliases: readonly { alias: AliasRecord; addresses: readonly string[] }[];
  /** Original senders of bounces that came back to SRS addresses. */
  readonly bounceTargets: readonly string[];
}

export interface DeliveryDeps {
  readonly port: DeliveryPort;
  readonly forwarder: Forwarder;
  readonly outbound: OutboundPort | null;
  readonly webhooks: Webhooks | null;
  readonly logger: Logger;
}

export interface DeliverySummary {
  readonly mailbox: number;
  readonly queue: number;
  readonly forwarded: number;
  readonly webhooks: number;
}

type Undo = () => Promise<void> | void;

/** Delivers to every recipient or to none; throws SmtpReply (451/452) on failure. */
export async function deliverMessage(deps: DeliveryDeps, message: MessageToDeliver): Promise<DeliverySummary> {
  const { port, forwarder, webhooks, logger } = deps;
  const undo: Undo[] = [];
  const summary = { mailbox: 0, queue: 0, forwarded: 0, webhooks: 0 };
  try {
    // Decide per alias: local copy, forwards, webhooks.
    const plans = message.aliases.map(({ alias, addresses }) => {
      const forwards = port.forwardsOf(alias);
      const plan = forwarder.plan(alias.id, forwards.map((f) => ({ target: f.target, keepCopy: f.keepCopy })), message.headerBlock, deps.outbound !== null);
      if (plan.loop) logger.warn({ event: 'mx.forward_loop', tx: message.transactionId, aliasId: alias.id }, 'forwarding loop detected; kept in the mailbox instead');
      return { alias, addresses, plan };
    });

    // 1. webhook jobs (one transaction per alias, discarded on rollback)
    if (webhooks) {
      for (const { alias, addresses } of plans) {
        const hooks: AliasWebhook[] = port.webhooksOf(alias).map((w) => ({ id: w.id, url: w.url, includeRaw: port.includeRaw(w) }));
        if (!hooks.length) continue;
        let jobs: Awaited<ReturnType<Webhooks['jobsFor']>>;
        try {
          jobs = await webhooks.jobsFor(alias.id, hooks, {
            id: `${message.transactionId}.${alias.id}`,
            alias: alias.address,
            envelopeFrom: message.envelopeFrom,
            envelopeTo: addresses,
            receivedAt: message.receivedAt,
            raw: message.raw,
            auth: message.auth,
          });
        } catch (error) {
          // The webhook body needs a parsed message; one the parser cannot read would fail the same way on
          // every retry (451 forever). The message itself is still delivered, as raw bytes, to the mailbox.
          logger.warn(
            { event: 'mx.webhook_unparsable', tx: message.transactionId, aliasId: alias.id, err: error instanceof Error ? `${error.name}: ${error.message.slice(0, 200)}` : 'unknown' },
            'message could not be parsed for its webhooks; delivered without webhook calls',
          );
          continue;
        }
        const ids = webhooks.enqueue(jobs);
        undo.push(() => webhooks.discard(ids));
        summary.webhooks += ids.length;
      }
    }

    // 2. unlocked mailboxes (an append can be expunged again)
    const local = plans.filter((p) => p.plan.keepLocal);
    const unlocked = local.filter((p) => port.isUnlocked(p.alias));
    const locked = local.filter((p) => !port.isUnlocked(p.alias));
    const options = { folder: message.folder, flags: [] as string[], receivedAt: message.receivedAt };
    // The SMTP envelope as this alias saw it, for the Sieve envelope test (sealed with a queued copy).
    const optionsFor = (alias: AliasRecord, addresses: readonly string[]): MxDeliveryOptions => ({ ...options, envelope: { from: message.envelopeFrom, to: addresses[0] ?? alias.address } });
    for (const { alias, addresses } of unlocked) {
      const result = await port.deliverOrQueue(alias, message.raw, optionsFor(alias, addresses));
      if (result.stored === 'mailbox') {
        summary.mailbox++;
        undo.push(...undoCopies(port, alias, result, options.folder));
      } else {
        summary.queue++; // locked in the meantime (idle timeout): sealed instead, cannot be undone
      }
    }

    // 3. forwards and bounces through the outbound queue
    const outbound = deps.outbound;
    for (const { alias, plan } of plans) {
      if (!plan.targets.length) continue;
      if (!outbound) throw new Error('forwarding needs the outbound queue');
      const id = await enqueueForward(forwarder, outbound, alias, message, plan.targets);
      if (outbound.drop) undo.push(() => void outbound.drop?.(id));
      summary.forwarded += plan.targets.length;
    }
    if (message.bounceTargets.length) {
      if (!outbound) throw new Error('bounce relaying needs the outbound queue');
      const id = await outbound.enqueue({ from: '', to: [...message.bounceTargets], raw: message.raw, kind: 'forward' });
      if (outbound.drop) undo.push(() => void outbound.drop?.(id));
      summary.forwarded += message.bounceTargets.length;
    }

    // 4. locked mailboxes: sealed into the queue, last, in one all-or-nothing call when available
    if (locked.length > 1 && port.queueMany) {
      await port.queueMany(locked.map((p) => p.alias), message.raw, { ...options, envelope: { from: message.envelopeFrom, to: '' } }, locked.map((p) => p.addresses[0] ?? p.alias.address));
      summary.queue += locked.length;
      return summary;
    }
    for (const { alias, addresses } of locked) {
      const result = await port.deliverOrQueue(alias, message.raw, optionsFor(alias, addresses));
      if (result.stored === 'mailbox') {
        summary.mailbox++;
        undo.push(...undoCopies(port, alias, result, options.folder));
      } else summary.queue++;
    }
    return summary;
  } catch (error) {
    const reply: SmtpReply = storeErrorReply(error);
    logger.error(
      { event: 'mx.delivery_failed', tx: message.transactionId, code: reply.responseCode, err: error instanceof Error ? error.name + ': ' + error.message.slice(0, 200) : 'unknown', undo: undo.length },
      'delivery failed; rolling back',
    );
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch (undoError) {
        logger.error({ event: 'mx.rollback_failed', tx: message.transactionId, err: undoError instanceof Error ? undoError.message.slice(0, 200) : 'unknown' }, 'rollback step failed');
      }
    }
    throw reply;
  }
}

async function enqueueForward(forwarder: Forwarder, outbound: OutboundPort, alias: AliasRecord, message: MessageToDeliver, targets: readonly string[]): Promise<string> {
  const from = forwarder.srs.forward(message.envelopeFrom, alias.domain);
  const marked = forwarder.markForwarded(alias.id, message.raw);
  // Our signature on top (alias domain = the SRS sender's domain, so DMARC-style alignment holds for
  // the envelope); the sender's own signatures stay untouched below it and still verify.
  const raw = outbound.dkimSign ? await outbound.dkimSign(marked, alias.domain) : marked;
  return outbound.enqueue({ from, to: [...targets], raw, kind: 'forward', aliasId: alias.id });
}

export const newTransactionId = (): string => randomUUID().replace(/-/g, '').slice(0, 20);

/** Undo steps for every copy a delivery stored (the filters may have filed it elsewhere, or in several folders). */
function undoCopies(port: DeliveryPort, alias: AliasRecord, result: DeliveryResult, routed: string): (() => Promise<void>)[] {
  const copies = result.placed ?? (result.uid !== undefined ? [{ folder: routed, uid: result.uid }] : []);
  return copies.map(({ folder, uid }) => () => port.undoAppend(alias, folder, uid));
}
