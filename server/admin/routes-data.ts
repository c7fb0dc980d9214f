// /api/jobs, /api/backups (generations, run now, verify, restore, export download) and /api/remotes
// (R2/S3 targets: add, test, push, remote generations, restore).
import fs from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { describeTarget, type NewTarget } from '../remote/index.js';
import { parseRetention } from '../backup/index.js';
import { UserError } from '../config/errors.js';
import { sendError, type AdminDeps } from './http.js';

const uuid = { type: 'string', format: 'uuid' } as const;
const generation = { type: 'string', minLength: 10, maxLength: 40, pattern: '^[0-9A-Za-z._-]+$' } as const;
const aliasPassword = { type: 'string', minLength: 1, maxLength: 1024 } as const;
const folders = { type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 500 } } as const;
const remoteName = { type: 'string', minLength: 1, maxLength: 32, pattern: '^[a-z0-9][a-z0-9-]*$' } as const;

export function registerDataRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const { ctx, ops, jobs, events } = deps;

  // ── jobs ──────────────────────────────────────────────────────────────
  app.get('/api/jobs', async () => jobs.list());
  app.get<{ Params: { id: string } }>('/api/jobs/:id', { schema: { params: { type: 'object', required: ['id'], properties: { id: uuid } } } }, async (request, reply) => {
    const job = jobs.get(request.params.id);
    if (!job) return sendError(reply, 404, 'No such job (finished jobs are kept for an hour).', 'NOT_FOUND');
    return job;
  });

  // ── backups ───────────────────────────────────────────────────────────
  app.get('/api/backups', async () =>
    ctx.directory.listAliases().map((alias) => ({ aliasId: alias.id, displayAddress: alias.displayAddress, unlocked: ctx.keyRing.has(alias.id), generations: ops.generations(alias) })),
  );

  app.post<{ Body: { aliasId?: string } }>(
    '/api/backups/run',
    { schema: { body: { type: 'object', additionalProperties: false, properties: { aliasId: uuid } } } },
    async (request, reply) => {
      const aliasId = request.body?.aliasId;
      const aliases = aliasId ? [ops.requireAliasById(aliasId)] : 'all';
      if (ctx.directory.listAliases().length === 0) throw new UserError('There is no alias to back up yet.', 'NOTHING_TO_BACK_UP');
      const job = jobs.start('backup.run', async (report) => {
        const results = await ops.runBackups(aliases, request.ip, report);
        events.add('backup.run', { aliases: results.length, created: results.filter((r) => r.created).length });
        return { result: results.map((r) => ({ created: r.created, generation: r.generation })) };
      });
      return reply.code(202).send({ job });
    },
  );

  const genParams = { type: 'object', required: ['aliasId', 'generation'], properties: { aliasId: uuid, generation } } as const;

  app.post<{ Params: { aliasId: string; generation: string }; Body: { password?: string } }>(
    '/api/backups/:aliasId/:generation/verify',
    { schema: { params: genParams, body: { type: 'object', additionalProperties: false, properties: { password: aliasPassword } } } },
    async (request) => {
      const alias = ops.requireAliasById(request.params.aliasId);
      return ops.verify(alias, request.params.generation, request.body?.password, request.ip);
    },
  );

  app.post<{ Params: { aliasId: string; generation: string }; Body: { password?: string; folders?: string[] } }>(
    '/api/backups/:aliasId/:generation/restore',
    { schema: { params: genParams, body: { type: 'object', additionalProperties: false, properties: { password: aliasPassword, folders } } } },
    async (request, reply) => {
      const alias = ops.requireAliasById(request.params.aliasId);
      const body = request.body ?? {};
      await ops.requireKey(alias, body.password, request.ip); // wrong password / locked → an immediate 403/409, not a failed job
      const job = jobs.start('backup.restore', async (report) => {
        const result = await ops.restore(alias, request.params.generation, { folders: body.folders, password: body.password, ip: request.ip }, report);
        events.add('backup.restored', { mode: String(result.mode) }, alias.id);
        return { result };
      });
      return reply.code(202).send({ job });
    },
  );

  app.post<{ Params: { aliasId: string }; Body: { password: string } }>(
    '/api/backups/:aliasId/export',
    {
      schema: {
        params: { type: 'object', required: ['aliasId'], properties: { aliasId: uuid } },
        body: { type: 'object', required: ['password'], additionalProperties: false, properties: { password: aliasPassword } },
      },
    },
    async (request, reply) => {
      const alias = ops.requireAliasById(request.params.aliasId);
      const { password } = request.body;
      // Check the password now (an export file opens with it), then make the file in a job.
      await ops.requireKey(alias, password, request.ip);
      const job = jobs.start('backup.export', async (report, jobId) => {
        report({ phase: 'writing the encrypted export', done: 0, total: 1 });
        const made = await ops.exportForDownload(alias, password, request.ip);
        deps.downloads.set(jobId, { ...made, aliasId: alias.id });
        // Unclaimed exports are removed after 15 minutes.
        setTimeout(() => dropDownload(deps, jobId), 15 * 60_000).unref();
        events.add('backup.exported', null, alias.id);
        return { result: { download: `/api/downloads/${jobId}`, name: made.name } };
      });
      return reply.code(202).send({ job });
    },
  );

  app.get<{ Params: { id: string } }>('/api/downloads/:id', { schema: { params: { type: 'object', required: ['id'], properties: { id: uuid } } } }, async (request, reply) => {
    const download = deps.downloads.get(request.params.id);
    if (!download || !fs.existsSync(download.file)) return sendError(reply, 404, 'This download is gone (each export can be downloaded once, within 15 minutes).', 'NOT_FOUND');
    deps.downloads.delete(request.params.id);
    const stream = fs.createReadStream(download.file);
    stream.on('close', () => fs.rmSync(download.file, { force: true }));
    return reply
      .type('application/vnd.sqlite3')
      .header('content-disposition', `attachment; filename="${download.name}"`)
      .header('content-length', String(fs.statSync(download.file).size))
      .send(stream);
  });

  // ── remotes ───────────────────────────────────────────────────────────
  const nameParams = { type: 'object', required: ['name'], properties: { name: remoteName } } as const;

  app.get('/api/remotes', async () => ops.remotes().describe());

  app.post<{
    Body: {
      name: string;
      kind: 'r2' | 's3';
      bucket: string;
      accessKeyId: string;
      secretAccessKey: string;
      accountId?: string;
      endpoint?: string;
      region?: string;
      pathStyle?: boolean;
      prefix?: string;
      retention?: string;
    };
  }>(
    '/api/remotes',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name', 'kind', 'bucket', 'accessKeyId', 'secretAccessKey'],
          additionalProperties: false,
          properties: {
            name: remoteName,
            kind: { type: 'string', enum: ['r2', 's3'] },
            bucket: { type: 'string', minLength: 1, maxLength: 63 },
            accessKeyId: { type: 'string', minLength: 1, maxLength: 256 },
            secretAccessKey: { type: 'string', minLength: 1, maxLength: 1024 },
            accountId: { type: 'string', maxLength: 64 },
            endpoint: { type: 'string', maxLength: 500 },
            region: { type: 'string', maxLength: 64 },
            pathStyle: { type: 'boolean' },
            prefix: { type: 'string', maxLength: 200 },
            retention: { type: 'string', maxLength: 40 },
          },
        },
      },
    },
    async (request, reply) => {
      const { secretAccessKey, retention, ...rest } = request.body;
      const input: NewTarget = {
        ...rest,
        ...(rest.accountId === '' ? { accountId: undefined } : {}),
        ...(rest.endpoint === '' ? { endpoint: undefined } : {}),
        ...(retention ? { retention: parseRetentionOrThrow(retention) } : {}),
      };
      const target = await ops.remotes().add(input, secretAccessKey);
      events.add('remote.added');
      return reply.code(201).send(describeTarget(target));
    },
  );

  app.delete<{ Params: { name: string } }>('/api/remotes/:name', { schema: { params: nameParams } }, async (request) => {
    await ops.remotes().remove(request.params.name);
    events.add('remote.removed');
    return { ok: true };
  });

  app.post<{ Params: { name: string } }>('/api/remotes/:name/test', { schema: { params: nameParams } }, async (request) => {
    const result = await ops.remotes().test(request.params.name);
    return { ok: true, objects: result.objects };
  });

  app.post<{ Params: { name: string }; Body: { aliasId?: string } }>(
    '/api/remotes/:name/push',
    { schema: { params: nameParams, body: { type: 'object', additionalProperties: false, properties: { aliasId: uuid } } } },
    async (request, reply) => {
      ops.remotes().target(request.params.name);
      const aliasId = request.body?.aliasId;
      const aliases = aliasId ? [ops.requireAliasById(aliasId)] : 'all';
      const job = jobs.start('remote.push', async (report) => {
        const result = await ops.push(request.params.name, aliases, request.ip, report);
        events.add('remote.pushed', { aliases: result.aliases, uploaded: result.uploaded });
        return { result };
      });
      return reply.code(202).send({ job });
    },
  );

  app.get<{ Params: { name: string; aliasId: string } }>(
    '/api/remotes/:name/backups/:aliasId',
    { schema: { params: { type: 'object', required: ['name', 'aliasId'], properties: { name: remoteName, aliasId: uuid } } } },
    async (request) => {
      const alias = ops.requireAliasById(request.params.aliasId);
      return ops.remotes().listBackups(alias.mailboxId, { target: request.params.name });
    },
  );

  app.post<{ Params: { name: string }; Body: { aliasId: string; generation: string; password?: string; folders?: string[] } }>(
    '/api/remotes/:name/restore',
    {
      schema: {
        params: nameParams,
        body: {
          type: 'object',
          required: ['aliasId', 'generation'],
          additionalProperties: false,
          properties: { aliasId: uuid, generation, password: aliasPassword, folders },
        },
      },
    },
    async (request, reply) => {
      const alias = ops.requireAliasById(request.body.aliasId);
      ops.remotes().target(request.params.name);
      const body = request.body;
      await ops.requireKey(alias, body.password, request.ip);
      const job = jobs.start('remote.restore', async (report) => {
        const result = await ops.restore(alias, body.generation, { folders: body.folders, password: body.password, ip: request.ip, remote: request.params.name }, report);
        events.add('remote.restored', { mode: String(result.mode) }, alias.id);
        return { result };
      });
      return reply.code(202).send({ job });
    },
  );
}

function parseRetentionOrThrow(text: string): ReturnType<typeof parseRetention> {
  try {
    return parseRetention(text);
  } catch {
    throw new UserError(`Retention "${text}" is not like 7d,4w,12m.`, 'BAD_RETENTION');
  }
}

export function dropDownload(deps: AdminDeps, id: string): void {
  const download = deps.downloads.get(id);
  if (!download) return;
  deps.downloads.delete(id);
  fs.rmSync(download.file, { force: true });
}
