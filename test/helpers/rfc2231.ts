// Messages whose attachment names use RFC 2231 parameter value extensions (and RFC 2047 words in quoted names,
// which is not legal but common), with what BODYSTRUCTURE must carry for each and the name a user must see.
// The expected lists were checked against Dovecot 2.3.19 (docs/imap.md, "BODYSTRUCTURE parameters").

export interface ParameterCase {
  /** Test name, quoting the RFC section the behaviour comes from. */
  readonly title: string;
  /** Content-Type field value of the attachment part. */
  readonly contentType: string;
  /** Content-Disposition field value, or null for none. */
  readonly disposition: string | null;
  /** BODYSTRUCTURE body-fld-param of the attachment part: [NAME, value, …], or null. */
  readonly typeParams: readonly string[] | null;
  /** Parameters of its body-fld-dsp, or null. */
  readonly dispositionParams: readonly string[] | null;
  /** File name as a user should see it. */
  readonly fileName: string | null;
}

export const PARAMETER_CASES: readonly ParameterCase[] = [
  {
    title: `RFC 2231 §4: filename*=utf-8''Rechnung%20M%C3%A4rz.pdf is carried as FILENAME* still encoded, and reads "Rechnung März.pdf"`,
    contentType: 'application/pdf',
    disposition: `attachment; filename*=utf-8''Rechnung%20M%C3%A4rz.pdf`,
    typeParams: null,
    dispositionParams: ['FILENAME*', `utf-8''Rechnung%20M%C3%A4rz.pdf`],
    fileName: 'Rechnung März.pdf',
  },
  {
    title: 'RFC 2231 §3 and §4.1: sections name*0*=, name*1*=, name*2= join into one NAME* with the charset of section 0',
    contentType: `application/pdf; name*0*=utf-8''Rechnung%20; name*1*=M%C3%A4rz; name*2=".pdf"`,
    disposition: 'attachment',
    typeParams: ['NAME*', `utf-8''Rechnung%20M%C3%A4rz.pdf`],
    dispositionParams: null,
    fileName: 'Rechnung März.pdf',
  },
  {
    title: 'RFC 2231 §3: unencoded sections name*0=, name*1= join into a plain NAME; filename*0/*1 likewise',
    contentType: 'application/pdf; name*0="Long "; name*1="name.pdf"',
    disposition: 'attachment; filename*0="Long "; filename*1="file name.pdf"',
    typeParams: ['NAME', 'Long name.pdf'],
    dispositionParams: ['FILENAME', 'Long file name.pdf'],
    fileName: 'Long file name.pdf',
  },
  {
    title: "RFC 2231 §4: mixed charsets, each parameter keeps its own (iso-8859-1'de' filename*, utf-8 title*)",
    contentType: 'application/pdf',
    disposition: `attachment; filename*=iso-8859-1'de'M%E4rz.pdf; title*=utf-8''%E2%82%AC`,
    typeParams: null,
    dispositionParams: ['FILENAME*', `iso-8859-1'de'M%E4rz.pdf`, 'TITLE*', `utf-8''%E2%82%AC`],
    fileName: 'März.pdf',
  },
  {
    title: 'RFC 2231 §4.1: an unencoded section between encoded ones is percent-escaped when the sections are joined',
    contentType: 'application/pdf',
    disposition: `attachment; filename*0*=utf-8''%C3%A4; filename*1="100%"; filename*2*=%C3%B6`,
    typeParams: null,
    dispositionParams: ['FILENAME*', `utf-8''%C3%A4100%25%C3%B6`],
    fileName: 'ä100%ö',
  },
  {
    title: 'RFC 2047 §5 (not in a quoted-string, but common): an encoded word in a quoted name is carried as sent and read decoded',
    contentType: 'application/pdf; name="=?utf-8?b?UmVjaG51bmcgTcOkcnoucGRm?="',
    disposition: 'attachment; filename="=?utf-8?b?UmVjaG51bmcgTcOkcnoucGRm?="',
    typeParams: ['NAME', '=?utf-8?b?UmVjaG51bmcgTcOkcnoucGRm?='],
    dispositionParams: ['FILENAME', '=?utf-8?b?UmVjaG51bmcgTcOkcnoucGRm?='],
    fileName: 'Rechnung März.pdf',
  },
  {
    title: 'RFC 2045 §5.1: a ";" inside a quoted value belongs to the value',
    contentType: 'application/pdf',
    disposition: 'attachment; filename="semi;colon.pdf"; size=10',
    typeParams: null,
    dispositionParams: ['FILENAME', 'semi;colon.pdf', 'SIZE', '10'],
    fileName: 'semi;colon.pdf',
  },
];

/** A two-part message: a short text part, then the attachment part described by `c`. */
export function attachmentMessage(c: Pick<ParameterCase, 'contentType' | 'disposition'>, subject = 'Rechnung'): Buffer {
  return Buffer.from(
    'From: Billing <billing@example.com>\r\nTo: alice@example.test\r\n' +
      `Subject: ${subject}\r\nDate: Tue, 07 Jan 2025 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.com>\r\n` +
      'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n' +
      '--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nsee attached\r\n' +
      `--b1\r\nContent-Type: ${c.contentType}\r\n` +
      (c.disposition === null ? '' : `Content-Disposition: ${c.disposition}\r\n`) +
      'Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n',
    'utf8',
  );
}

/** Content-Disposition values no sender should write; parsing them must stay linear and never throw. */
export const HOSTILE_DISPOSITIONS: readonly { readonly title: string; readonly disposition: string }[] = [
  { title: '10,000 unencoded sections', disposition: `attachment; ${Array.from({ length: 10_000 }, (_, n) => `filename*${n}="x"`).join('; ')}` },
  { title: '10,000 encoded sections', disposition: `attachment; filename*0*=utf-8''%41; ${Array.from({ length: 9_999 }, (_, n) => `filename*${n + 1}*=%41`).join('; ')}` },
  { title: 'huge section numbers', disposition: 'attachment; filename*0="a"; filename*99999999="z"; filename*4294967296="y"; filename*99999999999999999999999999="w"' },
  { title: 'bad percent escapes', disposition: `attachment; filename*=utf-8''%ZZ%4%C3%A4%` },
  { title: 'an unknown charset', disposition: `attachment; filename*=x-unknown-charset''%41%42` },
  { title: 'an unknown charset in an RFC 2047 word', disposition: 'attachment; filename="=?x-unknown-charset?q?abc?="' },
  { title: 'an unterminated quoted value', disposition: 'attachment; filename="no end' },
  { title: 'repeated and leading-zero sections', disposition: 'attachment; filename*0="a"; filename*0="b"; filename*01="c"; filename*1="d"' },
];
