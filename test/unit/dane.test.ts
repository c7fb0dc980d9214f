// DANE for outbound SMTP: which TLSA records apply (RFC 7672 §2.2) and how a presented chain is checked
// against them (RFC 7672 §3.1, RFC 6698 §2.1), with a loopback resolver that sets the AD bit like unbound.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { after, before, describe, it } from 'node:test';
import { adBitTrusted, checkDane, createDnssecClient, daneRequirement, mxSecure, usableForSmtp, type TlsaRecord } from '../../server/smtp/outbound/dane.js';
import { startDnssecServer, type DnssecTestServer } from '../helpers/dnssec-server.js';
import { makeCert, sha256, sha512 } from '../helpers/test-certs.js';

const HOST = 'mx.dane.test';
const DAY = 86_400_000;

describe('DANE certificate checks (RFC 7672 §3.1)', () => {
  const ca = makeCert({ commonName: 'Test CA', ca: true });
  const leaf = makeCert({ commonName: HOST, dnsNames: [HOST], issuer: ca });
  const other = makeCert({ commonName: 'other.test', dnsNames: ['other.test'] });
  const expiredLeaf = makeCert({ commonName: HOST, dnsNames: [HOST], issuer: ca, notBefore: new Date(Date.now() - 60 * DAY), notAfter: new Date(Date.now() - DAY) });
  const rec = (usage: number, selector: number, matchingType: number, data: Buffer): TlsaRecord => ({ usage, selector, matchingType, data });

  it('DANE-EE(3) matches the leaf by SPKI SHA-256, whole certificate, or SPKI SHA-512 (RFC 6698 §2.1.2–2.1.3)', () => {
    assert.equal(checkDane([rec(3, 1, 1, sha256(leaf.spkiDer))], [leaf.der], HOST), null);
    assert.equal(checkDane([rec(3, 0, 0, leaf.der)], [leaf.der], HOST), null);
    assert.equal(checkDane([rec(3, 1, 2, sha512(leaf.spkiDer))], [leaf.der, ca.der], HOST), null);
  });

  it('DANE-EE(3) ignores names and dates (RFC 7672 §3.1.1): an expired leaf for another name still matches', () => {
    assert.equal(checkDane([rec(3, 1, 1, sha256(expiredLeaf.spkiDer))], [expiredLeaf.der], 'anything.else'), null);
  });

  it('a certificate that matches no record is refused with the reason', () => {
    const why = checkDane([rec(3, 1, 1, sha256(leaf.spkiDer))], [other.der], HOST);
    assert.match(why ?? '', /matches none of its DANE TLSA records/);
    assert.match(checkDane([rec(3, 1, 1, sha256(leaf.spkiDer))], [], HOST) ?? '', /no certificate/);
    assert.match(checkDane([rec(3, 1, 1, sha256(leaf.spkiDer))], [Buffer.from('not a certificate')], HOST) ?? '', /cannot be read/);
  });

  it('DANE-TA(2) accepts a leaf signed by the matched CA that names the MX host (RFC 7672 §3.1.2)', () => {
    assert.equal(checkDane([rec(2, 0, 1, sha256(ca.der))], [leaf.der, ca.der], HOST), null);
    assert.equal(checkDane([rec(2, 1, 1, sha256(ca.spkiDer))], [leaf.der, ca.der], HOST), null);
  });

  it('DANE-TA(2) checks the leaf: the MX name (RFC 7672 §3.2.2), its dates, and the signature chain', () => {
    assert.match(checkDane([rec(2, 0, 1, sha256(ca.der))], [leaf.der, ca.der], 'mx.elsewhere.test') ?? '', /does not name/);
    assert.match(checkDane([rec(2, 0, 1, sha256(ca.der))], [expiredLeaf.der, ca.der], HOST) ?? '', /expired/);
    // a chain whose "CA" did not sign the leaf proves nothing
    assert.match(checkDane([rec(2, 0, 1, sha256(other.der))], [leaf.der, other.der], HOST) ?? '', /matches none/);
    // the CA is not sent by the server: not supported, refused
    assert.match(checkDane([rec(2, 0, 1, sha256(ca.der))], [leaf.der], HOST) ?? '', /matches none/);
  });

  it('PKIX-TA(0) and PKIX-EE(1) are not usable for SMTP, nor unknown selectors or matching types (RFC 7672 §3.1.3)', () => {
    assert.equal(usableForSmtp(rec(0, 0, 1, Buffer.alloc(32))), false);
    assert.equal(usableForSmtp(rec(1, 1, 1, Buffer.alloc(32))), false);
    assert.equal(usableForSmtp(rec(3, 2, 1, Buffer.alloc(32))), false);
    assert.equal(usableForSmtp(rec(3, 1, 3, Buffer.alloc(32))), false);
    assert.equal(usableForSmtp(rec(3, 1, 1, Buffer.alloc(32))), true);
    assert.equal(usableForSmtp(rec(2, 0, 2, Buffer.alloc(64))), true);
  });
});

describe('which resolver answers DANE believes (RFC 6698 §4.1, RFC 4035 §4.9.3)', () => {
  it('only resolvers on this machine: the AD bit means nothing over the network', () => {
    assert.equal(adBitTrusted(['127.0.0.1:53']), true);
    assert.equal(adBitTrusted(['[::1]:5353', '127.0.0.53']), true);
    assert.equal(adBitTrusted(['127.0.0.1:53', '1.1.1.1:53']), false);
    assert.equal(adBitTrusted(['192.168.1.1']), false);
    assert.equal(adBitTrusted([]), false);
  });
});

describe('DANE requirement of an MX host (RFC 7672 §2.2)', () => {
  let dns: DnssecTestServer;
  const leafHash = Buffer.alloc(32, 7);
  before(async () => {
    dns = await startDnssecServer();
    dns.set('signed.test', { secure: true, MX: [{ exchange: HOST, priority: 10 }] });
    dns.set('unsigned.test', { secure: false, MX: [{ exchange: HOST, priority: 10 }] });
    dns.set(HOST, { secure: true, A: ['192.0.2.25'] });
    dns.set(`_25._tcp.${HOST}`, { secure: true, TLSA: [{ usage: 3, selector: 1, matchingType: 1, certificate: leafHash }] });
    dns.set('mx-plain.test', { secure: false, A: ['192.0.2.26'] });
    dns.set('_25._tcp.mx-plain.test', { secure: false, TLSA: [{ usage: 3, selector: 1, matchingType: 1, certificate: leafHash }] });
    dns.set('mx-pkix.test', { secure: true, A: ['192.0.2.27'] });
    dns.set('_25._tcp.mx-pkix.test', { secure: true, TLSA: [{ usage: 1, selector: 1, matchingType: 1, certificate: leafHash }] });
    dns.set('mx-bogus.test', { secure: true, A: ['192.0.2.28'] });
    dns.set('_25._tcp.mx-bogus.test', { secure: true, servfail: ['TLSA'] });
    dns.set('mx-none.test', { secure: true, A: ['192.0.2.29'] });
    dns.set('mx-forged-tlsa.test', { secure: true, A: ['192.0.2.30'] });
    dns.set('_25._tcp.mx-forged-tlsa.test', { secure: false, TLSA: [{ usage: 3, selector: 1, matchingType: 1, certificate: leafHash }] });
  });
  after(() => dns.close());

  it('the MX RRset must be secure for DANE to apply (RFC 7672 §2.2.1)', async () => {
    const client = createDnssecClient([dns.address], 2000);
    assert.equal(await mxSecure(client, 'signed.test'), true);
    assert.equal(await mxSecure(client, 'unsigned.test'), false);
    assert.equal(await mxSecure(client, 'missing.test'), false);
    assert.equal((await daneRequirement(client, HOST, 25, false)).kind, 'none');
  });

  it('secure MX, address and TLSA records make TLS mandatory and authenticated (RFC 7672 §2.2)', async () => {
    const client = createDnssecClient([dns.address], 2000);
    const requirement = await daneRequirement(client, HOST, 25, true);
    assert.equal(requirement.kind, 'authenticate');
    assert.deepEqual(requirement.kind === 'authenticate' ? requirement.records.map((r) => r.data) : [], [leafHash]);
  });

  it('insecure address or TLSA records, or none at all, leave delivery as before (RFC 7672 §2.2.2)', async () => {
    const client = createDnssecClient([dns.address], 2000);
    assert.equal((await daneRequirement(client, 'mx-plain.test', 25, true)).kind, 'none');
    assert.equal((await daneRequirement(client, 'mx-none.test', 25, true)).kind, 'none');
    assert.equal((await daneRequirement(client, 'mx-forged-tlsa.test', 25, true)).kind, 'none');
  });

  it('signed TLSA records that are all unusable still make TLS mandatory (RFC 7672 §2.2)', async () => {
    const client = createDnssecClient([dns.address], 2000);
    assert.equal((await daneRequirement(client, 'mx-pkix.test', 25, true)).kind, 'encrypt');
  });

  it('a failed TLSA lookup makes the host unusable for now, not plain text (RFC 7672 §2.1.1)', async () => {
    const client = createDnssecClient([dns.address], 2000);
    const requirement = await daneRequirement(client, 'mx-bogus.test', 25, true);
    assert.equal(requirement.kind, 'unavailable');
    assert.match(requirement.kind === 'unavailable' ? requirement.why : '', /SERVFAIL/);
  });

  it('a truncated UDP answer is asked again over TCP (RFC 7766 §5)', async () => {
    dns.truncateUdp = true;
    try {
      const client = createDnssecClient([dns.address], 2000);
      assert.equal((await daneRequirement(client, HOST, 25, true)).kind, 'authenticate');
      assert.ok(dns.queries.some((q) => q.type === 'TLSA' && q.transport === 'tcp'));
    } finally {
      dns.truncateUdp = false;
    }
  });

  it('an answer carrying another query id is ignored, so a blind spoofer cannot plant TLSA records (RFC 5452 §9.1)', async () => {
    const spoofer = dgram.createSocket('udp4');
    spoofer.on('message', (message, from) => {
      const query = dnsPacket.decode(message);
      const forged = dnsPacket.encode({ type: 'response', id: ((query.id ?? 0) + 1) & 0xffff, flags: dnsPacket.AUTHENTIC_DATA, questions: query.questions ?? [], answers: [{ type: 'TLSA', name: `_25._tcp.${HOST}`, ttl: 60, data: { usage: 3, selector: 1, matchingType: 1, certificate: Buffer.alloc(32, 9) } }] });
      spoofer.send(forged, from.port, from.address);
    });
    await new Promise<void>((resolve) => spoofer.bind(0, '127.0.0.1', resolve));
    try {
      const client = createDnssecClient([`127.0.0.1:${spoofer.address().port}`], 300);
      await assert.rejects(client.query(`_25._tcp.${HOST}`, 'TLSA'), /did not answer/);
    } finally {
      spoofer.close();
    }
  });

  it('a resolver that does not answer is an error the caller sees, after every server was tried', async () => {
    const client = createDnssecClient(['127.0.0.1:9'], 300);
    await assert.rejects(client.query('x.test', 'TLSA'));
    assert.equal((await daneRequirement(client, HOST, 25, true)).kind, 'none');
  });
});
