// /api/status, /api/domains, /api/aliases (+ forwards, webhooks, lock/unlock, password, .mobileconfig).
import type { FastifyInstance } from 'fastify';
import { UserError } from '../config/errors.js';
import { assertCanChangePassword } from '../ops/index.js';
import { LISTENER_NAMES, type ListenerName } from '../config/index.js';
import type { ListenerSecurity } from '../context.js';
import { applyDomainSettings } from '../directory/domain-settings.js';
import { normalizeAddress, type AliasId } from '../directory/index.js';
import { resolverFromEnv } from '../smtp/dns.js';
import { forwardTargetRefusal, targetPolicyFromEnv, webhookUrlRefusal } from '../smtp/outbound/targets.js';
import { appleMobileconfig } from '../config/autoconfig.js';
import { checkRecords, recordsFor, zoneLine } from './dns-records.js';
import { reportAddressOf } from '../reports/index.js';
import { adminExposureWarning } from './exposure.js';
import { hostnameWarnings } from './routes-hostname.js';
import { sendError, type AdminDeps } from './http.js';

const SECURITY: Record<ListenerName, ListenerSecurity> = {
  smtp: 'starttls',
  submission: 'starttls',
  submissions: 'tls',
  imap: 'starttls',
  imaps: 'tls',
  pop3: 'starttls',
  pop3s: 'tls',
  managesieve: 'starttls',
  admin: 'http',
  http: 'http',
  https: 'https',
};

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } } as const;
const aliasPassword = { type: 'string', minLength: 1, maxLength: 1024 } as const;
const quota = { anyOf: [{ type: 'integer', minimum: 1, maximum: 2 ** 50 }, { type: 'null' }] } as const;

export function registerMailRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const { ctx, ops, jobs, events } = deps;

  // ── status ────────────────────────────────────────────────────────────
  app.get('/api/status', async () => {
    const { config } = ctx;
    const services = LISTENER_NAMES.map((name) => ({
      name,
      port: config.ports[name],
      enabled: config.ports[name] > 0,
      security: name === 'admin' && deps.https ? 'https' : SECURITY[name],
    }));
    const aliases = await Promise.all(ctx.directory.listAliases().map(async (a) => ({ ...(await ops.aliasView(a)), drain: ctx.accounts.drainStatus(a) })));
    const unlocked = ctx.keyRing.unlockedIds();
    const sessions = unlocked.reduce((n, id) => n + ctx.keyRing.sessions(id), 0);
    const warnings: { code: string; message: string; aliasId?: string }[] = [];
    const now = Date.now();
    for (const a of aliases) {
      const last = a.lastBackup ? Date.parse(a.lastBackup) : null;
      if (last === null || now - last > 48 * 3600_000) {
        warnings.push({ code: 'NO_RECENT_BACKUP', aliasId: a.id, message: `${a.displayAddress}: ${last === null ? 'no backup yet' : 'no backup in the last 48 hours'}.` });
      }
      if (a.drain.state === 'over-quota') {
        warnings.push({ code: 'QUEUE_OVER_QUOTA', aliasId: a.id, message: `${a.displayAddress}: the mailbox is full; ${a.drain.queued} received message(s) wait sealed until mail is deleted or the quota raised.` });
      }
      if (a.quotaBytes !== null && a.usedBytes > 0.8 * a.quotaBytes) {
        warnings.push({ code: 'QUOTA', aliasId: a.id, message: `${a.displayAddress} uses ${Math.round((100 * a.usedBytes) / a.quotaBytes)} % of its quota.` });
      }
    }
    if (ctx.appKeyInfo.source === 'file') {
      warnings.push({ code: 'KEYCHAIN_FALLBACK', message: ctx.appKeyInfo.warning ?? 'The app key is kept in a file in the data dir, not in an OS keychain.' });
    }
    const exposure = adminExposureWarning(config.host, config.ports.admin, deps.https);
    if (exposure) warnings.push({ code: 'NO_TLS', message: exposure });
    warnings.push(...hostnameWarnings(config.hostname, ctx.directory));
    return {
      hostname: config.hostname,
      host: config.host,
      services,
      connections: { mailSessions: sessions, unlockedMailboxes: unlocked.length },
      queues: { sealed: aliases.reduce((n, a) => n + a.queued, 0), outbound: ctx.outbound.counts() },
      aliases: aliases.map((a) => ({
        id: a.id,
        displayAddress: a.displayAddress,
        usedBytes: a.usedBytes,
        fileBytes: a.fileBytes,
        quotaBytes: a.quotaBytes,
        lastBackup: a.lastBackup,
        queued: a.queued,
        drain: a.drain,
        unlocked: a.unlocked,
      })),
      appKey: { source: ctx.appKeyInfo.source },
      tls: { source: ctx.tls.source, fingerprint: ctx.tls.fingerprint256() },
      warnings,
    };
  });

  // ── domains ───────────────────────────────────────────────────────────
  const domainView = (name: string): Record<string, unknown> => {
    const d = ctx.directory.getDomain(name);
    if (!d) throw new UserError(`The domain ${name} is not set up here.`, 'UNKNOWN_DOMAIN');
    const catchAll = d.catchAllAliasId ? (ctx.directory.getAliasById(d.catchAllAliasId)?.displayAddress ?? null) : null;
    return {
      name: d.name,
      unicodeName: d.unicodeName,
      aliasCount: d.aliasCount,
      created: d.created.toISOString(),
      catchAllAliasId: d.catchAllAliasId,
      catchAll,
      dmarcRejectToJunk: d.dmarcRejectToJunk,
      reportAddress: reportAddressOf(d.name, d.reportLocalPart),
    };
  };
  const recordsOf = (name: string) => {
    const d = ctx.directory.getDomain(name);
    if (!d) throw new UserError(`The domain ${name} is not set up here.`, 'UNKNOWN_DOMAIN');
    return recordsFor(d.name, ctx.config, ctx.outbound.dkim.ensure(d.name).records, reportAddressOf(d.name, d.reportLocalPart));
  };
  const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 253 } } } as const;

  app.get('/api/domains', async () => ctx.directory.listDomains().map((d) => domainView(d.name)));

  app.post<{ Body: { name: string } }>(
    '/api/domains',
    { schema: { body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 253 } } } } },
    async (request, reply) => {
      const added = ctx.directory.addDomain(request.body.name);
      ctx.outbound.dkim.ensure(added.name);
      return reply.code(201).send({ ...domainView(added.name), records: recordsOf(added.name).map((r) => ({ ...r, zone: zoneLine(r) })) });
    },
  );

  app.delete<{ Params: { name: string } }>('/api/domains/:name', { schema: { params: nameParams } }, async (request) => {
    const existing = domainView(request.params.name);
    ctx.directory.removeDomain(request.params.name);
    ctx.outbound.dkim.remove(String(existing.name));
    return { ok: true };
  });

  // DMARC p=reject failures to Junk instead of 550; catch-all alias (an address of the domain, or null).
  app.patch<{ Params: { name: string }; Body: { dmarcRejectToJunk?: boolean; catchAll?: string | null; reportLocalPart?: string | null } }>(
    '/api/domains/:name',
    {
      schema: {
        params: nameParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            dmarcRejectToJunk: { type: 'boolean' },
            catchAll: { anyOf: [{ type: 'string', minLength: 3, maxLength: 320 }, { type: 'null' }] },
            // Local part of the aggregate-report address; null = the default (aggregate-reports).
            reportLocalPart: { anyOf: [{ type: 'string', minLength: 1, maxLength: 64 }, { type: 'null' }] },
          },
        },
      },
    },
    async (request) => {
      const body = request.body;
      applyDomainSettings(ctx.directory, request.params.name, {
        ...(body.dmarcRejectToJunk !== undefined ? { dmarcRejectToJunk: body.dmarcRejectToJunk } : {}),
        ...(body.catchAll !== undefined ? { catchAll: body.catchAll } : {}),
        ...(body.reportLocalPart !== undefined ? { reportLocalPart: body.reportLocalPart } : {}),
      });
      return domainView(request.params.name);
    },
  );

  app.get<{ Params: { name: string } }>('/api/domains/:name/records', { schema: { params: nameParams } }, async (request) => ({
    domain: domainView(request.params.name),
    records: recordsOf(request.params.name).map((r) => ({ ...r, zone: zoneLine(r) })),
  }));

  app.get<{ Params: { name: string } }>('/api/domains/:name/check', { schema: { params: nameParams } }, async (request) => {
    const records = recordsOf(request.params.name);
    const checked = await checkRecords(records, resolverFromEnv(ctx.config.env));
    return { checked: new Date().toISOString(), records: checked.map((r) => ({ ...r, zone: zoneLine(r) })) };
  });

  // ── aliases ───────────────────────────────────────────────────────────
  // `drain`: where the alias's sealed queue stands (state idle/draining/over-quota/error, queued, drained).
  app.get('/api/aliases', async () => Promise.all(ctx.directory.listAliases().map(async (a) => ({ ...(await ops.aliasView(a)), drain: ctx.accounts.drainStatus(a) }))));

  app.post<{ Body: { address: string; password?: string; quotaBytes?: number | null } }>(
    '/api/aliases',
    {
      schema: {
        body: {
          type: 'object',
          required: ['address'],
          additionalProperties: false,
          properties: { address: { type: 'string', minLength: 3, maxLength: 320 }, password: aliasPassword, quotaBytes: quota },
        },
      },
    },
    async (request, reply) => {
      const created = await ctx.accounts.createAlias(request.body.address, request.body.password ?? null, { quotaBytes: request.body.quotaBytes ?? null });
      reply.header('cache-control', 'no-store');
      // The generated password is in this response only; Sealpost does not keep it anywhere.
      return reply.code(201).send({ alias: await ops.aliasView(created.alias), ...(created.password ? { password: created.password } : {}) });
    },
  );

  app.get<{ Params: { id: string } }>('/api/aliases/:id', { schema: { params: idParams } }, async (request) => ops.aliasView(ops.requireAliasById(request.params.id)));

  app.patch<{ Params: { id: string }; Body: { enabled?: boolean; quotaBytes?: number | null; remember?: boolean; saveSentCopy?: boolean; password?: string } }>(
    '/api/aliases/:id',
    {
      schema: {
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { enabled: { type: 'boolean' }, quotaBytes: quota, remember: { type: 'boolean' }, saveSentCopy: { type: 'boolean' }, password: aliasPassword },
        },
      },
    },
    async (request) => {
      const alias = ops.requireAliasById(request.params.id);
      const body = request.body;
      if (body.enabled !== undefined) await ops.setEnabled(alias, body.enabled, request.ip);
      if (body.saveSentCopy !== undefined) await ops.setSaveSentCopy(alias, body.saveSentCopy, request.ip);
      if (body.quotaBytes !== undefined) await ops.setQuota(alias, body.quotaBytes, body.password, request.ip);
      if (body.remember !== undefined) await ops.setRemember(alias, body.remember, body.password, request.ip);
      return ops.aliasView(ops.requireAliasById(alias.id));
    },
  );

  app.post<{ Params: { id: string }; Body: { currentPassword?: string; newPassword?: string } }>(
    '/api/aliases/:id/password',
    {
      schema: {
        params: idParams,
        body: { type: 'object', additionalProperties: false, properties: { currentPassword: aliasPassword, newPassword: aliasPassword } },
      },
    },
    async (request, reply) => {
      const alias = ops.requireAliasById(request.params.id);
      const { currentPassword, newPassword } = request.body ?? {};
      assertCanChangePassword(ctx, alias, currentPassword ?? null);
      const job = jobs.start('alias.password', async (report) => {
        const password = await ops.changePassword(alias, currentPassword, newPassword, request.ip, report);
        return password ? { secret: { password } } : {};
      });
      return reply.code(202).send({ job });
    },
  );

  app.post<{ Params: { id: string }; Body: { password: string } }>(
    '/api/aliases/:id/unlock',
    { schema: { params: idParams, body: { type: 'object', required: ['password'], additionalProperties: false, properties: { password: aliasPassword } } } },
    async (request) => {
      const alias = ops.requireAliasById(request.params.id);
      await ctx.accounts.unlock(alias.address, request.body.password, { ip: request.ip, protocol: 'admin' });
      events.add('alias.unlocked', null, alias.id);
      return ops.aliasView(alias);
    },
  );

  // The junk filter line of the alias card: on/off (its switch and SEALPOST_JUNK) and, while unlocked, what it has learned.
  app.get<{ Params: { id: string } }>('/api/aliases/:id/junk', { schema: { params: idParams } }, async (request) => ops.junkView(ops.requireAliasById(request.params.id), request.ip));
  // The alias's own switch: { on: boolean }. Off, delivery strips a sender's X-Sealpost-Junk but neither scores nor files.
  app.patch<{ Params: { id: string }; Body: { on: boolean } }>(
    '/api/aliases/:id/junk',
    { schema: { params: idParams, body: { type: 'object', required: ['on'], additionalProperties: false, properties: { on: { type: 'boolean' } } } } },
    async (request) => ops.setJunkFilter(ops.requireAliasById(request.params.id), request.body.on, request.ip),
  );

  app.post<{ Params: { id: string } }>('/api/aliases/:id/lock', { schema: { params: idParams } }, async (request) => {
    const alias = ops.requireAliasById(request.params.id);
    await ops.lock(alias, request.ip);
    events.add('alias.locked', null, alias.id);
    return ops.aliasView(alias);
  });

  app.delete<{ Params: { id: string }; Body: { confirm: string } }>(
    '/api/aliases/:id',
    { schema: { params: idParams, body: { type: 'object', required: ['confirm'], additionalProperties: false, properties: { confirm: { type: 'string', maxLength: 320 } } } } },
    async (request, reply) => {
      const alias = ops.requireAliasById(request.params.id);
      let typed: string | null = null;
      try {
        typed = normalizeAddress(request.body.confirm, { stripTag: false }).address;
      } catch {
        typed = null;
      }
      if (typed !== alias.address) return sendError(reply, 400, `Type the address ${alias.displayAddress} exactly to delete it.`, 'CONFIRM_MISMATCH');
      await ops.removeAlias(alias, request.ip);
      return { ok: true };
    },
  );

  // forwards and webhooks
  const subParams = { type: 'object', required: ['id', 'sub'], properties: { id: { type: 'string', format: 'uuid' }, sub: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' } } } as const;

  app.post<{ Params: { id: string }; Body: { target: string; keepCopy?: boolean } }>(
    '/api/aliases/:id/forwards',
    {
      schema: {
        params: idParams,
        body: { type: 'object', required: ['target'], additionalProperties: false, properties: { target: { type: 'string', minLength: 3, maxLength: 320 }, keepCopy: { type: 'boolean' } } },
      },
    },
    async (request, reply) => {
      const alias = ops.requireAliasById(request.params.id);
      if (normalizeAddress(request.body.target, { stripTag: false }).address === alias.address) throw new UserError('An alias cannot forward to itself.', 'BAD_FORWARD');
      const refused = forwardTargetRefusal(request.body.target, targetPolicyFromEnv(ctx.config.env));
      if (refused) throw new UserError(refused, 'BAD_FORWARD');
      const forward = ctx.directory.addForward(alias.id as AliasId, request.body.target, request.body.keepCopy ?? true);
      return reply.code(201).send({ id: forward.id, target: forward.target, keepCopy: forward.keepCopy });
    },
  );

  app.delete<{ Params: { id: string; sub: string } }>('/api/aliases/:id/forwards/:sub', { schema: { params: subParams } }, async (request, reply) => {
    const alias = ops.requireAliasById(request.params.id);
    const id = Number(request.params.sub);
    if (!ctx.directory.listForwards(alias.id).some((f) => f.id === id)) return sendError(reply, 404, 'No such forwarding target.', 'NOT_FOUND');
    ctx.directory.removeForward(id);
    return { ok: true };
  });

  app.post<{ Params: { id: string }; Body: { url: string } }>(
    '/api/aliases/:id/webhooks',
    {
      schema: {
        params: idParams,
        body: { type: 'object', required: ['url'], additionalProperties: false, properties: { url: { type: 'string', minLength: 8, maxLength: 2000 } } },
      },
    },
    async (request, reply) => {
      const alias = ops.requireAliasById(request.params.id);
      const refused = webhookUrlRefusal(request.body.url, targetPolicyFromEnv(ctx.config.env));
      if (refused) throw new UserError(refused, 'BAD_WEBHOOK');
      const hook = ctx.directory.addWebhook(alias.id, request.body.url);
      return reply.code(201).send({ id: hook.id, url: hook.url, secret: hook.secret });
    },
  );

  app.delete<{ Params: { id: string; sub: string } }>('/api/aliases/:id/webhooks/:sub', { schema: { params: subParams } }, async (request, reply) => {
    const alias = ops.requireAliasById(request.params.id);
    const id = Number(request.params.sub);
    if (!ctx.directory.listWebhooks(alias.id).some((w) => w.id === id)) return sendError(reply, 404, 'No such webhook.', 'NOT_FOUND');
    ctx.directory.removeWebhook(id);
    return { ok: true };
  });

  app.get<{ Params: { id: string } }>('/api/aliases/:id/mobileconfig', { schema: { params: idParams } }, async (request, reply) => {
    const alias = ops.requireAliasById(request.params.id);
    const body = appleMobileconfig(alias.address, ctx.config, alias.id);
    return reply
      .type('application/x-apple-aspen-config')
      .header('content-disposition', `attachment; filename="sealpost-${alias.id.slice(0, 8)}.mobileconfig"`)
      .send(body);
  });

}
