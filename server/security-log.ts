// One stable log line for every event a defender (or fail2ban) acts on: failed logins, refused recipients,
// connection-cap hits, lock-outs, TLS handshake and protocol abuse. The JSON line carries the fields, and
// its "msg" is a fixed-order text that a fail2ban failregex can match:
//   {"level":40,...,"security":true,"event":"auth.failed","ip":"203.0.113.9","protocol":"imap","reason":"bad-password","msg":"security auth.failed ip=203.0.113.9 protocol=imap reason=bad-password"}
// Never pass a password, an address or message content: only the client IP, the protocol and a reason code.
import type { Logger } from './log.js';

/** What happened. Stable names: docs/security.md and the fail2ban filter match them. */
export type SecurityEvent =
  | 'auth.failed' // a wrong password, unknown user or refused mechanism
  | 'auth.lockout' // an (IP, alias) pair is being delayed or refused after repeated failures
  | 'rcpt.refused' // MX/submission refused a recipient (unknown, forged SRS, over the per-transaction cap)
  | 'conn.refused' // a per-IP or total connection cap refused a connection
  | 'conn.closed' // a session closed for abuse (too many errors, timeouts before login, tarpit exhausted)
  | 'tls.failed' // a TLS handshake failed or timed out
  | 'http.refused'; // the admin API refused a request (bad Host, no session, CSRF)

/** Protocol (or listener) names used in the log line. */
export type SecurityProtocol = 'smtp' | 'submission' | 'imap' | 'pop3' | 'managesieve' | 'admin' | 'control';

export interface SecurityFields {
  readonly ip: string | undefined | null;
  readonly protocol: SecurityProtocol;
  /** A short, stable reason code in kebab case: bad-password, unknown-user, per-ip-cap, srs-forged… */
  readonly reason: string;
  /** Extra ids or counts (alias id, attempts, limit); never addresses or secrets. */
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

/** Logs one security event at warn level in the stable format. */
export function logSecurityEvent(logger: Logger, event: SecurityEvent, fields: SecurityFields): void {
  const ip = fields.ip ? fields.ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '') : 'unknown';
  const reason = fields.reason.replace(/[^a-z0-9.-]/gi, '-');
  logger.warn(
    { security: true, event, ip, protocol: fields.protocol, reason, ...(fields.detail ?? {}) },
    `security ${event} ip=${ip} protocol=${fields.protocol} reason=${reason}`,
  );
}
