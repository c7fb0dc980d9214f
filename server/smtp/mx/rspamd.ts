// The owner's rspamd (off unless SEALPOST_RSPAMD_URL or the saved rspamdUrl names it): at MX time, while the MX still
// holds the plaintext, the message is POSTed to <url>/checkv2 and rspamd's answer travels in a header our MX prepends
// above its own Received field (X-Sealpost-Rspamd), which the junk filter reads when it files the message. rspamd
// being down, slow or odd never refuses or holds a delivery past the timeout: the header then says action=error.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { ConfigError } from '../../config/errors.js';
import { RSPAMD_ACTIONS, type RspamdAction } from '../../junk/index.js';
import { normalizeIp, outboundAddressRefusal } from '../../net.js';

export interface RspamdSettings {
  /** The base URL (no trailing slash), e.g. http://127.0.0.1:11333. */
  readonly url: string;
  /** Sent as the Password header when set (rspamd's controller / proxy password). */
  readonly password: string | null;
  /** The whole request (connect, send, answer) must finish within this, ms. */
  readonly timeoutMs: number;
}

export const DEFAULT_RSPAMD_TIMEOUT_MS = 5000;
/** Largest answer read from rspamd; its JSON for one message is a few KiB. */
export const MAX_RSPAMD_ANSWER_BYTES = 1024 * 1024;

export interface RspamdAnswer {
  readonly action: RspamdAction;
  readonly score?: number;
  readonly required?: number;
}

/**
 * The checked base URL. The owner names their own rspamd: loopback, LAN and public addresses are all accepted, but
 * the host must be an IP literal (or "localhost") so the address rule below is what is dialled, and link-local
 * (cloud metadata), multicast, unspecified and reserved addresses are refused with a sentence, never silently.
 */
export function parseRspamdUrl(text: string, name = 'SEALPOST_RSPAMD_URL'): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${name} must be an http:// or https:// URL such as http://127.0.0.1:11333, not ${JSON.stringify(text)}.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name} must start with http:// or https://, not ${JSON.stringify(url.protocol)}.`);
  if (url.username || url.password || url.search || url.hash) throw new ConfigError(`${name} must not carry a user, password, query or fragment; set SEALPOST_RSPAMD_PASSWORD for the password.`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host.toLowerCase() !== 'localhost') {
    if (!net.isIP(normalizeIp(host))) throw new ConfigError(`${name} must name rspamd by IP address (or localhost), not ${JSON.stringify(host)}.`);
    const refusal = outboundAddressRefusal(host, { allowPrivate: true, allowLoopback: true });
    if (refusal) throw new ConfigError(`${name} names ${refusal}; give the address rspamd listens on.`);
  }
  return url.toString().replace(/\/+$/, '');
}

/** What the MX knows about the message, sent as rspamd's request headers. */
export interface RspamdEnvelope {
  readonly ip: string;
  readonly helo: string;
  readonly from: string;
  readonly recipients: readonly string[];
  readonly queueId: string;
}

/**
 * Header values must not break the request: CR, LF and other controls are dropped, the length capped, and an
 * SMTPUTF8 address goes as its UTF-8 bytes (Node sends header strings as Latin-1, one byte per character).
 */
const headerValue = (text: string): string =>
  Buffer.from([...text].filter((c) => c >= ' ' && c !== '\x7f').join('').slice(0, 1000), 'utf8').toString('latin1');

/** Asks rspamd; resolves with its action, score and required score, or rejects (timeout, refused, bad answer). */
export function rspamdCheck(raw: Buffer, envelope: RspamdEnvelope, settings: RspamdSettings): Promise<RspamdAnswer> {
  const target = new URL(`${settings.url}/checkv2`);
  const headers: http.OutgoingHttpHeaders = {
    'Content-Length': String(raw.length),
    IP: headerValue(normalizeIp(envelope.ip)),
    Helo: headerValue(envelope.helo),
    'Queue-Id': headerValue(envelope.queueId),
    'User-Agent': 'sealpost',
  };
  if (envelope.from) headers.From = headerValue(envelope.from);
  // rspamd reads one Rcpt header per recipient.
  if (envelope.recipients.length) headers.Rcpt = envelope.recipients.slice(0, 1000).map(headerValue);
  if (settings.password) headers.Password = headerValue(settings.password);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise<RspamdAnswer>((resolve, reject) => {
    const request = client.request(target, { method: 'POST', headers, agent: false, signal: AbortSignal.timeout(settings.timeoutMs) }, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RSPAMD_ANSWER_BYTES) request.destroy(new Error('answer too large'));
        else chunks.push(chunk);
      });
      response.on('error', reject);
      response.on('end', () => {
        if (response.statusCode !== 200) return reject(new Error(`HTTP ${response.statusCode ?? 0}`));
        try {
          resolve(parseRspamdAnswer(Buffer.concat(chunks).toString('utf8')));
        } catch (error) {
          reject(error);
        }
      });
    });
    request.on('error', reject);
    request.end(raw);
  });
}

/** rspamd's /checkv2 JSON: {action, score, required_score, …}; anything else is an error. */
export function parseRspamdAnswer(text: string): RspamdAnswer {
  const json: unknown = JSON.parse(text);
  if (typeof json !== 'object' || json === null) throw new Error('answer is not an object');
  const { action, score, required_score: required } = json as Record<string, unknown>;
  if (typeof action !== 'string' || action === 'error' || !(RSPAMD_ACTIONS as readonly string[]).includes(action)) throw new Error('answer names no known action');
  const finite = (n: unknown): number | undefined => (typeof n === 'number' && Number.isFinite(n) && Math.abs(n) < 1e6 ? n : undefined);
  const answer: RspamdAnswer = { action: action as RspamdAction };
  const s = finite(score);
  const r = finite(required);
  return s !== undefined && r !== undefined ? { ...answer, score: s, required: r } : answer;
}

/** A short reason for the log: never the message, never the password. */
export function rspamdFailure(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'AbortError' || error.name === 'TimeoutError') return 'timeout';
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
    if (/^(HTTP \d+|answer [a-z ]+)$/.test(error.message)) return error.message;
    return error.name;
  }
  return 'unknown';
}
