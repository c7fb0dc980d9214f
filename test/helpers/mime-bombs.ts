// Hostile MIME messages for the MIME-limit tests and `npm run bench -- mime`: many parts, deep nesting,
// a huge header, garbage. Each is a plain function of its size, CRLF line endings throughout.

/** multipart/mixed with `parts` small text parts, each numbered ("part 17") so a test can find them. */
export function manyPartsMessage(parts: number, subject = `${parts} parts`): Buffer {
  const lines = ['From: Bomb <bomb@example.net>', 'To: victim@example.org', `Subject: ${subject}`, 'Message-ID: <bomb.parts@example.net>', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="bomb-b0"', '', 'preamble'];
  for (let i = 1; i <= parts; i++) lines.push('--bomb-b0', `Content-Type: text/plain; name="p${i}.txt"`, '', `part ${i}`);
  lines.push('--bomb-b0--', '');
  return Buffer.from(lines.join('\r\n'));
}

/** `depth` multiparts nested inside each other, one text leaf at the bottom. */
export function nestedMessage(depth: number): Buffer {
  const lines = ['From: Bomb <bomb@example.net>', 'To: victim@example.org', `Subject: ${depth} levels`, 'MIME-Version: 1.0'];
  for (let i = 0; i < depth; i++) lines.push(`Content-Type: multipart/mixed; boundary="n${i}"`, '', `--n${i}`);
  lines.push('Content-Type: text/plain', '', 'the bottom');
  for (let i = depth - 1; i >= 0; i--) lines.push(`--n${i}--`);
  lines.push('');
  return Buffer.from(lines.join('\r\n'));
}

/** One header field of `bytes` octets on a single line (no folding), then a short body. */
export function hugeHeaderMessage(bytes: number): Buffer {
  return Buffer.concat([
    Buffer.from('From: Bomb <bomb@example.net>\r\nTo: victim@example.org\r\nSubject: huge header\r\nX-Huge: '),
    Buffer.alloc(bytes, 'h'),
    Buffer.from('\r\n\r\nbody after a huge header\r\n'),
  ]);
}

/** `bytes` of seeded pseudo-random octets, NUL and bare CR/LF included: no header, no MIME. */
export function garbageMessage(bytes: number, seed = 1): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The smallest parts possible (no part header, a number as body): 20,000 parts stay under 300 KB. */
export function compactPartsMessage(parts: number): Buffer {
  const chunks = ['From: Bomb <bomb@example.net>\r\nTo: victim@example.org\r\nSubject: compact parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'];
  for (let i = 1; i <= parts; i++) chunks.push(`--b\r\n\r\n${i}\r\n`);
  chunks.push('--b--\r\n');
  return Buffer.from(chunks.join(''));
}

/**
 * `2 × pairs` parts: `pairs` multipart/alternative parts, each with its own boundary and one text part.
 * Distinct boundaries are what made the old whole-message parse grow with parts × size.
 */
export function pairedPartsMessage(pairs: number): Buffer {
  const chunks = ['From: Bomb <bomb@example.net>\r\nTo: victim@example.org\r\nSubject: paired parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'];
  for (let i = 1; i <= pairs; i++) chunks.push(`--b\r\nContent-Type: multipart/alternative; boundary="c${i}"\r\n\r\n--c${i}\r\n\r\n${i}\r\n--c${i}--\r\n`);
  chunks.push('--b--\r\n');
  return Buffer.from(chunks.join(''));
}
