// RFC 8601 §5: an MTA must remove (or rename) Authentication-Results header fields that claim its own
// authserv-id before adding its own, or a sender could forge "spf=pass dkim=pass" results that a mail
// client shows as ours. Fields naming other authserv-ids are kept (they are other hops' claims).

/** Where the header section ends: the index of the empty line's first byte (or the whole message). */
function headerEnd(raw: Buffer): number {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf + 1 <= lf)) return crlf + 2;
  if (lf >= 0) return lf + 1;
  return raw.length;
}

/** Strips comments `( … )` (nested) and surrounding white space at the start of a header value. */
function skipCfws(value: string): string {
  let text = value.replace(/^[ \t\r\n]+/, '');
  while (text.startsWith('(')) {
    let depth = 0;
    let i = 0;
    for (; i < text.length; i++) {
      const c = text[i];
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) break;
    }
    text = text.slice(i + 1).replace(/^[ \t\r\n]+/, '');
  }
  return text;
}

/** The authserv-id an Authentication-Results value starts with (lowercase, unquoted), or ''. */
export function authservIdOf(value: string): string {
  const text = skipCfws(value);
  const quoted = /^"((?:[^"\\]|\\.)*)"/.exec(text);
  if (quoted) return (quoted[1] ?? '').replace(/\\(.)/g, '$1').toLowerCase();
  return (/^[^\s;()"]+/.exec(text)?.[0] ?? '').toLowerCase();
}

/**
 * Removes every Authentication-Results field (any case, folded or not) whose authserv-id is ours.
 * Returns the message unchanged (same Buffer) when there is none.
 */
export function stripOwnAuthResults(raw: Buffer, authservId: string): { raw: Buffer; removed: number } {
  const ours = authservId.toLowerCase().replace(/\.$/, '');
  const end = headerEnd(raw);
  const header = raw.subarray(0, end).toString('latin1');
  if (!/^authentication-results[ \t]*:/im.test(header)) return { raw, removed: 0 };
  // One field = its first line plus continuation lines (starting with SP or HTAB), line ends kept.
  const lines = header.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const fields: string[] = [];
  for (const line of lines) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length) fields[fields.length - 1] += line;
    else fields.push(line);
  }
  let removed = 0;
  const kept = fields.filter((field) => {
    const match = /^authentication-results[ \t]*:([\s\S]*)$/i.exec(field);
    if (!match) return true;
    const id = authservIdOf(match[1] ?? '').replace(/\.$/, '');
    if (id !== ours) return true;
    removed++;
    return false;
  });
  if (!removed) return { raw, removed: 0 };
  return { raw: Buffer.concat([Buffer.from(kept.join(''), 'latin1'), raw.subarray(end)]), removed };
}
