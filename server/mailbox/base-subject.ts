// RFC 5256 §2.1 "base subject": the subject SORT and THREAD compare, with the reply/forward artifacts of
// deployed mail software removed. RFC 5256 requires exactly this algorithm (servers and disconnected
// clients must agree), so it follows the numbered steps one by one.
//
//   subject      = *subj-leader [subj-middle] *subj-trailer
//   subj-refwd   = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
//   subj-blob    = "[" *BLOBCHAR "]" *WSP
//   subj-fwd     = subj-fwd-hdr subject subj-fwd-trl
//   subj-fwd-hdr = "[fwd:"          subj-fwd-trl = "]"
//   subj-leader  = (*subj-blob subj-refwd) / WSP
//   subj-trailer = "(fwd)" / WSP
//   BLOBCHAR     = any CHAR8 except "[" and "]"
// String literals in ABNF are case-insensitive.
import libmime from 'libmime';

/** RFC 2047 encoded words decoded; text with an unknown charset stays as sent. */
export function decodeWords(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

export interface BaseSubject {
  /** The base subject text (decoded, whitespace collapsed, artifacts removed), original case. */
  readonly text: string;
  /**
   * RFC 5256 §2.1/§4: the message is a reply or forward when the extraction removed a subj-refwd, a "(fwd)"
   * subj-trailer, or a subj-fwd-hdr and subj-fwd-trl pair (removing a subj-blob alone does not count).
   */
  readonly replyOrForward: boolean;
}

// A subj-blob: "[" then anything but brackets, "]", then any WSP (step 1 already turned tabs into spaces).
const BLOB = '\\[[^\\[\\]]*\\] *';
// (3) A subj-leader that is not a lone WSP: any subj-blobs, then "re" / "fw" / "fwd", WSP, an optional blob, ":".
const REFWD_LEADER = new RegExp(`^(?:${BLOB})*(?:re|fwd?) *(?:${BLOB})?:`, 'i');
const BLOB_PREFIX = new RegExp(`^${BLOB}`);

/** Step (1): RFC 2047 decoded, tabs and folding turned into spaces, runs of spaces collapsed to one. */
export function normalizeSubject(value: string, decode: (s: string) => string = decodeWords): string {
  return decode(value).replace(/[\t\r\n]/g, ' ').replace(/ {2,}/g, ' ');
}

/** The RFC 5256 §2.1 base subject of a raw Subject header value (encoded words allowed). */
export function baseSubject(value: string, decode: (s: string) => string = decodeWords): BaseSubject {
  let s = normalizeSubject(value, decode);
  let replyOrForward = false;
  for (;;) {
    // (2) Remove trailing subj-trailers ("(fwd)" or WSP) until none is left.
    for (;;) {
      if (s.endsWith(' ')) s = s.slice(0, -1);
      else if (s.toLowerCase().endsWith('(fwd)')) {
        s = s.slice(0, -5);
        replyOrForward = true;
      } else break;
    }
    // (5) Repeat (3) and (4) until neither removes anything.
    for (;;) {
      // (3) Remove leading subj-leaders.
      let changed = false;
      for (;;) {
        if (s.startsWith(' ')) {
          s = s.slice(1);
          changed = true;
          continue;
        }
        const leader = REFWD_LEADER.exec(s);
        if (!leader) break;
        s = s.slice(leader[0].length);
        replyOrForward = true;
        changed = true;
      }
      // (4) Remove a leading subj-blob when what remains is still a non-empty subj-base.
      const blob = BLOB_PREFIX.exec(s);
      if (blob && s.length > blob[0].length) {
        s = s.slice(blob[0].length);
        changed = true;
      }
      if (!changed) break;
    }
    // (6) "[fwd:" … "]" around the whole text: unwrap and start again from (2).
    if (s.length >= 6 && s.slice(0, 5).toLowerCase() === '[fwd:' && s.endsWith(']')) {
      s = s.slice(5, -1);
      replyOrForward = true;
      continue;
    }
    // (7) What is left is the base subject.
    return { text: s, replyOrForward };
  }
}

/** RFC 4790 i;ascii-casemap: only a-z fold (to upper case); every other octet compares as itself. */
export function asciiCasemap(value: string): string {
  return value.replace(/[a-z]+/g, (m) => m.toUpperCase());
}
