// /api/aliases/:id/rules: the alias's Sieve scripts and the mail rules / automatic reply form. Thin over
// server/ops/mail-rules.ts; the mailbox must be unlocked (409 "unlock the mailbox to edit its rules").
import type { FastifyInstance } from 'fastify';
import type { MailRulesForm } from '../ops/index.js';
import type { AdminDeps } from './http.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } } as const;
const scriptParams = { type: 'object', required: ['id', 'name'], properties: { id: { type: 'string', format: 'uuid' }, name: { type: 'string', minLength: 1, maxLength: 512 } } } as const;
const text = (max: number) => ({ type: 'string', maxLength: max }) as const;

const ruleSchema = {
  type: 'object',
  required: ['field', 'match', 'value', 'action', 'stop'],
  additionalProperties: false,
  properties: {
    field: { enum: ['from', 'to', 'subject', 'header'] },
    header: text(80),
    match: { enum: ['contains', 'is', 'matches'] },
    value: text(500),
    action: { enum: ['move', 'read', 'flag', 'delete', 'forward'] },
    folder: text(200),
    address: text(320),
    stop: { type: 'boolean' },
  },
} as const;

const formSchema = {
  type: 'object',
  required: ['rules', 'vacation'],
  additionalProperties: false,
  properties: {
    rules: { type: 'array', maxItems: 50, items: ruleSchema },
    vacation: {
      type: 'object',
      required: ['enabled', 'subject', 'text', 'days'],
      additionalProperties: false,
      properties: { enabled: { type: 'boolean' }, subject: text(500), text: text(5000), days: { type: 'integer', minimum: 1, maximum: 365 } },
    },
  },
} as const;

export function registerRulesRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const { ops } = deps;

  app.get<{ Params: { id: string } }>('/api/aliases/:id/rules', { schema: { params: idParams } }, async (request) => ops.mailRules(ops.requireAliasById(request.params.id), request.ip));

  app.put<{ Params: { id: string }; Body: { form: MailRulesForm; overwrite?: boolean } }>(
    '/api/aliases/:id/rules/form',
    { schema: { params: idParams, body: { type: 'object', required: ['form'], additionalProperties: false, properties: { form: formSchema, overwrite: { type: 'boolean' } } } } },
    async (request) => {
      const alias = ops.requireAliasById(request.params.id);
      await ops.saveMailRulesForm(alias, request.body.form, request.body.overwrite === true, request.ip);
      return ops.mailRules(alias, request.ip);
    },
  );

  app.get<{ Params: { id: string; name: string } }>('/api/aliases/:id/rules/scripts/:name', { schema: { params: scriptParams } }, async (request) => ({
    name: request.params.name,
    content: await ops.mailScript(ops.requireAliasById(request.params.id), request.params.name, request.ip),
  }));

  app.put<{ Params: { id: string; name: string }; Body: { content: string; activate?: boolean } }>(
    '/api/aliases/:id/rules/scripts/:name',
    { schema: { params: scriptParams, body: { type: 'object', required: ['content'], additionalProperties: false, properties: { content: text(1024 * 1024), activate: { type: 'boolean' } } } } },
    async (request) => {
      const alias = ops.requireAliasById(request.params.id);
      await ops.putMailScript(alias, request.params.name, request.body.content, request.body.activate === true, request.ip);
      return ops.mailRules(alias, request.ip);
    },
  );

  app.post<{ Params: { id: string; name: string } }>('/api/aliases/:id/rules/scripts/:name/activate', { schema: { params: scriptParams } }, async (request) => {
    const alias = ops.requireAliasById(request.params.id);
    await ops.activateMailScript(alias, request.params.name, request.ip);
    return ops.mailRules(alias, request.ip);
  });

  app.post<{ Params: { id: string } }>('/api/aliases/:id/rules/off', { schema: { params: idParams } }, async (request) => {
    const alias = ops.requireAliasById(request.params.id);
    await ops.activateMailScript(alias, null, request.ip);
    return ops.mailRules(alias, request.ip);
  });

  app.delete<{ Params: { id: string; name: string } }>('/api/aliases/:id/rules/scripts/:name', { schema: { params: scriptParams } }, async (request) => {
    const alias = ops.requireAliasById(request.params.id);
    await ops.deleteMailScript(alias, request.params.name, request.ip);
    return ops.mailRules(alias, request.ip);
  });
}
