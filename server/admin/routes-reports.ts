// /api/reports: the DMARC and TLS aggregate reports received for our domains, summed per domain — which
// source IPs send as the domain and whether DKIM, SPF and DMARC pass; how TLS sessions to our MX went per
// reporting organization. Read-only; authenticated like every /api route.
import type { FastifyInstance } from 'fastify';
import { UserError } from '../config/errors.js';
import type { DomainReportSummary } from '../directory/reports.js';
import { reportAddressOf, reportLimitsFromEnv } from '../reports/index.js';
import type { AdminDeps } from './http.js';

const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 253 } } } as const;

export function registerReportRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const { ctx } = deps;

  const view = (name: string): Record<string, unknown> => {
    const domain = ctx.directory.getDomain(name);
    if (!domain) throw new UserError(`The domain ${name} is not set up here.`, 'UNKNOWN_DOMAIN');
    const summary: DomainReportSummary = ctx.directory.reports.summary(domain.name);
    return {
      ...summary,
      unicodeName: domain.unicodeName,
      reportAddress: reportAddressOf(domain.name, domain.reportLocalPart),
      recent: summary.recent.map((r) => ({ ...r, begin: r.begin.toISOString(), end: r.end.toISOString(), received: r.received.toISOString() })),
    };
  };

  app.get('/api/reports', async () => ({
    retentionDays: reportLimitsFromEnv(ctx.config.env).retentionDays,
    domains: ctx.directory.listDomains().map((d) => view(d.name)),
  }));

  app.get<{ Params: { name: string } }>('/api/reports/:name', { schema: { params: nameParams } }, async (request) => view(request.params.name));
}
