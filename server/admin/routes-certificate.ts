// /api/certificate: the certificate mail clients are shown (issuer, names, expiry) and what the ACME
// manager last did (last renewal, last error, next attempt), for the Settings page's Certificate card.
import type { FastifyInstance } from 'fastify';
import { ACME_STATUS_SETTING } from '../config/acme.js';
import { certificateStatus } from '../config/certificate-status.js';
import type { AdminDeps } from './http.js';

export function registerCertificateRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const { ctx } = deps;
  app.get('/api/certificate', async () =>
    certificateStatus({
      env: ctx.config.env,
      config: ctx.config,
      source: ctx.tls.source,
      certPem: ctx.tls.certificatePem(),
      savedStatus: ctx.directory.getSetting(ACME_STATUS_SETTING),
    }),
  );
}
