// DANE for outbound SMTP (RFC 7672): TLSA records of an MX host, published in a DNSSEC-signed zone, say which
// certificate (or issuing CA) that host presents; a sender that finds them must use TLS and check them, so an
// attacker on the path can neither strip STARTTLS nor present another certificate.
//
// Node's resolver cannot ask for TLSA nor report whether an answer was validated, so this module speaks DNS
// itself (dns-packet over UDP, TCP on truncation) to the same servers as the rest of the appliance, asks with
// the DO and AD bits, and believes the AD ("authentic data") bit only from a resolver on this machine
// (RFC 6698 §4.1 / RFC 4035 §4.9.3: a stub may trust AD only over a secure channel to a validating resolver,
// such as unbound on 127.0.0.1). With any other resolver DANE is not used and delivery is as before.
import { X509Certificate, createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { getServers } from 'node:dns';
import net from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket, type TlsaData } from 'dns-packet';
import { isLoopbackAddress } from '../../net.js';

/** One parsed TLSA record (RFC 6698 §2.1). */
export interface TlsaRecord {
  /** 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE. */
  readonly usage: number;
  /** 0 the whole certificate, 1 its SubjectPublicKeyInfo. */
  readonly selector: number;
  /** 0 exact bytes, 1 SHA-256, 2 SHA-512. */
  readonly matchingType: number;
  readonly data: Buffer;
}

/** One DNS answer as DANE needs it: the response code, whether the resolver validated it, the records. */
export interface DnssecAnswer {
  /** 'NOERROR', 'NXDOMAIN', 'SERVFAIL'… */
  readonly rcode: string;
  /** The AD bit of the response. */
  readonly authentic: boolean;
  readonly answers: readonly Answer[];
}

export interface DnssecClient {
  /** The servers asked, "host:port". */
  readonly servers: readonly string[];
  query(name: string, type: 'MX' | 'A' | 'AAAA' | 'TLSA'): Promise<DnssecAnswer>;
}

/** What DANE asks of one connection to an MX host. */
export type DaneRequirement =
  /** No DANE for this host (unsigned zone, no TLSA records, or no trusted resolver): deliver as before. */
  | { readonly kind: 'none'; readonly why: string }
  /** Signed TLSA records exist but none is usable for SMTP: TLS is still mandatory, unauthenticated (RFC 7672 §2.2). */
  | { readonly kind: 'encrypt'; readonly why: string }
  /** TLS is mandatory and the server's certificate must match one of these records. */
  | { readonly kind: 'authenticate'; readonly records: readonly TlsaRecord[] }
  /** The TLSA lookup failed: the host must not be used now (RFC 7672 §2.1.1), the next MX or a retry may be. */
  | { readonly kind: 'unavailable'; readonly why: string };

const DEFAULT_TIMEOUT_MS = 5000;

function splitServer(server: string): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (v6) return { host: v6[1] ?? '', port: v6[2] ? Number(v6[2]) : 53 };
  const parts = server.split(':');
  if (parts.length === 2) return { host: parts[0] ?? '', port: Number(parts[1]) };
  return { host: server, port: 53 };
}

/** The servers a resolver with this list uses: the list itself, or the system's when it is empty. */
export function effectiveDnsServers(configured: readonly string[]): string[] {
  return configured.length ? [...configured] : getServers();
}

/** True when every server is on this machine, the only place an AD bit can be believed from. */
export function adBitTrusted(servers: readonly string[]): boolean {
  return servers.length > 0 && servers.every((server) => isLoopbackAddress(splitServer(server).host));
}

function queryPacket(name: string, type: DnssecAnswer['answers'][number]['type'], id: number): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    // RD, and AD in the query to ask for the AD bit in the answer (RFC 6840 §5.7)
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.AUTHENTIC_DATA,
    questions: [{ type: type as 'TLSA', name }],
    // EDNS0 with the DO bit (RFC 3225), 1232-byte UDP payload (the DNS flag day size)
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: dnsPacket.DNSSEC_OK } as unknown as Answer],
  });
}

function udpExchange(host: string, port: number, request: Buffer, id: number, timeoutMs: number): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => finish(new Error(`DNS server ${host}:${port} did not answer`)), timeoutMs);
    const finish = (error: Error | null, packet?: DecodedPacket): void => {
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(packet as DecodedPacket);
    };
    socket.on('error', (error) => finish(error));
    socket.on('message', (message, from) => {
      // only the server asked, answering this id, counts (a spoofed or stale datagram is ignored)
      if (from.port !== port) return;
      let packet: DecodedPacket;
      try {
        packet = dnsPacket.decode(message);
      } catch {
        return;
      }
      if (packet.id === id && packet.type === 'response') finish(null, packet);
    });
    socket.send(request, port, host);
  });
}

function tcpExchange(host: string, port: number, request: Buffer, id: number, timeoutMs: number): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`DNS server ${host}:${port} did not answer over TCP`)), timeoutMs);
    const finish = (error: Error | null, packet?: DecodedPacket): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(packet as DecodedPacket);
    };
    socket.on('error', (error) => finish(error));
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(request.length);
      socket.write(Buffer.concat([length, request]));
    });
    socket.on('data', (chunk: Buffer) => {
      // the 2-byte length prefix bounds an answer at 64 KiB; bytes after it are ignored
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 2) return;
      const size = buffered.readUInt16BE(0);
      if (buffered.length < size + 2) return;
      try {
        const packet = dnsPacket.decode(buffered.subarray(2, size + 2));
        if (packet.id !== id) return finish(new Error('DNS answer for another query'));
        finish(null, packet);
      } catch {
        finish(new Error('malformed DNS answer'));
      }
    });
  });
}

/** A DNS client asking `servers` in order (UDP, then TCP when the answer is truncated). */
export function createDnssecClient(servers: readonly string[], timeoutMs = DEFAULT_TIMEOUT_MS): DnssecClient {
  return {
    servers,
    async query(name, type) {
      let lastError: Error = new Error('no DNS server configured');
      for (const server of servers) {
        const { host, port } = splitServer(server);
        const id = Math.floor(Math.random() * 0xffff);
        const request = queryPacket(name, type, id);
        try {
          let packet = await udpExchange(host, port, request, id, timeoutMs);
          if (packet.flag_tc) packet = await tcpExchange(host, port, request, id, timeoutMs);
          const answers = (packet.answers ?? []).filter((answer) => answer.type === type && answer.name.toLowerCase() === name.toLowerCase());
          return { rcode: (packet as DecodedPacket & { rcode?: string }).rcode ?? 'NOERROR', authentic: packet.flag_ad, answers };
        } catch (error) {
          lastError = error instanceof Error ? error : new Error(String(error));
        }
      }
      throw lastError;
    },
  };
}

/** True when a TLSA record can authenticate an SMTP server: DANE-TA(2) or DANE-EE(3) with known parameters (RFC 7672 §3.1). */
export function usableForSmtp(record: TlsaRecord): boolean {
  return (record.usage === 2 || record.usage === 3) && (record.selector === 0 || record.selector === 1) && record.matchingType >= 0 && record.matchingType <= 2;
}

/** Whether the MX RRset of a domain is DNSSEC-validated ("secure"); DANE applies only then (RFC 7672 §2.2.1). */
export async function mxSecure(client: DnssecClient, domain: string): Promise<boolean> {
  try {
    const answer = await client.query(domain, 'MX');
    return answer.authentic && answer.rcode === 'NOERROR';
  } catch {
    return false;
  }
}

/**
 * What DANE requires of a connection to `host` on `port`, given whether the MX RRset that named it was secure.
 * RFC 7672 §2.2: TLSA records are looked up only when the MX lookup and the host's address records are secure;
 * a secure, non-empty TLSA RRset makes TLS mandatory, authenticated by its usable records; a failed lookup makes
 * the host unusable for now.
 */
export async function daneRequirement(client: DnssecClient, host: string, port: number, mxWasSecure: boolean): Promise<DaneRequirement> {
  if (!mxWasSecure) return { kind: 'none', why: 'the MX records are not DNSSEC-signed' };
  let addresses: DnssecAnswer;
  try {
    addresses = await client.query(host, 'A');
    if (addresses.answers.length === 0) addresses = await client.query(host, 'AAAA');
  } catch {
    return { kind: 'none', why: `the address of ${host} could not be looked up with DNSSEC` };
  }
  if (!addresses.authentic) return { kind: 'none', why: `the address records of ${host} are not DNSSEC-signed` };
  const name = `_${port}._tcp.${host}`;
  let tlsa: DnssecAnswer;
  try {
    tlsa = await client.query(name, 'TLSA');
  } catch (error) {
    return { kind: 'unavailable', why: `TLSA lookup for ${name} failed (${(error as Error).message})` };
  }
  if (tlsa.rcode === 'NXDOMAIN' || (tlsa.rcode === 'NOERROR' && tlsa.answers.length === 0)) return { kind: 'none', why: `${host} publishes no TLSA records` };
  if (tlsa.rcode !== 'NOERROR') return { kind: 'unavailable', why: `TLSA lookup for ${name} failed (${tlsa.rcode})` };
  if (!tlsa.authentic) return { kind: 'none', why: `the TLSA records of ${host} are not DNSSEC-signed` };
  const records = tlsa.answers.flatMap((answer) => {
    if (answer.type !== 'TLSA') return [];
    const data = answer.data as TlsaData;
    return [{ usage: data.usage, selector: data.selector, matchingType: data.matchingType, data: Buffer.from(data.certificate) }];
  });
  const usable = records.filter(usableForSmtp);
  if (usable.length === 0) return { kind: 'encrypt', why: `${host} publishes TLSA records, none usable for SMTP` };
  return { kind: 'authenticate', records: usable };
}

function selected(certificate: X509Certificate, selector: number): Buffer {
  return selector === 0 ? certificate.raw : certificate.publicKey.export({ type: 'spki', format: 'der' });
}

function matches(record: TlsaRecord, certificate: X509Certificate): boolean {
  const bytes = selected(certificate, record.selector);
  const digest = record.matchingType === 0 ? bytes : createHash(record.matchingType === 1 ? 'sha256' : 'sha512').update(bytes).digest();
  return digest.length === record.data.length && digest.equals(record.data);
}

/** True when `child` was issued and signed by `issuer`. */
function signedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function currentlyValid(certificate: X509Certificate, now: number): boolean {
  return Date.parse(certificate.validFrom) <= now && now <= Date.parse(certificate.validTo);
}

/**
 * Checks the certificate chain an MX host presented (DER, leaf first) against its usable TLSA records:
 * null when one matches, else why not.
 * - DANE-EE(3) matches the leaf alone; its names and dates are not checked (RFC 7672 §3.1.1).
 * - DANE-TA(2) matches a certificate of the presented chain that the leaf chains up to by signature, and the
 *   leaf must be valid now and name the MX host (RFC 7672 §3.1.2, §3.2.2). A trust anchor given only as a
 *   public key and not sent by the server is not supported (such a host fails the check).
 */
export function checkDane(records: readonly TlsaRecord[], chainDer: readonly Buffer[], host: string, now = Date.now()): string | null {
  let chain: X509Certificate[];
  try {
    chain = chainDer.map((der) => new X509Certificate(der));
  } catch {
    return `${host} presented a certificate that cannot be read`;
  }
  const leaf = chain[0];
  if (!leaf) return `${host} presented no certificate`;
  for (const record of records) {
    if (record.usage === 3 && matches(record, leaf)) return null;
  }
  const taRecords = records.filter((record) => record.usage === 2);
  if (taRecords.length > 0) {
    for (let i = 1; i < chain.length; i++) {
      if (!signedBy(chain[i - 1] as X509Certificate, chain[i] as X509Certificate)) break;
      const anchor = chain[i] as X509Certificate;
      if (!taRecords.some((record) => matches(record, anchor))) continue;
      if (!currentlyValid(leaf, now)) return `the certificate of ${host} is expired or not yet valid`;
      if (leaf.checkHost(host) === undefined) return `the certificate of ${host} does not name ${host}`;
      return null;
    }
  }
  return `the certificate of ${host} matches none of its DANE TLSA records`;
}
