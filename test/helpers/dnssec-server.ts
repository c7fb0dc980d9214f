// A loopback DNS server (UDP and TCP on one port, dns-packet) whose answers carry the AD bit for names marked
// secure, as a validating resolver such as unbound does. It stands in for "a DNSSEC-validating resolver on this
// machine" in DANE tests; Node's own resolver (MX/A lookups of the delivery code) is pointed at it too.
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket } from 'dns-packet';

export interface SecureZoneRecords {
  A?: string[];
  AAAA?: string[];
  MX?: { exchange: string; priority: number }[];
  TLSA?: { usage: number; selector: number; matchingType: number; certificate: Buffer }[];
  TXT?: string[];
  /** The AD bit on every answer for this name. */
  secure: boolean;
  /** Answer SERVFAIL for these types (a validation failure, as a validating resolver reports "bogus"). */
  servfail?: ('A' | 'AAAA' | 'MX' | 'TLSA')[];
}

export interface DnssecTestServer {
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  set(name: string, records: SecureZoneRecords): void;
  /** Every UDP answer is sent truncated (TC, no records), so clients must retry over TCP. */
  truncateUdp: boolean;
  readonly queries: { name: string; type: string; transport: 'udp' | 'tcp' }[];
  close(): Promise<void>;
}

const norm = (name: string): string => name.toLowerCase().replace(/\.$/, '');

export async function startDnssecServer(): Promise<DnssecTestServer> {
  const zones = new Map<string, SecureZoneRecords>();
  const queries: DnssecTestServer['queries'] = [];
  const answer = (request: DecodedPacket, transport: 'udp' | 'tcp', truncate: boolean): Buffer => {
    const question = request.questions?.[0];
    const name = norm(question?.name ?? '');
    const type = question?.type ?? 'A';
    queries.push({ name, type, transport });
    const zone = zones.get(name);
    let flags = dnsPacket.RECURSION_AVAILABLE | (request.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
    let rcode = zone ? 0 : 3;
    const answers: Answer[] = [];
    if (zone?.servfail?.includes(type as 'A')) rcode = 2;
    else if (zone && !truncate) {
      if (zone.secure) flags |= dnsPacket.AUTHENTIC_DATA;
      if (type === 'A') for (const data of zone.A ?? []) answers.push({ type: 'A', name, ttl: 60, data });
      if (type === 'AAAA') for (const data of zone.AAAA ?? []) answers.push({ type: 'AAAA', name, ttl: 60, data });
      if (type === 'MX') for (const mx of zone.MX ?? []) answers.push({ type: 'MX', name, ttl: 60, data: { preference: mx.priority, exchange: mx.exchange } });
      if (type === 'TLSA') for (const data of zone.TLSA ?? []) answers.push({ type: 'TLSA', name, ttl: 60, data });
      if (type === 'TXT') for (const data of zone.TXT ?? []) answers.push({ type: 'TXT', name, ttl: 60, data: [data] });
    }
    if (truncate) flags |= dnsPacket.TRUNCATED_RESPONSE;
    return dnsPacket.encode({ type: 'response', id: request.id ?? 0, flags: flags | rcode, questions: request.questions ?? [], answers });
  };

  const state = { truncateUdp: false };
  const udp = dgram.createSocket('udp4');
  udp.on('message', (message, from) => {
    try {
      udp.send(answer(dnsPacket.decode(message), 'udp', state.truncateUdp), from.port, from.address);
    } catch {
      // a malformed query gets no answer
    }
  });
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const port = udp.address().port;
  const tcp = net.createServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= buffered.readUInt16BE(0) + 2) {
        const size = buffered.readUInt16BE(0);
        const reply = answer(dnsPacket.decode(buffered.subarray(2, size + 2)), 'tcp', false);
        buffered = buffered.subarray(size + 2);
        const length = Buffer.alloc(2);
        length.writeUInt16BE(reply.length);
        socket.write(Buffer.concat([length, reply]));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, '127.0.0.1', resolve);
  });
  return {
    port,
    address: `127.0.0.1:${port}`,
    set: (name, records) => void zones.set(norm(name), records),
    get truncateUdp() {
      return state.truncateUdp;
    },
    set truncateUdp(value: boolean) {
      state.truncateUdp = value;
    },
    queries,
    close: async () => {
      udp.close();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}
