// Deterministic, realistic test mail (our own generator; CI has no ../shared corpus).
// Every message is CRLF, carries a unique body token "zq" + 6 digits, and its metadata is returned
// alongside so tests can assert exactly what a user would find. Same (count, seed) → same bytes.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CorpusMessage {
  raw: Buffer;
  messageId: string;
  /** Decoded subject. */
  subject: string;
  /** Bare sender address (lower case). */
  from: string;
  /** Bare recipient address (lower case). */
  to: string;
  date: Date;
  /** Unique per message: "zq" + 6 digits; appears once in the decoded body text. "zq000000" never appears. */
  token: string;
  /** plain | alternative | mixed | shared-attachment | forward | latin1 | odd-boundary | nested */
  kind: string;
  /** Decoded display names (may be non-ASCII). */
  fromName: string;
  toName: string;
  /** File names of the attachments (decoded), in order. */
  attachments: string[];
}

const WORDS = (
  'the of and to in is that for it as with was on be at by this had not are but from or have an they which ' +
  'invoice meeting budget quarterly report server backup release schedule review attached thanks regards ' +
  'tomorrow agenda deadline project draft contract shipment delivery customer support ticket holiday ' +
  'vacation family dinner weekend garden football concert museum library bicycle coffee'
).split(' ');
const NAMES = [
  'Alice Martin', 'Bob Smith', 'Jürgen Müller', 'Zoë Dubois', 'Søren Kierkegaard', 'María José García',
  'Łukasz Nowak', 'Ana Sousa', 'Chen Wei', '田中 太郎', 'Olga Иванова', 'Fatma Yılmaz', 'Nguyễn Văn An',
  'Priya Sharma', "John O'Neil", 'Émile Zola',
];
const LATIN1_NAMES = ['Jürgen Müller', 'Zoë Dubois', 'Søren Kierkegaard', 'María José García', 'Émile Zola'];
const DOMAINS = ['example.com', 'example.net', 'example.org', 'mail.example.co.uk', 'example.de'];
const ZONES = [0, -300, 60, 330, -480, 540];
const KINDS = ['plain', 'alternative', 'mixed', 'shared-attachment', 'forward', 'latin1', 'odd-boundary', 'nested'];

/** mulberry32: tiny deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rnd {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)] as T;
  }
  words(n: number): string {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.pick(WORDS));
    return out.join(' ');
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

const isAscii = (s: string): boolean => /^[\x20-\x7e]*$/.test(s);

/** RFC 2047 B-encoding in UTF-8, split so no encoded word exceeds 75 chars and no character is cut. */
export function encodeWordB(text: string): string {
  const words: string[] = [];
  let chunk = '';
  for (const ch of text) {
    if (Buffer.byteLength(chunk + ch) > 42) {
      words.push(`=?UTF-8?B?${Buffer.from(chunk).toString('base64')}?=`);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(`=?UTF-8?B?${Buffer.from(chunk).toString('base64')}?=`);
  return words.join('\r\n ');
}

/** RFC 2047 Q-encoding in ISO-8859-1 (text must be representable in Latin-1). */
export function encodeWordQLatin1(text: string): string {
  const bytes = Buffer.from(text, 'latin1');
  let q = '';
  for (const b of bytes) {
    if (b === 0x20) q += '_';
    else if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) q += String.fromCharCode(b);
    else q += '=' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return `=?ISO-8859-1?Q?${q}?=`;
}

function encodeHeaderText(text: string, latin1: boolean): string {
  if (isAscii(text)) return text;
  return latin1 ? encodeWordQLatin1(text) : encodeWordB(text);
}

function mailbox(name: string, address: string, latin1: boolean): string {
  if (isAscii(name)) return /[()<>@,;:\\".[\]']/.test(name) ? `"${name}" <${address}>` : `${name} <${address}>`;
  return `${encodeHeaderText(name, latin1)} <${address}>`;
}

function slug(name: string): string {
  const s = name
    .normalize('NFKD')
    .replace(/[^\x20-\x7e]/g, '')
    .toLowerCase()
    .replace(/[^a-z]+/g, '.')
    .replace(/^\.|\.$/g, '');
  return s || 'user';
}

function rfc2822Date(date: Date, offsetMin: number): string {
  const local = new Date(date.getTime() + offsetMin * 60000);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][local.getUTCDay()];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][local.getUTCMonth()];
  const p = (n: number): string => String(n).padStart(2, '0');
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  return (
    `${day}, ${local.getUTCDate()} ${mon} ${local.getUTCFullYear()} ` +
    `${p(local.getUTCHours())}:${p(local.getUTCMinutes())}:${p(local.getUTCSeconds())} ${sign}${p(Math.floor(abs / 60))}${p(abs % 60)}`
  );
}

function base64Lines(data: Buffer): string {
  return (data.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

/** Quoted-printable of a string encoded in the given charset (soft line breaks at 76). */
function quotedPrintable(text: string, charset: 'utf-8' | 'latin1'): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const bytes = Buffer.from(line, charset === 'utf-8' ? 'utf8' : 'latin1');
    let cur = '';
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i] as number;
      const last = i === bytes.length - 1;
      const piece =
        (b >= 33 && b <= 126 && b !== 61) || (b === 0x20 && !last) ? String.fromCharCode(b) : '=' + b.toString(16).toUpperCase().padStart(2, '0');
      if (cur.length + piece.length > 75) {
        out.push(cur + '=');
        cur = '';
      }
      cur += piece;
    }
    out.push(cur);
  }
  return out.join('\r\n');
}

function paragraphs(rnd: Rnd, token: string, n: number): string {
  const paras: string[] = [];
  const tokenAt = rnd.int(n);
  for (let i = 0; i < n; i++) {
    let p = rnd.words(20 + rnd.int(60));
    if (i === tokenAt) p += ` ref ${token} ` + rnd.words(5);
    paras.push(wrap(p));
  }
  return paras.join('\n\n') + '\n';
}

function wrap(text: string, width = 72): string {
  const lines: string[] = [];
  let line = '';
  for (const w of text.split(' ')) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

const crlf = (s: string): string => s.replace(/\r?\n/g, '\r\n');
const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function htmlOf(text: string): string {
  const body = text
    .trim()
    .split('\n\n')
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, ' ')}</p>`)
    .join('\n');
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>mail</title></head>\n<body>\n${body}\n</body></html>\n`;
}

interface SharedAttachment {
  name: string;
  type: string;
  data: Buffer;
}

/** Identical across seeds so the store can de-duplicate them. */
const SHARED: SharedAttachment[] = (() => {
  const r = new Rnd(0x5ea1);
  return [
    { name: 'company-handbook.pdf', type: 'application/pdf', data: Buffer.concat([Buffer.from('%PDF-1.4\n'), r.bytes(24_000)]) },
    { name: 'logo.png', type: 'image/png', data: Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), r.bytes(9_000)]) },
    { name: 'Preisliste Müller.xlsx', type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', data: Buffer.concat([Buffer.from('PK\x03\x04'), r.bytes(15_000)]) },
  ];
})();

export function sharedAttachments(): readonly { name: string; type: string; data: Buffer }[] {
  return SHARED;
}

function attachmentPart(att: SharedAttachment): string {
  const nameParam = isAscii(att.name)
    ? `name="${att.name}"`
    : `name="${encodeWordB(att.name).replace(/\r\n /g, ' ')}"`;
  const fileParam = isAscii(att.name)
    ? `filename="${att.name}"`
    : `filename*=utf-8''${encodeURIComponent(att.name)}`;
  return (
    `Content-Type: ${att.type};\r\n ${nameParam}\r\n` +
    `Content-Transfer-Encoding: base64\r\n` +
    `Content-Disposition: attachment;\r\n ${fileParam}\r\n\r\n` +
    base64Lines(att.data) +
    '\r\n'
  );
}

interface Built {
  headers: string[];
  body: string;
  attachments: string[];
}

/** Generates `count` messages; message i is the (i+1)-th to append (UID order). */
export function generateCorpus(count: number, seed = 1): CorpusMessage[] {
  const rnd = new Rnd(seed * 7919 + 17);
  const out: CorpusMessage[] = [];
  const base = Date.UTC(2024, 0, 2, 8, 0, 0) + (seed % 97) * 86400000;
  const tokenBase = 1 + ((seed * 104729) % 900000);
  for (let i = 0; i < count; i++) {
    // 7919 is coprime to 10^6, so tokens are unique for up to 10^6 messages; never 000000.
    let tokenNum = (tokenBase + i * 7919) % 1000000;
    if (tokenNum === 0) tokenNum = 999999;
    const token = 'zq' + String(tokenNum).padStart(6, '0');
    const kind = KINDS[i % KINDS.length] as string;
    const latin1 = kind === 'latin1';
    const fromName = latin1 ? rnd.pick(LATIN1_NAMES) : rnd.pick(NAMES);
    let toName = latin1 ? rnd.pick(LATIN1_NAMES) : rnd.pick(NAMES);
    if (toName === fromName) toName = 'Team Inbox';
    const from = `${slug(fromName)}@${rnd.pick(DOMAINS)}`;
    const to = `${slug(toName)}.${i % 5}@${rnd.pick(DOMAINS)}`;
    const date = new Date(base + i * 3_600_000 + rnd.int(3_600) * 1000);
    const zone = rnd.pick(ZONES);
    const messageId = `<${seed}.${i}.${token}@${from.split('@')[1]}>`;
    const subjectBase = rnd.words(3 + rnd.int(5));
    const subject = pickSubject(rnd, kind, subjectBase, i);
    const built = buildBody(rnd, kind, token, i, fromName, from, date, zone);
    const headers = [
      `Return-Path: <${from}>`,
      `Received: from mx.${from.split('@')[1]} (mx.${from.split('@')[1]} [192.0.2.${(i % 250) + 1}])\r\n\tby mail.example.test with ESMTPS id ${token.toUpperCase()}\r\n\tfor <${to}>; ${rfc2822Date(date, zone)}`,
      `Message-ID: ${messageId}`,
      `Date: ${rfc2822Date(date, zone)}`,
      `From: ${mailbox(fromName, from, latin1)}`,
      `To: ${mailbox(toName, to, latin1)}`,
      ...(i % 3 === 0 ? [`Cc: ${mailbox('Carol Cc', `carol.${i}@example.org`, latin1)}, dave@example.com`] : []),
      `Subject: ${foldSubject(encodeHeaderText(subject, latin1))}`,
      ...(i > 0 && i % 4 === 0 ? [`In-Reply-To: <${seed}.${i - 1}.thread@example.com>`, `References: <${seed}.${i - 2}.thread@example.com>\r\n <${seed}.${i - 1}.thread@example.com>`] : []),
      `MIME-Version: 1.0`,
      ...built.headers,
    ];
    const raw = Buffer.from(headers.join('\r\n') + '\r\n\r\n' + built.body, 'utf8');
    out.push({ raw, messageId, subject, from, to, date, token, kind, fromName, toName, attachments: built.attachments });
  }
  return out;
}

function foldSubject(value: string): string {
  // Long plain subjects are folded at a space; encoded words are already folded.
  if (value.includes('=?') || value.length < 70) return value;
  const cut = value.lastIndexOf(' ', 60);
  return cut > 0 ? value.slice(0, cut) + '\r\n' + value.slice(cut) : value;
}

function pickSubject(rnd: Rnd, kind: string, base: string, i: number): string {
  switch (kind) {
    case 'latin1':
      return `Réunion — ${base}`.replace('—', '-');
    case 'forward':
      return `Fwd: ${base}`;
    case 'nested':
      return `Grüße aus Köln: ${base} 🎉`;
    default:
      if (i % 5 === 2) return `Привет, ${base}`;
      if (i % 11 === 3) return `${base} ${rnd.words(12)} (long subject that folds over the line)`;
      return base.charAt(0).toUpperCase() + base.slice(1);
  }
}

function buildBody(rnd: Rnd, kind: string, token: string, i: number, fromName: string, from: string, date: Date, zone: number): Built {
  const text = paragraphs(rnd, token, 2 + rnd.int(6));
  switch (kind) {
    case 'plain':
      return {
        headers: ['Content-Type: text/plain; charset=utf-8; format=flowed', 'Content-Transfer-Encoding: 8bit'],
        body: crlf(text),
        attachments: [],
      };
    case 'latin1':
      return {
        headers: ['Content-Type: text/plain; charset="ISO-8859-1"', 'Content-Transfer-Encoding: quoted-printable'],
        body: quotedPrintable(`Grüße, ${fromName}: ` + text, 'latin1') + '\r\n',
        attachments: [],
      };
    case 'alternative': {
      const b = `----=_Part_${i}_${rnd.int(1e9)}.${rnd.int(1e6)}`;
      return {
        headers: [`Content-Type: multipart/alternative;\r\n boundary="${b}"`],
        body:
          `--${b}\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${quotedPrintable(text, 'utf-8')}\r\n` +
          `--${b}\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${quotedPrintable(htmlOf(text), 'utf-8')}\r\n` +
          `--${b}--\r\n`,
        attachments: [],
      };
    }
    case 'mixed': {
      const b = `=_mixed_${rnd.int(1e9).toString(36)}`;
      const csv = `date,amount,ref\n${Array.from({ length: 30 + rnd.int(100) }, (_, k) => `2024-01-${String((k % 28) + 1).padStart(2, '0')},${rnd.int(10000) / 100},${rnd.words(1)}`).join('\n')}\n`;
      const bin = rnd.bytes(3_000 + rnd.int(20_000));
      const names = ['statement.csv', `scan-${i}.bin`];
      return {
        headers: [`Content-Type: multipart/mixed; boundary="${b}"`],
        body:
          'This is a multi-part message in MIME format.\r\n\r\n' +
          `--${b}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n${crlf(text.replace(/[^\t\n\r\x20-\x7e]/g, '?'))}\r\n` +
          `--${b}\r\nContent-Type: text/csv; charset=us-ascii; name="statement.csv"\r\nContent-Disposition: attachment; filename="statement.csv"\r\n\r\n${crlf(csv)}\r\n` +
          `--${b}\r\nContent-Type: application/octet-stream; name="${names[1]}"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="${names[1]}"\r\n\r\n${base64Lines(bin)}\r\n` +
          `--${b}--\r\n`,
        attachments: names,
      };
    }
    case 'shared-attachment': {
      const b = `b1_${i}_${rnd.int(1e6)}`;
      const att = SHARED[i % SHARED.length] as SharedAttachment;
      return {
        headers: [`Content-Type: multipart/mixed;\r\n\tboundary="${b}"`],
        body:
          `--${b}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(Buffer.from(crlf(text)))}\r\n` +
          `--${b}\r\n${attachmentPart(att)}` +
          `--${b}--\r\n`,
        attachments: [att.name],
      };
    }
    case 'forward': {
      const innerToken = token; // the token lives in the forwarded message's body
      const inner =
        `From: ${mailbox('Original Sender', 'orig@example.net', false)}\r\n` +
        `To: ${mailbox(fromName, from, false)}\r\n` +
        `Subject: ${encodeWordB('Ursprüngliche Nachricht')}\r\n` +
        `Date: ${rfc2822Date(new Date(date.getTime() - 86400000), zone)}\r\n` +
        `Message-ID: <inner.${i}@example.net>\r\n` +
        `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n` +
        crlf(paragraphs(rnd, innerToken, 2));
      const b = `fwd-${rnd.int(1e9)}`;
      return {
        headers: [`Content-Type: multipart/mixed; boundary=${b}`],
        body:
          `--${b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the message below.\r\n\r\n` +
          `--${b}\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n${inner}\r\n` +
          `--${b}--\r\n`,
        attachments: [],
      };
    }
    case 'odd-boundary': {
      // Boundary with specials and spaces (must be quoted), transport padding after a delimiter,
      // preamble and epilogue, and a body line that starts like the boundary but is longer.
      const b = `Odd'(boundary)+_,-./:=? ${i}`;
      return {
        headers: [`Content-Type: multipart/mixed;\r\n boundary="${b}"`],
        body:
          `preamble line\r\n--${b}   \r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${crlf(text)}--${b}X not a boundary\r\n\r\n` +
          `--${b}\r\nContent-Type: text/plain; name="notes.txt"\r\nContent-Disposition: attachment; filename="notes.txt"\r\n\r\nnotes ${rnd.words(8)}\r\n` +
          `--${b}--\r\nepilogue text\r\n`,
        attachments: ['notes.txt'],
      };
    }
    default: {
      // nested: mixed( related( alternative(text, html), inline image ), attachment ), inner boundary = outer + suffix.
      const outer = `NEST${rnd.int(1e6)}`;
      const rel = `${outer}_rel`;
      const alt = `${outer}_alt`;
      const img = rnd.bytes(6_000);
      const att = SHARED[(i >> 3) % SHARED.length] as SharedAttachment;
      return {
        headers: [`Content-Type: multipart/mixed; boundary="${outer}"`],
        body:
          `--${outer}\r\nContent-Type: multipart/related; boundary="${rel}"; type="multipart/alternative"\r\n\r\n` +
          `--${rel}\r\nContent-Type: multipart/alternative; boundary="${alt}"\r\n\r\n` +
          `--${alt}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${crlf(text)}\r\n` +
          `--${alt}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(Buffer.from(crlf(htmlOf(text) + '<img src="cid:img1@x">')))}\r\n` +
          `--${alt}--\r\n\r\n` +
          `--${rel}\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <img1@x>\r\nContent-Disposition: inline; filename="pixel.png"\r\n\r\n${base64Lines(img)}\r\n` +
          `--${rel}--\r\n\r\n` +
          `--${outer}\r\n${attachmentPart(att)}` +
          `--${outer}--\r\n`,
        attachments: [att.name],
      };
    }
  }
}

/** Directory of the shared python-email corpus if available (env override, then ../shared). */
export function sharedCorpusDir(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    process.env.SEALPOST_SHARED_CORPUS,
    resolve(here, '../../../shared/corpus/python-email'),
  ].filter((d): d is string => typeof d === 'string' && d.length > 0);
  for (const dir of candidates) if (existsSync(dir)) return dir;
  return null;
}

/** Messages of the shared python-email corpus, or [] when absent (as in CI). */
export function loadSharedCorpus(): { name: string; raw: Buffer }[] {
  const dir = sharedCorpusDir();
  if (!dir) return [];
  return readdirSync(dir)
    .filter((n) => !n.startsWith('.'))
    .sort()
    .map((name) => ({ name, raw: readFileSync(join(dir, name)) }));
}

/** Why shared-corpus cases are skipped, for test output. */
export const SHARED_CORPUS_SKIP_REASON = 'shared python-email corpus not present (set SEALPOST_SHARED_CORPUS to run these cases)';
