// The privacy sweep: no subject, address, body text or password a test used may appear in plaintext in any
// file under the data dir(s) it names (mailboxes, WAL, queue, backups, exports, temp files) — as UTF-8 or
// UTF-16LE bytes — nor in any log line (case-insensitive: logs may lower-case an address).
import fs from 'node:fs';
import path from 'node:path';

export interface PlaintextOptions {
  /** Log lines to search too (pino JSON lines, a child's stdout/stderr). */
  readonly logs?: readonly string[];
  /** Files to pass over, by path relative to the dir being swept (e.g. the listener's own TLS key). */
  readonly exclude?: (relativeFile: string) => boolean;
}

/** Every regular file under dir, recursively (not sockets such as control.sock, not symlinks); [] when dir is absent. */
export function regularFilesUnder(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return []; // absent, or removed while we walked
  }
  return entries.flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return regularFilesUnder(full);
    return entry.isFile() ? [full] : [];
  });
}

/**
 * Where any needle shows up: "file <path relative to its dir>: <needle>" (with " (UTF-16LE)" for that
 * encoding) or "log line <n>: <needle> in <line>". Empty means clean: `assert.deepEqual(findPlaintext(…), [])`.
 */
export function findPlaintext(dirs: string | readonly string[], needles: readonly string[], options: PlaintextOptions = {}): string[] {
  const patterns = needles.map((text) => ({ text, utf8: Buffer.from(text, 'utf8'), utf16: Buffer.from(text, 'utf16le'), lower: text.toLowerCase() }));
  const found: string[] = [];
  for (const dir of typeof dirs === 'string' ? [dirs] : dirs) {
    for (const file of regularFilesUnder(dir)) {
      const relative = path.relative(dir, file);
      if (options.exclude?.(relative)) continue;
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(file);
      } catch {
        continue; // removed while we walked (the -shm of a closing handle)
      }
      for (const p of patterns) {
        if (bytes.includes(p.utf8)) found.push(`file ${relative}: ${p.text}`);
        if (bytes.includes(p.utf16)) found.push(`file ${relative}: ${p.text} (UTF-16LE)`);
      }
    }
  }
  (options.logs ?? []).forEach((line, i) => {
    const lower = line.toLowerCase();
    for (const p of patterns) if (lower.includes(p.lower)) found.push(`log line ${i + 1}: ${p.text} in ${line.slice(0, 300)}`);
  });
  return found;
}
