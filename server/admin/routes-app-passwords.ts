// /api/aliases/:id/app-passwords: list, add (shown once; the mailbox unlocked or its password given, as for the
// quota), revoke (its sessions end at once), and an Apple profile carrying a fresh app password for one device.
import type { FastifyInstance } from 'fastify';
import { appleMobileconfig } from '../config/autoconfig.js';
import type { AdminDeps } from './http.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } } as const;
const appParams = { type: 'object', required: ['id', 'app'], properties: { id: { type: 'string', format: 'uuid' }, app: { type: 'string', format: 'uuid' } } } as const;
// The name's own rules (characters, SEALPOST_APP_PASSWORD_NAME_MAX) are checked by the operation; this only bounds the body.
const addBody = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', minLength: 1, maxLength: 400 }, password: { type: 'string', minLength: 1, maxLength: 1024 } },
} as const;

export function registerAppPasswordRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const { ctx, ops, events } = deps;

  app.get<{ Params: { id: string } }>('/api/aliases/:id/app-passwords', { schema: { params: idParams } }, async (request) => ops.listAppPasswords(ops.requireAliasById(request.params.id)));

  app.post<{ Params: { id: string }; Body: { name: string; password?: string } }>('/api/aliases/:id/app-passwords', { schema: { params: idParams, body: addBody } }, async (request, reply) => {
    const alias = ops.requireAliasById(request.params.id);
    const created = await ops.addAppPassword(alias, request.body.name, request.body.password, request.ip);
    events.add('alias.app_password_added', null, alias.id);
    // The password is in this response only; Sealpost keeps no copy.
    return reply.code(201).header('cache-control', 'no-store').send({ appPassword: created.appPassword, password: created.password });
  });

  app.delete<{ Params: { id: string; app: string } }>('/api/aliases/:id/app-passwords/:app', { schema: { params: appParams } }, async (request) => {
    const alias = ops.requireAliasById(request.params.id);
    const revoked = await ops.revokeAppPassword(alias, request.params.app, request.ip);
    events.add('alias.app_password_revoked', null, alias.id);
    return { ok: true, sessions: revoked.sessions };
  });

  // A profile for one device with a new app password named after it: POST (it makes a secret), never cached.
  app.post<{ Params: { id: string }; Body: { name: string; password?: string } }>('/api/aliases/:id/app-passwords/mobileconfig', { schema: { params: idParams, body: addBody } }, async (request, reply) => {
    const alias = ops.requireAliasById(request.params.id);
    const created = await ops.addAppPassword(alias, request.body.name, request.body.password, request.ip);
    events.add('alias.app_password_added', null, alias.id);
    return reply
      .type('application/x-apple-aspen-config')
      .header('cache-control', 'no-store')
      .header('content-disposition', `attachment; filename="sealpost-${alias.id.slice(0, 8)}-${created.appPassword.id.slice(0, 8)}.mobileconfig"`)
      .send(appleMobileconfig(alias.address, ctx.config, created.appPassword.id, created.password));
  });
}
