// DKIM: one RSA-2048 and one Ed25519 key pair per domain, private halves wrapped with the app key and
// kept in outbound.sqlite (itself app-key encrypted). Outgoing mail gets both signatures (RFC 8463:
// receivers that do not know ed25519 ignore that one and verify the RSA one).
import crypto from 'node:crypto';
import type { SqliteDatabase } from '../../directory/index.js';
// mailauth costs ~150 ms to load: imported when the first message is signed, not by every CLI command.
import { wrapSecret, unwrapSecret } from '../../crypto/index.js';

export interface DkimPublicRecord {
  readonly selector: string;
  /** Full DNS name of the TXT record: `<selector>._domainkey.<domain>`. */
  readonly name: string;
  readonly algorithm: 'rsa' | 'ed25519';
  /** TXT value, e.g. `v=DKIM1; k=rsa; p=MIIB…`. */
  readonly value: string;
}

export interface DkimDomainKeys {
  readonly domain: string;
  readonly records: readonly DkimPublicRecord[];
  readonly created: Date;
}

interface KeyRow {
  domain: string;
  rsa_selector: string;
  rsa_private: Buffer;
  rsa_public: string;
  ed_selector: string;
  ed_private: Buffer;
  ed_public: string;
  created: number;
}

const AAD = (domain: string, alg: string): Buffer => Buffer.from(`sealpost-dkim:${alg}:${domain}`);

export const normalizeDomain = (domain: string): string => domain.trim().toLowerCase().replace(/\.$/, '');

function selectorsFor(now: Date): { rsa: string; ed: string } {
  // Date-stamped selectors make a later rotation possible without clashing with the published record.
  const stamp = `${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
  return { rsa: `sp${stamp}r`, ed: `sp${stamp}e` };
}

function recordsOf(row: KeyRow): DkimPublicRecord[] {
  return [
    { selector: row.rsa_selector, name: `${row.rsa_selector}._domainkey.${row.domain}`, algorithm: 'rsa', value: `v=DKIM1; k=rsa; p=${row.rsa_public}` },
    { selector: row.ed_selector, name: `${row.ed_selector}._domainkey.${row.domain}`, algorithm: 'ed25519', value: `v=DKIM1; k=ed25519; p=${row.ed_public}` },
  ];
}

/** Splits a TXT value into quoted 255-byte strings, the form most DNS panels and zone files accept. */
export function zoneFileLine(record: DkimPublicRecord): string {
  const parts: string[] = [];
  for (let i = 0; i < record.value.length; i += 255) parts.push(`"${record.value.slice(i, i + 255)}"`);
  return `${record.name}. 3600 IN TXT ( ${parts.join(' ')} )`;
}

export class DkimKeys {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly appKey: Buffer,
  ) {}

  /** The domain's keys, generating them on first use. */
  ensure(domainName: string, now = new Date()): DkimDomainKeys {
    const domain = normalizeDomain(domainName);
    const existing = this.row(domain);
    if (existing) return this.toPublic(existing);
    const selectors = selectorsFor(now);
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ed = crypto.generateKeyPairSync('ed25519');
    const rsaPrivate = Buffer.from(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const edPrivate = Buffer.from(ed.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const rsaPublic = rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    // RFC 8463: the ed25519 p= is the raw 32-byte key, i.e. the SPKI DER without its 12-byte prefix.
    const edPublic = ed.publicKey.export({ type: 'spki', format: 'der' }).subarray(12).toString('base64');
    this.db
      .prepare(
        'INSERT INTO dkim_keys (domain, rsa_selector, rsa_private, rsa_public, ed_selector, ed_private, ed_public, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(domain) DO NOTHING',
      )
      .run(
        domain,
        selectors.rsa,
        wrapSecret(this.appKey, rsaPrivate, AAD(domain, 'rsa')),
        rsaPublic,
        selectors.ed,
        wrapSecret(this.appKey, edPrivate, AAD(domain, 'ed25519')),
        edPublic,
        now.getTime(),
      );
    rsaPrivate.fill(0);
    edPrivate.fill(0);
    return this.toPublic(this.row(domain) as KeyRow);
  }

  /** Public records of a domain, or null when it has no keys yet. */
  get(domainName: string): DkimDomainKeys | null {
    const row = this.row(normalizeDomain(domainName));
    return row ? this.toPublic(row) : null;
  }

  remove(domainName: string): boolean {
    return this.db.prepare('DELETE FROM dkim_keys WHERE domain = ?').run(normalizeDomain(domainName)).changes > 0;
  }

  /**
   * Returns the message with DKIM-Signature headers (RSA and Ed25519) prepended, signed for `domainName`;
   * the message is returned unchanged when the domain has no keys.
   */
  async sign(raw: Buffer, domainName: string): Promise<Buffer> {
    const domain = normalizeDomain(domainName);
    const row = this.row(domain);
    if (!row) return raw;
    const rsaKey = unwrapSecret(this.appKey, row.rsa_private, AAD(domain, 'rsa'));
    const edKey = unwrapSecret(this.appKey, row.ed_private, AAD(domain, 'ed25519'));
    try {
      const rsaSig = { signingDomain: domain, selector: row.rsa_selector, privateKey: rsaKey, algorithm: 'rsa-sha256' };
      const edSig = { signingDomain: domain, selector: row.ed_selector, privateKey: edKey, algorithm: 'ed25519-sha256' };
      // mailauth signs every entry of signatureData; the top-level fields only satisfy its typings.
      const { dkimSign } = await import('mailauth');
      const result = await dkimSign(raw, { ...rsaSig, canonicalization: 'relaxed/relaxed', signatureData: [rsaSig, edSig] });
      if (result.errors && result.errors.length > 0) throw new Error('DKIM signing failed');
      return Buffer.concat([Buffer.from(result.signatures), raw]);
    } finally {
      rsaKey.fill(0);
      edKey.fill(0);
    }
  }

  private row(domain: string): KeyRow | null {
    return (this.db.prepare('SELECT * FROM dkim_keys WHERE domain = ?').get(domain) as KeyRow | undefined) ?? null;
  }

  private toPublic(row: KeyRow): DkimDomainKeys {
    return { domain: row.domain, records: recordsOf(row), created: new Date(row.created) };
  }
}
