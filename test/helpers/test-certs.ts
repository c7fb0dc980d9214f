// Certificates for TLS tests: a CA and leaves it signs, with any names and validity, as DER and PEM.
// node-forge assembles and signs; Node generates the keys.
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import type forgeModule from 'node-forge';

const forge = createRequire(import.meta.url)('node-forge') as typeof forgeModule;

export interface TestCert {
  readonly keyPem: string;
  readonly certPem: string;
  readonly der: Buffer;
  readonly spkiDer: Buffer;
  /** forge's view, to sign children with. */
  readonly forgeKey: forgeModule.pki.rsa.PrivateKey;
  readonly forgeCert: forgeModule.pki.Certificate;
}

export interface CertOptions {
  readonly commonName: string;
  readonly dnsNames?: readonly string[];
  readonly issuer?: TestCert;
  readonly ca?: boolean;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

export function makeCert(options: CertOptions): TestCert {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const forgeKey = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()) as forgeModule.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const serial = crypto.randomBytes(12);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - 3600_000);
  cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + 30 * 86_400_000);
  const subject = [{ name: 'commonName', value: options.commonName }];
  cert.setSubject(subject);
  cert.setIssuer(options.issuer ? options.issuer.forgeCert.subject.attributes : subject);
  const extensions: object[] = [{ name: 'basicConstraints', cA: options.ca === true }];
  if (options.ca) extensions.push({ name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true });
  else extensions.push({ name: 'extKeyUsage', serverAuth: true });
  if (options.dnsNames?.length) extensions.push({ name: 'subjectAltName', altNames: options.dnsNames.map((value) => ({ type: 2, value })) });
  cert.setExtensions(extensions);
  cert.sign(options.issuer?.forgeKey ?? forgeKey, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certPem,
    der: Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary'),
    spkiDer: publicKey.export({ type: 'spki', format: 'der' }),
    forgeKey,
    forgeCert: cert,
  };
}

export const sha256 = (bytes: Buffer): Buffer => crypto.createHash('sha256').update(bytes).digest();
export const sha512 = (bytes: Buffer): Buffer => crypto.createHash('sha512').update(bytes).digest();
