// The ACME challenges being answered right now: HTTP-01 key authorizations by token (RFC 8555 §8.3) and
// TLS-ALPN-01 certificates by name (RFC 8737 §3). The manager fills it for the seconds an order is
// validated; the web listeners only read it.
import tls from 'node:tls';

/** base64url, as RFC 8555 §8.1 defines a token; anything else is never looked up. */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

export class ChallengeBook {
  private readonly http = new Map<string, string>();
  private readonly alpn = new Map<string, tls.SecureContext>();

  /** The key authorization for an HTTP-01 token, or null. */
  httpAnswer(token: string): string | null {
    return TOKEN.test(token) ? (this.http.get(token) ?? null) : null;
  }

  /** The acme-tls/1 certificate context for a name (SNI), or null. */
  alpnContext(name: string): tls.SecureContext | null {
    return this.alpn.get(name.toLowerCase()) ?? null;
  }

  putHttp(token: string, keyAuthorization: string): void {
    if (!TOKEN.test(token)) throw new Error('The CA sent a malformed challenge token.');
    this.http.set(token, keyAuthorization);
  }

  putAlpn(name: string, pem: { readonly key: string; readonly cert: string }): void {
    this.alpn.set(name.toLowerCase(), tls.createSecureContext({ key: pem.key, cert: pem.cert }));
  }

  removeHttp(token: string): void {
    this.http.delete(token);
  }

  removeAlpn(name: string): void {
    this.alpn.delete(name.toLowerCase());
  }

  /** How many challenges are open (tests and status). */
  get size(): number {
    return this.http.size + this.alpn.size;
  }
}
