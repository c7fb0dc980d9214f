// /api/settings (ports, host names, TLS certificate, relay, backup schedule and retention, admin TLS, the mail
// switches, which fields SEALPOST_* variables set, whether a restart is pending), /api/restart, and
// /api/logs (recent events: the directory audit log plus the admin's own ring — ids only, never addresses).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { LISTENER_NAMES, PORT_SOURCES, loadConfig, type ListenerName, type SealpostConfig } from '../config/index.js';
import { MAIL_LIMITS, MAIL_OPTIONS } from '../config/mail-options.js';
import * as ops from '../ops/index.js';
import { UserError } from '../config/errors.js';
import { BACKUP_SETTINGS, backupSchedule } from '../backup/index.js';
import type { AdminEvent } from './events.js';
import { ADMIN_TLS_SETTING, adminTlsEnabled } from './exposure.js';
import { checkedHostname } from './routes-hostname.js';
import type { AdminDeps } from './http.js';

const portSchema = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const hostText = { type: 'string', minLength: 1, maxLength: 253, pattern: '^[^\\s]+$' } as const;

interface SettingsBody {
  host?: string;
  hostname?: string;
  ports?: Partial<Record<ListenerName, number>>;
  adminTls?: boolean;
  backup?: { time?: string; enabled?: boolean; retention?: string };
  mailOptions?: Record<string, boolean>;
  mailLimits?: Record<string, number | null>;
}

/** Settings-page fields a SEALPOST_* variable sets, besides the ports (the first variable set names it). */
const ENV_FIELDS: readonly (readonly [string, readonly string[]])[] = [
  ['host', ['SEALPOST_HOST']],
  ['hostname', ['SEALPOST_HOSTNAME']],
  ['tls', ['SEALPOST_TLS_CERT', 'SEALPOST_TLS_KEY']],
  ['adminTls', ['SEALPOST_ADMIN_TLS']],
  ['backup.time', ['SEALPOST_BACKUP_TIME']],
  ['backup.retention', ['SEALPOST_BACKUP_RETENTION']],
  ['backup.enabled', ['SEALPOST_BACKUP_ENABLED']],
];

export function registerSettingsRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const { ctx, events } = deps;
  const env = ctx.config.env;

  // Which run of the server answers: the page that asked for a restart waits for another one.
  const run = crypto.randomBytes(8).toString('hex');
  // The schedule the jobs service started with (it reads it once, at start, just as this does).
  const runningSchedule = backupSchedule(env, ctx.directory);
  // Likewise the incoming-mail limits the MX started with.
  const runningLimits = new Map(ops.listMailLimits(ctx).map((l) => [l.limit.key, l.value]));

  /** Each field of the Settings page that a SEALPOST_* variable sets, with that variable's name. */
  const overrides = (): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const name of LISTENER_NAMES) if (env[PORT_SOURCES[name].env]) out[`ports.${name}`] = PORT_SOURCES[name].env;
    for (const limit of MAIL_LIMITS) if (env[limit.env]?.trim()) out[`limits.${limit.key}`] = limit.env;
    for (const [field, names] of ENV_FIELDS) {
      const set = names.find((name) => env[name]);
      if (set) out[field] = set;
    }
    return out;
  };

  /** True when what is saved differs from what runs, for something only a restart applies. */
  const pendingRestart = (): boolean => {
    let next: SealpostConfig;
    try {
      next = ctx.restart ? ctx.restart.nextConfig() : loadConfig({ env, settings: ctx.directory.getSettings() });
    } catch {
      return false; // saved settings that do not parse are refused on save; nothing a restart would apply
    }
    const running = ctx.config;
    const schedule = backupSchedule(env, ctx.directory);
    return (
      next.host !== running.host ||
      next.hostname !== running.hostname ||
      LISTENER_NAMES.some((name) => next.ports[name] !== running.ports[name]) ||
      next.tls.certPath !== running.tls.certPath ||
      next.tls.keyPath !== running.tls.keyPath ||
      adminTlsEnabled(env, ctx.directory) !== deps.https ||
      schedule.enabled !== runningSchedule.enabled ||
      (schedule.enabled && schedule.time !== runningSchedule.time) ||
      ops.listMailLimits(ctx).some((l) => l.value !== runningLimits.get(l.limit.key))
    );
  };

  const view = (): Record<string, unknown> => {
    const saved = ctx.directory.getSettings();
    const schedule = backupSchedule(env, ctx.directory);
    const overriddenBy = overrides();
    const savedPorts: Partial<Record<ListenerName, unknown>> = {};
    for (const name of LISTENER_NAMES) if (saved[PORT_SOURCES[name].setting] !== undefined) savedPorts[name] = saved[PORT_SOURCES[name].setting];
    return {
      running: {
        host: ctx.config.host,
        hostname: ctx.config.hostname,
        ports: ctx.config.ports,
        adminTls: deps.https,
        tls: { source: ctx.tls.source, fingerprint: ctx.tls.fingerprint256(), certificate: ctx.tls.certificatePem() },
      },
      saved: {
        host: saved.host ?? null,
        hostname: saved.hostname ?? null,
        ports: savedPorts,
        adminTls: saved[ADMIN_TLS_SETTING] === true,
        tls: saved.tlsCert ? 'upload' : 'self-signed',
      },
      // Field → the SEALPOST_* variable that sets it (it wins over what is saved; saving it changes nothing).
      overrides: overriddenBy,
      overridden: Object.keys(overriddenBy),
      // The switches that apply at once, with the words the Settings page and the CLI show.
      mailOptions: ops.listMailOptions(ctx).map(({ key, label, help, on }) => ({ key, label, help, on })),
      // The limits of incoming mail: the value the next start uses (the MX reads them at start).
      mailLimits: ops.listMailLimits(ctx).map(({ limit, value }) => ({ key: limit.key, label: limit.label, help: limit.help, unit: limit.unit, min: limit.min, max: limit.max ?? null, value })),
      pendingRestart: pendingRestart(),
      run,
      canRestart: ctx.restart !== undefined,
      relay: ctx.outbound.relay(),
      backup: { time: schedule.time, enabled: schedule.enabled, retention: schedule.retention, retentionText: retentionText(schedule.retention) },
      notice: 'Ports, host names, admin TLS, the certificate and the backup schedule take effect after a restart of the server.',
    };
  };

  app.get('/api/settings', async () => view());

  app.put<{ Body: SettingsBody }>(
    '/api/settings',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            host: hostText,
            hostname: hostText,
            adminTls: { type: 'boolean' },
            mailOptions: { type: 'object', additionalProperties: false, minProperties: 1, properties: Object.fromEntries(MAIL_OPTIONS.map((o) => [o.key, { type: 'boolean' }])) },
            mailLimits: { type: 'object', additionalProperties: false, minProperties: 1, properties: Object.fromEntries(MAIL_LIMITS.map((l) => [l.key, { type: ['integer', 'null'], minimum: l.min, ...(l.max !== undefined ? { maximum: l.max } : {}) }])) },
            ports: { type: 'object', additionalProperties: false, minProperties: 1, properties: Object.fromEntries(LISTENER_NAMES.map((n) => [n, portSchema])) },
            backup: {
              type: 'object',
              additionalProperties: false,
              minProperties: 1,
              properties: {
                time: { type: 'string', pattern: '^([01]\\d|2[0-3]):[0-5]\\d$' },
                enabled: { type: 'boolean' },
                retention: { type: 'string', maxLength: 40, pattern: '^\\s*\\d{1,4}[dwm](\\s*,\\s*\\d{1,4}[dwm])*\\s*$' },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const body = request.body;
      const changes: [string, unknown][] = [];
      if (body.host !== undefined) changes.push(['host', body.host]);
      if (body.hostname !== undefined) changes.push(['hostname', checkedHostname(body.hostname)]);
      for (const [name, port] of Object.entries(body.ports ?? {})) changes.push([PORT_SOURCES[name as ListenerName].setting, port]);
      if (body.adminTls !== undefined) changes.push([ADMIN_TLS_SETTING, body.adminTls]);
      if (body.backup?.time !== undefined) changes.push([BACKUP_SETTINGS.time, body.backup.time]);
      if (body.backup?.enabled !== undefined) changes.push([BACKUP_SETTINGS.enabled, body.backup.enabled]);
      if (body.backup?.retention !== undefined) changes.push([BACKUP_SETTINGS.retention, body.backup.retention.replace(/\s/g, '')]);
      // Validate the whole result (e.g. two listeners on one port) before saving anything.
      const merged = { ...ctx.directory.getSettings(), ...Object.fromEntries(changes) };
      try {
        loadConfig({ env: {}, settings: merged });
        backupSchedule({}, { getSetting: (key) => merged[key] });
      } catch (error) {
        throw new UserError(error instanceof Error ? error.message : String(error), 'BAD_SETTINGS');
      }
      ctx.directory.transaction(() => {
        for (const [key, value] of changes) ctx.directory.setSetting(key, value);
      });
      // The switches apply at once; each is an owner operation with its own audit line.
      for (const [key, on] of Object.entries(body.mailOptions ?? {})) await ops.setMailOption(ctx, { option: ops.requireMailOption(key), on }, { via: 'admin', ip: request.ip });
      // Limits a variable sets are left alone: saving them would change nothing (the page greys them out).
      const limits = Object.entries(body.mailLimits ?? {}).flatMap(([key, value]) => MAIL_LIMITS.filter((l) => l.key === key && !env[l.env]?.trim()).map((limit) => ({ limit, value })));
      for (const { limit, value } of limits) await ops.setMailLimit(ctx, { limit, value }, { via: 'admin', ip: request.ip });
      if (changes.length) events.add('settings.saved', { keys: changes.length });
      const result = view();
      return { ...result, restartRequired: changes.length + limits.length > 0 && result.pendingRestart === true };
    },
  );

  // Restart Sealpost now: checked, answered, then every listener closes and the server starts again in this
  // process with the saved settings. The answer says where the admin page will be.
  app.post('/api/restart', async (request) => {
    const plan = await ops.restartServer(ctx, { restart: ctx.restart }, { via: 'admin', ip: request.ip });
    events.add('server.restart', { moved: plan.moved.length });
    const settings = ctx.directory.getSettings();
    const https = adminTlsEnabled(env, { getSetting: (key) => settings[key] });
    const host = plan.next.host === '0.0.0.0' || plan.next.host === '::' ? null : plan.next.host.includes(':') ? `[${plan.next.host}]` : plan.next.host;
    return { restarting: true, admin: plan.next.ports.admin === 0 ? null : { scheme: https ? 'https' : 'http', host, port: plan.next.ports.admin } };
  });

  app.post<{ Body: { mode: 'self-signed' | 'upload'; cert?: string; key?: string } }>(
    '/api/settings/tls',
    {
      schema: {
        body: {
          type: 'object',
          required: ['mode'],
          additionalProperties: false,
          properties: { mode: { type: 'string', enum: ['self-signed', 'upload'] }, cert: { type: 'string', maxLength: 200_000 }, key: { type: 'string', maxLength: 200_000 } },
        },
      },
    },
    async (request) => {
      const { mode, cert, key } = request.body;
      if (mode === 'self-signed') {
        ctx.directory.transaction(() => {
          ctx.directory.setSetting('tlsCert', undefined);
          ctx.directory.setSetting('tlsKey', undefined);
        });
        events.add('tls.self_signed');
        return { ok: true, restartRequired: pendingRestart() };
      }
      if (!cert || !key) throw new UserError('Paste both the certificate (PEM) and its private key (PEM).', 'BAD_TLS');
      let info: crypto.X509Certificate;
      try {
        info = new crypto.X509Certificate(cert);
        tls.createSecureContext({ cert, key }); // throws when the key does not belong to the certificate
      } catch {
        throw new UserError('The certificate and key are not a matching PEM pair.', 'BAD_TLS');
      }
      if (Date.parse(info.validTo) < Date.now()) throw new UserError(`The certificate expired on ${info.validTo}.`, 'BAD_TLS');
      const certPath = path.join(ctx.paths.tlsDir, 'uploaded-cert.pem');
      const keyPath = path.join(ctx.paths.tlsDir, 'uploaded-key.pem');
      writePrivate(keyPath, key);
      writePrivate(certPath, cert);
      ctx.directory.transaction(() => {
        ctx.directory.setSetting('tlsCert', certPath);
        ctx.directory.setSetting('tlsKey', keyPath);
      });
      events.add('tls.uploaded');
      return { ok: true, restartRequired: pendingRestart(), subject: info.subject.replace(/\n/g, ', '), validTo: info.validTo };
    },
  );

  app.put<{ Body: { host: string; port: number; tls: 'starttls' | 'tls' | 'none'; insecure?: boolean; username?: string; password?: string } }>(
    '/api/settings/relay',
    {
      schema: {
        body: {
          type: 'object',
          required: ['host', 'port', 'tls'],
          additionalProperties: false,
          properties: {
            host: hostText,
            port: { type: 'integer', minimum: 1, maximum: 65535 },
            tls: { type: 'string', enum: ['starttls', 'tls', 'none'] },
            insecure: { type: 'boolean' },
            username: { type: 'string', maxLength: 320 },
            password: { type: 'string', maxLength: 1024 },
          },
        },
      },
    },
    async (request) => {
      const b = request.body;
      await ctx.outbound.setRelay({ host: b.host, port: b.port, tls: b.tls, insecure: b.insecure ?? false, username: b.username ? b.username : null }, b.password ? b.password : undefined);
      events.add('relay.saved');
      return { ok: true, relay: ctx.outbound.relay() };
    },
  );

  app.delete('/api/settings/relay', async () => {
    await ctx.outbound.setRelay(null);
    events.add('relay.cleared');
    return { ok: true, relay: null };
  });

  app.post('/api/settings/relay/test', async () => ctx.outbound.testRelay());

  app.get<{ Querystring: { limit?: string } }>(
    '/api/logs',
    { schema: { querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'string', pattern: '^[0-9]{1,4}$' } } } } },
    async (request) => {
      const limit = Math.min(1000, Math.max(1, Number(request.query.limit ?? 200)));
      const audit: AdminEvent[] = ctx.directory.listAudit({ limit }).map((e) => ({ time: e.time.toISOString(), event: e.event, aliasId: e.aliasId, detail: e.detail, source: 'audit' }));
      const merged = [...audit, ...deps.events.recent(limit)].sort((a, b) => b.time.localeCompare(a.time)).slice(0, limit);
      const addresses = new Map(ctx.directory.listAliases().map((a) => [a.id as string, a.displayAddress]));
      // The UI shows the alias by name to the admin; the stored entries themselves only hold the id.
      return merged.map((e) => ({ ...e, alias: e.aliasId ? (addresses.get(e.aliasId) ?? null) : null }));
    },
  );
}

function retentionText(policy: { daily: number; weekly: number; monthly: number }): string {
  return `${policy.daily}d,${policy.weekly}w,${policy.monthly}m`;
}

function writePrivate(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}
