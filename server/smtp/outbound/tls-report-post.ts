// Uploads an SMTP TLS report to an `https:` reporting address (RFC 8460 §5.4): one POST of the gzipped JSON as
// application/tlsrpt+gzip. The host is dialled under the outbound address policy (targets.ts), like an MX or a
// webhook, so a domain cannot make us POST to this machine, the LAN or the cloud metadata address; redirects are
// not followed and the answer is read only for its status.
import https from 'node:https';
import net from 'node:net';
import type { DnsResolver } from '../dns.js';
import { guardedLookup, targetAddressRefusal, type OutboundTargetPolicy } from './targets.js';

/** Resolves with the HTTP status, or rejects with why the upload could not be made. */
export function postTlsReport(url: string, gzippedJson: Buffer, resolver: DnsResolver, targets: OutboundTargetPolicy, timeoutMs = 30_000): Promise<number> {
  const target = new URL(url);
  if (target.protocol !== 'https:') return Promise.reject(new Error('TLS reports are uploaded over https only'));
  const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  const refusal = net.isIP(host) ? targetAddressRefusal(host, targets) : null;
  if (refusal) return Promise.reject(new Error(`refused: ${refusal}`));
  return new Promise((resolve, reject) => {
    const request = https.request(
      target,
      {
        method: 'POST',
        agent: false,
        lookup: guardedLookup(resolver, targets),
        timeout: timeoutMs,
        minVersion: 'TLSv1.2',
        headers: { 'content-type': 'application/tlsrpt+gzip', 'content-length': String(gzippedJson.length) },
      },
      (response) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode ?? 0));
        response.once('error', reject);
      },
    );
    const deadline = setTimeout(() => request.destroy(new Error('the reporting server did not answer in time')), timeoutMs);
    request.once('close', () => clearTimeout(deadline));
    request.once('timeout', () => request.destroy(new Error('the reporting server did not answer in time')));
    request.once('error', reject);
    request.end(gzippedJson);
  });
}
