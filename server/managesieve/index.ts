// ManageSieve (RFC 5804): mail apps (Thunderbird's Sieve add-on, Roundcube, sieve-connect) read and write the
// alias's Sieve scripts on SEALPOST_MANAGESIEVE_PORT (4190). STARTTLS, then AUTHENTICATE "PLAIN" with the alias
// password (accounts.authenticate: throttled, security log); the session holds the unlocked mailbox, whose
// `sieve` store keeps the scripts inside the encrypted file, and ends with BYE when the server revokes it.
// Framing is wire.ts; commands are session.ts; this file listens and gates connections like POP3 does.
import net from 'node:net';
import type { AppContext, Listener, Service } from '../context.js';
import { capToFdShare, closeServer, ConnectionGate, gateConnections, listen, RateBoundedLog, refuseSocket, tlsUpgrade, type GateRefusal } from '../net.js';
import { logSecurityEvent } from '../security-log.js';
import { sieveChecker } from './checker.js';
import { ManageSieveSession } from './session.js';
import { manageSieveLimitsFromEnv } from './settings.js';

export { DEFAULT_MANAGESIEVE_LIMITS, MANAGESIEVE_ENV, manageSieveLimitsFromEnv, type ManageSieveLimits } from './settings.js';

/** Refusals at the connection caps (RFC 5804 §1.3: BYE with TRYLATER, a temporary condition). */
const CAP_REFUSED: Record<GateRefusal, string> = {
  'per-ip-cap': 'BYE (TRYLATER) "Too many connections from your address, try again later"',
  'total-cap': 'BYE (TRYLATER) "Too many connections, try again later"',
};

export function createManageSieveService(ctx: AppContext): Service {
  const logger = ctx.logger.child({ component: 'managesieve' });
  // SEALPOST_MANAGESIEVE_* limits; a bad value fails here, before anything listens.
  const limits = manageSieveLimitsFromEnv(ctx.config.env);
  const totalCap = capToFdShare(limits.maxConnections, 'managesieve');
  const gate = new ConnectionGate(() => ({ perIp: limits.maxConnectionsPerIp, total: totalCap }));
  // Cap refusals, handshake failures and abuse closes: one line per (event, IP, reason) and minute with a count.
  const securityLog = new RateBoundedLog((key, count) => {
    const [event, ip, reason] = key.split('|') as ['conn.refused' | 'tls.failed' | 'conn.closed', string, string];
    logSecurityEvent(logger, event, { ip, protocol: 'managesieve', reason, detail: { count } });
  });
  const sessions = new Set<ManageSieveSession>();
  let server: net.Server | null = null;
  const upgrade = tlsUpgrade({
    secureContext: () => ctx.tls.getSecureContext(),
    timeoutMs: () => limits.tlsHandshakeTimeoutMs,
    onTimeout: (socket) => securityLog.note(`tls.failed|${socket.remoteAddress ?? 'unknown'}|handshake-timeout`),
  });

  return {
    name: 'managesieve',
    async start(): Promise<Listener[]> {
      const port = ctx.config.ports.managesieve;
      if (port === 0) return [];
      server = net.createServer((socket) => {
        const session = new ManageSieveSession(socket, {
          accounts: ctx.accounts,
          limits,
          checker: sieveChecker,
          logger,
          upgrade,
          securityEvent: (event, reason) => securityLog.note(`${event}|${socket.remoteAddress ?? 'unknown'}|${reason}`),
        });
        sessions.add(session);
        session.closed.then(() => sessions.delete(session), () => sessions.delete(session));
        session.start();
      });
      server.on('error', (error: Error) => logger.warn({ event: 'managesieve.listener_error', err: error.message }, 'ManageSieve listener error'));
      gateConnections(server, gate, (socket, refusal, ip) => {
        securityLog.note(`conn.refused|${ip}|${refusal}`);
        refuseSocket(socket, CAP_REFUSED[refusal]);
      });
      return [await listen(server, ctx.config.host, port, 'managesieve', 'starttls')];
    },
    async stop(): Promise<void> {
      const closing = server ? closeServer(server) : Promise.resolve();
      for (const session of [...sessions]) session.shutdown();
      await closing;
      server = null;
      securityLog.close();
    },
  };
}
