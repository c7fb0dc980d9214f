// The privacy sweep every reliability test runs at its end: no subject, address, body token or password
// it used may appear in plaintext in any file under its data dir(s) (mailboxes, WAL, queue, backups, temp
// files) or in any line the server printed (its JSON logs). The sweep itself is test/helpers/privacy.ts.
import { findPlaintext } from './privacy.js';

/** Text a test used that must never reach the disk or a log in plaintext. */
export class Secrets {
  private readonly values = new Set<string>();
  add(...values: readonly string[]): this {
    // Very short strings would match by chance in encrypted bytes; every secret a test registers is longer.
    for (const v of values) if (v.length >= 6) this.values.add(v);
    return this;
  }
  get list(): string[] {
    return [...this.values];
  }
}

/** Every place a secret shows up: "file <path>: <secret>" or "log line <n>: <secret>". Empty = clean. */
export function privacyLeaks(roots: readonly string[], logs: readonly string[], secrets: Secrets): string[] {
  return findPlaintext(roots, secrets.list, { logs });
}
