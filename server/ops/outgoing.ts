// The outgoing history and its actions (list, show, retry now, cancel), once for the CLI (over the control
// socket) and the admin API. Ids are checked before they reach the store and never echoed when malformed;
// retry and cancel refuse a message that is already final. Audit lines carry ids and counts, no address.
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import type { OutgoingDetail, OutgoingHistoryPort, OutgoingPage } from '../ports.js';
import { audited } from './audit.js';
import type { OpsCall } from './context.js';

/** What these operations need: the logger for the audit line and the outbound queue's history. */
export interface OutgoingOpsContext {
  readonly logger: Logger;
  readonly outbound: OutgoingHistoryPort;
}

/** Messages per page when the caller does not say. */
export const DEFAULT_OUTGOING_PAGE = 50;

const QUEUE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CURSOR = /^\d{1,15}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The id, lower-cased, or one sentence saying what an id looks like (the input itself is not repeated). */
export function parseOutgoingId(id: unknown): string {
  const text = typeof id === 'string' ? id.trim().toLowerCase() : '';
  if (!QUEUE_ID.test(text)) {
    throw new UserError('That is not an outgoing message id (ids look like 0b6f3c1e-5a2d-4c8e-9f10-7d2b3a4c5e6f).', 'BAD_MESSAGE_ID');
  }
  return text;
}

function requireMessage(ctx: OutgoingOpsContext, id: string): OutgoingDetail {
  const detail = ctx.outbound.historyOf(id);
  if (!detail) throw new UserError(`There is no outgoing message ${id} (finished messages leave the history after its retention time).`, 'UNKNOWN_MESSAGE');
  return detail;
}

/** A page of the history, newest first. `limit` is capped at the queue's page maximum. */
export function listOutgoing(ctx: OutgoingOpsContext, input: { limit?: number | null; cursor?: string | null }): OutgoingPage {
  const limit = input.limit ?? DEFAULT_OUTGOING_PAGE;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new UserError('The page size must be a whole number of 1 or more.', 'BAD_LIMIT');
  const cursor = input.cursor ?? null;
  if (cursor !== null && !CURSOR.test(cursor)) throw new UserError('That page cursor is not one this server gave out; start from the first page.', 'BAD_CURSOR');
  return ctx.outbound.historyPage(Math.min(limit, ctx.outbound.historyPageMax), cursor);
}

/** One message with every recipient and its attempts. */
export function showOutgoing(ctx: OutgoingOpsContext, input: { id: string }): OutgoingDetail {
  return requireMessage(ctx, parseOutgoingId(input.id));
}

const finalSentence = (d: OutgoingDetail): string | null =>
  d.status === 'waiting' || d.status === 'sending' ? null : `The message ${d.id} is already ${d.status === 'partly delivered' ? 'finished (partly delivered)' : d.status}; there is nothing left to send.`;

/** Makes the waiting recipients of a message due now (the worker wakes at once). */
export async function retryOutgoing(ctx: OutgoingOpsContext, input: { id: string }, call: OpsCall): Promise<{ id: string; recipients: number }> {
  const id = parseOutgoingId(input.id);
  return audited(ctx, call, 'outgoing.retry', { messageId: id }, async () => {
    const detail = requireMessage(ctx, id);
    const final = finalSentence(detail);
    if (final) throw new UserError(final, 'MESSAGE_FINAL');
    const recipients = ctx.outbound.retry(id);
    if (recipients === 0) throw new UserError(`The message ${id} is being sent right now; look again in a moment.`, 'MESSAGE_SENDING');
    return { id, recipients };
  }, (r) => ({ recipients: r.recipients }));
}

/** Gives up on the pending recipients of a message: no bounce is sent; it stays in the history as cancelled. */
export async function cancelOutgoing(ctx: OutgoingOpsContext, input: { id: string }, call: OpsCall): Promise<{ id: string; recipients: number }> {
  const id = parseOutgoingId(input.id);
  return audited(ctx, call, 'outgoing.cancel', { messageId: id }, async () => {
    const detail = requireMessage(ctx, id);
    const final = finalSentence(detail);
    if (final) throw new UserError(final, 'MESSAGE_FINAL');
    return { id, recipients: ctx.outbound.drop(id) };
  }, (r) => ({ recipients: r.recipients }));
}
