// Our own MTA-STS policy (RFC 8461 §3.2) and TLS reporting record (RFC 8460 §3): the one place the policy
// text is made, so the HTTPS listener serves exactly what the DNS helper tells the owner to publish
// (`_mta-sts.<domain>` TXT carries an id derived from that text, so it changes whenever the policy does).
import crypto from 'node:crypto';
import { ConfigError } from './errors.js';
import { wholeNumberInRange } from './env-values.js';

type Env = Readonly<Record<string, string | undefined>>;

export type MtaStsMode = 'enforce' | 'testing' | 'none';

export interface MtaStsSettings {
  readonly mode: MtaStsMode;
  /** max_age in seconds (RFC 8461 §3.2: at most 31557600). */
  readonly maxAgeSeconds: number;
}

const MAX_AGE_LIMIT = 31_557_600;

/** SEALPOST_MTA_STS_MODE (default testing), SEALPOST_MTA_STS_MAX_AGE (default one week). */
export function mtaStsSettings(env: Env): MtaStsSettings {
  const modeText = env.SEALPOST_MTA_STS_MODE?.trim().toLowerCase() || 'testing';
  if (modeText !== 'enforce' && modeText !== 'testing' && modeText !== 'none') {
    throw new ConfigError(`SEALPOST_MTA_STS_MODE must be enforce, testing or none, not ${JSON.stringify(env.SEALPOST_MTA_STS_MODE)}.`);
  }
  const ageText = env.SEALPOST_MTA_STS_MAX_AGE?.trim();
  const maxAgeSeconds = ageText ? wholeNumberInRange(ageText, 60, MAX_AGE_LIMIT) : 604_800;
  if (maxAgeSeconds === null) throw new ConfigError(`SEALPOST_MTA_STS_MAX_AGE must be a whole number of seconds from 60 to ${MAX_AGE_LIMIT}, not ${JSON.stringify(ageText)}.`);
  return { mode: modeText, maxAgeSeconds };
}

export interface MtaStsPolicy {
  /** The policy file, CRLF line ends (RFC 8461 §3.2 allows LF; CRLF is what the grammar shows). */
  readonly text: string;
  /** 1–32 alphanumerics, derived from the text (RFC 8461 §3.1). */
  readonly id: string;
}

/** The policy served at https://mta-sts.<domain>/.well-known/mta-sts.txt: our one MX host name. */
export function mtaStsPolicy(hostname: string, settings: MtaStsSettings): MtaStsPolicy {
  const mx = hostname.toLowerCase().replace(/\.$/, '');
  const lines = ['version: STSv1', `mode: ${settings.mode}`, `mx: ${mx}`, `max_age: ${settings.maxAgeSeconds}`];
  const text = `${lines.join('\r\n')}\r\n`;
  const id = crypto.createHash('sha256').update(text).digest('hex').slice(0, 20);
  return { text, id };
}

/** The `_mta-sts.<domain>` TXT value (RFC 8461 §3.1). */
export function mtaStsTxt(policy: MtaStsPolicy): string {
  return `v=STSv1; id=${policy.id}`;
}

/** The `_smtp._tls.<domain>` TXT value (RFC 8460 §3): aggregate reports by mail to the domain's report address. */
export function tlsRptTxt(reportAddress: string): string {
  return `v=TLSRPTv1; rua=mailto:${reportAddress}`;
}
