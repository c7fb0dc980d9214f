// DNS blocklists (off unless zones are configured): the connecting IP is looked up in each zone at MX time, because
// only the MX knows it and the message may be sealed until the owner logs in. The result travels in a header our MX
// prepends above its own Received field (X-Sealpost-DNSBL), which the junk filter reads when it classifies.
import net from 'node:net';
import type { DnsResolver } from '../dns.js';

export const DNSBL_HEADER = 'X-Sealpost-DNSBL';

/** Most zones looked up per message (each is one DNS query). */
export const MAX_DNSBL_ZONES = 8;

/** The name to look up for ip in zone: reversed IPv4 octets, or reversed IPv6 nibbles (RFC 5782 §2.1, §2.4). */
export function dnsblQueryName(ip: string, zone: string): string | null {
  const address = ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  if (net.isIPv4(address)) return `${address.split('.').reverse().join('.')}.${zone}`;
  if (!net.isIPv6(address)) return null;
  const groups = address.split('::');
  const head = groups[0] ? groups[0].split(':') : [];
  const tail = groups.length > 1 && groups[1] ? groups[1].split(':') : [];
  const full = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail].map((g) => g.padStart(4, '0')).join('');
  return `${full.split('').reverse().join('.')}.${zone}`;
}

/**
 * The zones that list ip. RFC 5782 §2.3: a listing is an A record in 127.0.0.0/8; answers outside it and
 * 127.255.255.0/24 (the lists' own error codes, e.g. "query refused") are ignored, as are lookup failures.
 */
export async function dnsblListings(ip: string, zones: readonly string[], resolver: DnsResolver): Promise<string[]> {
  const checks = zones.slice(0, MAX_DNSBL_ZONES).map(async (zone) => {
    const name = dnsblQueryName(ip, zone);
    if (!name) return null;
    try {
      const answers = await resolver.resolve4(name);
      return answers.some((a) => a.startsWith('127.') && !a.startsWith('127.255.255.')) ? zone : null;
    } catch {
      return null;
    }
  });
  return (await Promise.all(checks)).filter((zone): zone is string => zone !== null);
}

/** The header line (CRLF-terminated) our MX prepends. */
export function dnsblHeaderLine(listed: readonly string[], checked: number): string {
  return `${DNSBL_HEADER}: listed=${listed.length ? listed.join(',') : 'none'}; checked=${checked}\r\n`;
}
