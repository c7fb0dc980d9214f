// The two X.509 objects an ACME order needs from us, made with node-forge (as the self-signed certificate
// is): the certificate signing request for our names, and the TLS-ALPN-01 challenge certificate (RFC 8737 §3).
// acme-client's own helpers for these go through @peculiar/x509, which fails when npm installs several copies
// of @peculiar/asn1-schema side by side (it did here: "Cannot get schema for 'CertificationRequestInfo'").
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import type forgeModule from 'node-forge';

const forge = (): typeof forgeModule => createRequire(import.meta.url)('node-forge') as typeof forgeModule;

/** RFC 8737 §6.1: id-pe-acmeIdentifier. */
const ACME_IDENTIFIER_OID = '1.3.6.1.5.5.7.1.31';

interface RsaPair {
  readonly keyPem: string;
  readonly forgeKey: forgeModule.pki.rsa.PrivateKey;
  readonly forgePublic: forgeModule.pki.rsa.PublicKey;
}

async function rsaPair(): Promise<RsaPair> {
  const { privateKey, publicKey } = await new Promise<crypto.KeyPairKeyObjectResult>((resolve, reject) =>
    crypto.generateKeyPair('rsa', { modulusLength: 2048 }, (error, pub, priv) => (error ? reject(error) : resolve({ publicKey: pub, privateKey: priv }))),
  );
  const f = forge();
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    forgeKey: f.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()),
    forgePublic: f.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
  };
}

/** A new RSA-2048 key and a CSR (PEM) for names: the first is the subject, all are subjectAltNames. */
export async function createCsr(names: readonly string[]): Promise<{ keyPem: string; csrPem: string }> {
  const f = forge();
  const pair = await rsaPair();
  const csr = f.pki.createCertificationRequest();
  csr.publicKey = pair.forgePublic;
  csr.setSubject([{ name: 'commonName', value: names[0] }]);
  csr.setAttributes([{ name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) }] }]);
  csr.sign(pair.forgeKey, f.md.sha256.create());
  return { keyPem: pair.keyPem, csrPem: f.pki.certificationRequestToPem(csr) };
}

/**
 * The acme-tls/1 certificate for one name (RFC 8737 §3): self-signed, the name as its only subjectAltName,
 * and a critical id-pe-acmeIdentifier extension holding SHA-256 of the key authorization.
 */
export async function createAlpnChallengeCertificate(name: string, keyAuthorization: string): Promise<{ key: string; cert: string }> {
  const f = forge();
  const pair = await rsaPair();
  const cert = f.pki.createCertificate();
  cert.publicKey = pair.forgePublic;
  const serial = crypto.randomBytes(16);
  serial[0]! &= 0x7f;
  cert.serialNumber = serial.toString('hex');
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60_000);
  cert.validity.notAfter = new Date(now + 7 * 86_400_000);
  const subject = [{ name: 'commonName', value: name }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  const digest = crypto.createHash('sha256').update(keyAuthorization).digest().toString('binary');
  cert.setExtensions([
    { name: 'subjectAltName', altNames: [{ type: 2, value: name }] },
    { id: ACME_IDENTIFIER_OID, critical: true, value: f.asn1.create(f.asn1.Class.UNIVERSAL, f.asn1.Type.OCTETSTRING, false, digest) },
  ]);
  cert.sign(pair.forgeKey, f.md.sha256.create());
  return { key: pair.keyPem, cert: f.pki.certificateToPem(cert) };
}
