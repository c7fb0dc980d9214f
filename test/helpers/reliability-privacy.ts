// The privacy sweep every reliability test runs at its end: no subject, address, body token or password
// it used may appear in plaintext in any file under its data dir(s) (mailboxes, WAL, queue, backups, temp
// files) or in any line the server printed (its JSON logs).
import fs from 'node:fs';
import path from 'node:path';

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

function* filesUnder(root: string): Generator<string> {
  if (!fs.existsSync(root)) return;
  const stat = fs.lstatSync(root);
  if (stat.isFile()) {
    yield root;
    return;
  }
  if (!stat.isDirectory()) return;
  for (const name of fs.readdirSync(root)) yield* filesUnder(path.join(root, name));
}

/** Every place a secret shows up: "file <path>: <secret>" or "log line <n>: <secret>". Empty = clean. */
export function privacyLeaks(roots: readonly string[], logs: readonly string[], secrets: Secrets): string[] {
  const needles = secrets.list.map((s) => ({ text: s, bytes: Buffer.from(s, 'utf8'), lower: s.toLowerCase() }));
  const leaks: string[] = [];
  for (const root of roots) {
    for (const file of filesUnder(root)) {
      let data: Buffer;
      try {
        data = fs.readFileSync(file);
      } catch {
        continue; // removed while we walked (a -shm of a closing handle)
      }
      for (const n of needles) if (data.includes(n.bytes)) leaks.push(`file ${path.relative(root, file)}: ${n.text}`);
    }
  }
  logs.forEach((line, i) => {
    const lower = line.toLowerCase();
    for (const n of needles) if (lower.includes(n.lower)) leaks.push(`log line ${i + 1}: ${n.text} in ${line.slice(0, 300)}`);
  });
  return leaks;
}
