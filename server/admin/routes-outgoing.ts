// /api/outgoing: the outgoing history (newest first, in pages), one message with its attempts, and retry
// now / cancel. Thin over server/ops/outgoing.ts, where ids are checked and final messages refused.
import type { FastifyInstance } from 'fastify';
import { cancelOutgoing, listOutgoing, retryOutgoing, showOutgoing } from '../ops/index.js';
import type { AdminDeps } from './http.js';

// The id is checked by the operation (one clear sentence); the schema only bounds its length.
const idParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } } as const;
const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'string', pattern: '^[0-9]{1,6}$' }, cursor: { type: 'string', maxLength: 80 } },
} as const;
const noBody = { type: 'object', additionalProperties: false, properties: {} } as const;

export function registerOutgoingRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const { ctx, events } = deps;

  app.get<{ Querystring: { limit?: string; cursor?: string } }>('/api/outgoing', { schema: { querystring: listQuery } }, async (request) =>
    listOutgoing(ctx, { limit: request.query.limit === undefined ? null : Number(request.query.limit), cursor: request.query.cursor ?? null }),
  );

  app.get<{ Params: { id: string } }>('/api/outgoing/:id', { schema: { params: idParams } }, async (request) => showOutgoing(ctx, { id: request.params.id }));

  app.post<{ Params: { id: string } }>('/api/outgoing/:id/retry', { schema: { params: idParams, body: noBody } }, async (request) => {
    const done = await retryOutgoing(ctx, { id: request.params.id }, { via: 'admin', ip: request.ip });
    events.add('outgoing.retry', { recipients: done.recipients });
    return done;
  });

  app.post<{ Params: { id: string } }>('/api/outgoing/:id/cancel', { schema: { params: idParams, body: noBody } }, async (request) => {
    const done = await cancelOutgoing(ctx, { id: request.params.id }, { via: 'admin', ip: request.ip });
    events.add('outgoing.cancel', { recipients: done.recipients });
    return done;
  });
}
