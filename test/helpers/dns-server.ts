// A real authoritative DNS server on 127.0.0.1 (dns2, UDP and TCP on the same port) serving test
// zones. Point the resolver module at it with SEALPOST_DNS_SERVERS=`${dns.address}`.
// Unknown names answer NXDOMAIN; known names without the asked type answer NOERROR with no records,
// which is what SPF/DMARC evaluation needs to tell "none" from "temperror".
import dns2 from 'dns2';
import type { Packet as PacketType, Resource } from 'dns2';

const { Packet } = dns2;

export interface MxRecord {
  readonly exchange: string;
  readonly priority: number;
}

/** Records of one name. TXT values longer than 255 bytes are split into character-strings. */
export interface DnsRecords {
  A?: string[];
  AAAA?: string[];
  MX?: MxRecord[];
  TXT?: string[];
  PTR?: string[];
  CNAME?: string;
}

export interface TestDnsServer {
  readonly port: number;
  /** `127.0.0.1:<port>`, the form SEALPOST_DNS_SERVERS takes. */
  readonly address: string;
  /** Replaces every record of a name. */
  set(name: string, records: DnsRecords): void;
  /** Removes a name (it then answers NXDOMAIN). */
  remove(name: string): void;
  /** Names and types asked so far, lower-case, in arrival order. */
  readonly queries: { name: string; type: string }[];
  close(): Promise<void>;
}

// dns2's typings lack RCODE and demand toBuffer() on plain records (encoding doesn't use it).
const RCODE_NXDOMAIN = 3;
type PlainRecord = Omit<Resource, 'toBuffer'>;

const TYPE_NAMES = new Map<number, string>(Object.entries(Packet.TYPE).map(([k, v]) => [v as number, k]));

function splitTxt(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255).toString('utf8'));
  return out.length ? out : [''];
}

const norm = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** Starts the server; `zones` maps a fully-qualified name (no trailing dot) to its records. */
export async function startDnsServer(zones: Record<string, DnsRecords> = {}): Promise<TestDnsServer> {
  const records = new Map<string, DnsRecords>();
  for (const [name, recs] of Object.entries(zones)) records.set(norm(name), recs);
  const queries: { name: string; type: string }[] = [];

  const answer = (request: PacketType): PacketType => {
    const response = Packet.createResponseFromRequest(request);
    const [question] = request.questions;
    if (!question) return response;
    const name = norm(question.name);
    const typeName = TYPE_NAMES.get(question.type) ?? String(question.type);
    queries.push({ name, type: typeName });
    const recs = records.get(name);
    if (!recs) {
      response.header.rcode = RCODE_NXDOMAIN;
      return response;
    }
    const base = { name: question.name, class: Packet.CLASS.IN, ttl: 60 };
    const push = (record: PlainRecord): void => void response.answers.push(record as Resource);
    if (recs.CNAME && typeName !== 'CNAME') {
      push({ ...base, type: Packet.TYPE.CNAME, domain: recs.CNAME });
      return response;
    }
    switch (typeName) {
      case 'A':
        for (const address of recs.A ?? []) push({ ...base, type: Packet.TYPE.A, address });
        break;
      case 'AAAA':
        for (const address of recs.AAAA ?? []) push({ ...base, type: Packet.TYPE.AAAA, address });
        break;
      case 'MX':
        for (const mx of recs.MX ?? []) push({ ...base, type: Packet.TYPE.MX, exchange: mx.exchange, priority: mx.priority });
        break;
      case 'TXT':
        for (const txt of recs.TXT ?? []) push({ ...base, type: Packet.TYPE.TXT, data: splitTxt(txt) });
        break;
      case 'PTR':
        for (const domain of recs.PTR ?? []) push({ ...base, type: Packet.TYPE.PTR, domain });
        break;
      default:
        break;
    }
    return response;
  };

  // UDP answers above 512 bytes are truncated (TC) and the client retries over TCP: serve both on one port.
  for (let attempt = 0; ; attempt++) {
    const udp = dns2.createUDPServer();
    const tcp = dns2.createTCPServer();
    const handler = (request: PacketType, send: (r: PacketType) => Promise<Buffer>): void => {
      send(answer(request)).catch(() => undefined);
    };
    udp.on('request', handler);
    tcp.on('request', handler);
    udp.on('requestError', () => undefined);
    tcp.on('requestError', () => undefined);
    await udp.listen(0, '127.0.0.1');
    const port = udp.address().port;
    const tcpOk = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!tcpOk) {
      udp.close();
      if (attempt > 20) throw new Error('could not bind the test DNS server on one UDP+TCP port');
      continue;
    }
    return {
      port,
      address: `127.0.0.1:${port}`,
      set: (name, recs) => void records.set(norm(name), recs),
      remove: (name) => void records.delete(norm(name)),
      queries,
      close: async () => {
        await Promise.all([
          new Promise<void>((resolve) => udp.close(() => resolve())),
          new Promise<void>((resolve) => tcp.close(() => resolve())),
        ]);
      },
    };
  }
}
