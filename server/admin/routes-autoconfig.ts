// Public mail-client autoconfiguration: Thunderbird (both well-known paths) and Outlook autodiscover.
// Only domains set up here are answered; anything else is a 404, so nobody can map other names.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { tryNormalizeAddress } from '../directory/index.js';
import { autodiscoverAddress, outlookAutodiscover, thunderbirdConfig } from '../config/autoconfig.js';
import type { AdminDeps } from './http.js';

export function registerAutoconfigRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const { ctx } = deps;

  /** The domain asked for: ?emailaddress=, else the Host (autoconfig.<domain>); null when not ours. */
  const domainOf = (request: FastifyRequest<{ Querystring: { emailaddress?: string } }>): string | null => {
    const email = request.query.emailaddress;
    if (email) {
      const address = tryNormalizeAddress(email);
      return address && ctx.directory.isLocalDomain(address.domain) ? address.domain : null;
    }
    const host = (request.hostname || '').replace(/:\d+$/, '').replace(/^(autoconfig|autodiscover)\./i, '').toLowerCase();
    return host && ctx.directory.isLocalDomain(host) ? (ctx.directory.getDomain(host)?.name ?? null) : null;
  };

  const thunderbird = async (request: FastifyRequest<{ Querystring: { emailaddress?: string } }>, reply: FastifyReply): Promise<FastifyReply> => {
    const domain = domainOf(request);
    if (!domain) return reply.code(404).type('text/plain; charset=utf-8').send('No mail configuration for this domain here.\n');
    return reply.type('application/xml; charset=utf-8').header('cache-control', 'public, max-age=3600').send(thunderbirdConfig(domain, ctx.config));
  };
  const query = { querystring: { type: 'object', properties: { emailaddress: { type: 'string', maxLength: 320 } } } } as const;
  app.get('/.well-known/autoconfig/mail/config-v1.1.xml', { config: { public: true, mailClient: true }, schema: query }, thunderbird);
  app.get('/mail/config-v1.1.xml', { config: { public: true, mailClient: true }, schema: query }, thunderbird);

  const autodiscover = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const body = typeof request.body === 'string' ? request.body : '';
    const address = tryNormalizeAddress(autodiscoverAddress(body) ?? '');
    if (!address || !ctx.directory.isLocalDomain(address.domain)) {
      return reply.code(404).type('text/plain; charset=utf-8').send('No mail configuration for this address here.\n');
    }
    return reply.type('application/xml; charset=utf-8').send(outlookAutodiscover(address.address, ctx.config));
  };
  for (const url of ['/autodiscover/autodiscover.xml', '/Autodiscover/Autodiscover.xml']) {
    app.post(url, { config: { public: true, csrf: false, mailClient: true } }, autodiscover);
  }
}
