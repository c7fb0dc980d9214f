// SORT and THREAD (RFC 5256, RFC 5957, RFC 5267 ESORT) over a real socket against the own engine, on the shared
// corpus (../shared/bench/gen-corpus.py) plus messages with odd subjects, dates, addresses and references,
// compared with an independent reference written in Python from the RFC text (the `email` package parses the
// headers; the base subject, display values, sent dates and both threading algorithms are implemented below).
// The same expectations are also checked against the store directly, so a wiring gap and a store bug are told apart.
// A missing shared folder fails this test with what to do; SEALPOST_SHARED_DIR=none skips it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Mailbox, SortKey, SortKeyName } from '../../server/mailbox/types.js';
import { threadText } from '../../server/imap/commands/thread.js';
import { RawImap } from '../helpers/imap-raw.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';
import { sharedDirOptOut, sharedPath } from '../helpers/shared-dir.js';

const COUNT = 240;
const SEED = 5256;
const FOLDER = 'SortThread';
const optOut = sharedDirOptOut();

/**
 * The reference. Reads a manifest [{uid, file, internal}] and a list of sort criteria, prints
 * {"sort": {criteria: [uid…]}, "thread": {"ORDEREDSUBJECT": text, "REFERENCES": text}} (UIDs, RFC 5256 §5 syntax).
 */
const PYTHON_REFERENCE = String.raw`
import base64, datetime, email, email.utils, json, re, sys
from email import policy

def unfold(value):
    return re.sub(r'\r?\n(?=[ \t])', '', value)

ENCODED_WORD = re.compile(r'=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=')

def decode_words(value):
    # RFC 2047 §4 encodings; §6.2: white space between adjacent encoded-words is not displayed.
    out, pos, after_word = [], 0, False
    for m in ENCODED_WORD.finditer(value):
        gap = value[pos:m.start()]
        if not (after_word and gap.strip(' \t\r\n') == ''):
            out.append(gap)
        charset, kind, text = m.group(1).split('*')[0], m.group(2).upper(), m.group(3)
        try:
            if kind == 'B':
                data = base64.b64decode(text + '=' * (-len(text) % 4))
            else:
                data = re.sub(rb'=([0-9A-Fa-f]{2})', lambda h: bytes([int(h.group(1), 16)]), text.replace('_', ' ').encode('ascii'))
            out.append(data.decode(charset))
            after_word = True
        except (LookupError, UnicodeDecodeError, ValueError):
            out.append(m.group(0))
            after_word = False
        pos = m.end()
    out.append(value[pos:])
    return ''.join(out)

def casemap(s):
    # i;ascii-casemap: only a-z fold.
    return ''.join(chr(ord(c) - 32) if 'a' <= c <= 'z' else c for c in s)

def blob_at(s, i):
    # subj-blob = "[" *BLOBCHAR "]" *WSP ; returns its length or 0
    if i >= len(s) or s[i] != '[':
        return 0
    j = i + 1
    while j < len(s) and s[j] not in '[]':
        j += 1
    if j >= len(s) or s[j] != ']':
        return 0
    j += 1
    while j < len(s) and s[j] == ' ':
        j += 1
    return j - i

def refwd_at(s, i):
    # subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
    low = s.lower()
    if low.startswith('re', i):
        j = i + 2
    elif low.startswith('fwd', i):
        j = i + 3
    elif low.startswith('fw', i):
        j = i + 2
    else:
        return 0
    while j < len(s) and s[j] == ' ':
        j += 1
    j += blob_at(s, j)
    return j + 1 - i if j < len(s) and s[j] == ':' else 0

def base_subject(raw):
    # RFC 5256 §2.1 steps (1)-(7); also whether a subj-refwd, "(fwd)" or "[fwd:" ... "]" was removed.
    s = decode_words(unfold(raw))
    s = re.sub(' +', ' ', s.replace('\t', ' ').replace('\r', ' ').replace('\n', ' '))
    reply = False
    while True:
        while True:  # (2)
            if s.endswith(' '):
                s = s[:-1]
            elif s.lower().endswith('(fwd)'):
                s, reply = s[:-5], True
            else:
                break
        while True:  # (5) = repeat (3) and (4)
            before = s
            while True:  # (3) subj-leader = (*subj-blob subj-refwd) / WSP
                if s.startswith(' '):
                    s = s[1:]
                    continue
                i = 0
                while blob_at(s, i):
                    i += blob_at(s, i)
                n = refwd_at(s, i)
                if not n:
                    break
                s, reply = s[i + n:], True
            n = blob_at(s, 0)  # (4)
            if n and len(s) > n:
                s = s[n:]
            if s == before:
                break
        if s.lower().startswith('[fwd:') and s.endswith(']') and len(s) >= 6:  # (6)
            s, reply = s[5:-1], True
            continue
        return s, reply

def first_address(msg, name, modern):
    value = msg.get(name)
    if value is None:
        return None
    # RFC 3501 §7.4.2 ENVELOPE: a group comes first as a marker (addr-mailbox = the group name, no name or host).
    groups = modern[name].groups if modern[name] is not None else ()
    if groups and groups[0].display_name is not None:
        return '', decode_words(groups[0].display_name).strip(), ''
    pairs = [p for p in email.utils.getaddresses([unfold(value)]) if p[0] or p[1]]
    if not pairs:
        return None
    display, addr = pairs[0]
    mailbox, _, host = addr.rpartition('@') if '@' in addr else (addr, '', '')
    return decode_words(display).strip(), mailbox, host

def display_value(a):
    # RFC 5957 §3
    if a is None:
        return ''
    if a[0]:
        return a[0]
    return a[1] + '@' + a[2] if a[1] and a[2] else a[1]

def sent_date(msg, internal):
    # RFC 5256 §2.2: the Date: header (zone applied); unparseable or missing → the internal date.
    value = msg.get('Date')
    if value is not None:
        try:
            dt = email.utils.parsedate_to_datetime(re.sub(r'\([^)]*\)', ' ', unfold(value)).strip())
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=datetime.timezone.utc)
            if 0 < dt.year <= 9999:
                return dt.timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    return internal

def ids(value):
    return re.findall(r'<[^<>\s]+>', value or '')

manifest = json.load(open(sys.argv[1]))
criteria = json.load(open(sys.argv[2]))
msgs = []
for entry in manifest:
    raw = open(entry['file'], 'rb').read()
    msg = email.message_from_bytes(raw, policy=policy.compat32)
    internal = datetime.datetime.fromisoformat(entry['internal'].replace('Z', '+00:00')).timestamp()
    subject, reply = base_subject(msg.get('Subject') or '')
    modern = email.message_from_bytes(raw, policy=policy.default)
    frm, to, cc = first_address(msg, 'From', modern), first_address(msg, 'To', modern), first_address(msg, 'Cc', modern)
    refs = ids(unfold(msg.get('References') or ''))
    if not refs:
        refs = ids(unfold(msg.get('In-Reply-To') or ''))[:1]
    mid = ids(unfold(msg.get('Message-ID') or ''))
    msgs.append({
        'uid': entry['uid'], 'size': len(raw), 'arrival': internal, 'date': sent_date(msg, internal),
        'SUBJECT': casemap(subject), 'reply': reply,
        'FROM': casemap(frm[1] if frm else ''), 'TO': casemap(to[1] if to else ''), 'CC': casemap(cc[1] if cc else ''),
        'DISPLAYFROM': casemap(display_value(frm)), 'DISPLAYTO': casemap(display_value(to)),
        'mid': mid[0] if mid else None, 'refs': refs,
    })

KEY = {
    'ARRIVAL': lambda m: m['arrival'], 'DATE': lambda m: m['date'], 'SIZE': lambda m: m['size'],
    'SUBJECT': lambda m: m['SUBJECT'], 'FROM': lambda m: m['FROM'], 'TO': lambda m: m['TO'], 'CC': lambda m: m['CC'],
    'DISPLAYFROM': lambda m: m['DISPLAYFROM'], 'DISPLAYTO': lambda m: m['DISPLAYTO'],
}

def sort(spec):
    # RFC 5256 §3: keys in turn, REVERSE per key; equal messages stay in mailbox order (stable sorts, last key first).
    items = sorted(msgs, key=lambda m: m['uid'])
    words = spec.split(' ')
    keys, i = [], 0
    while i < len(words):
        if words[i] == 'REVERSE':
            keys.append((words[i + 1], True)); i += 2
        else:
            keys.append((words[i], False)); i += 1
    for name, rev in reversed(keys):
        items.sort(key=KEY[name], reverse=rev)
    return [m['uid'] for m in items]

def render(threads):
    # RFC 5256 §5 thread-list; dummies (uid None) only carry nested lists.
    def chain(node):
        parts = [] if node['uid'] is None else [str(node['uid'])]
        kids = node['kids']
        while len(kids) == 1:
            node = kids[0]
            if node['uid'] is not None:
                parts.append(str(node['uid']))
            kids = node['kids']
        text = ' '.join(parts)
        if kids:
            text += (' ' if parts else '') + ''.join('(' + chain(k) + ')' for k in kids)
        return text
    return ''.join('(' + chain(t) + ')' for t in threads)

def when(m):
    return (m['date'], m['uid'])

def ordered_subject():
    groups = {}
    for m in msgs:
        groups.setdefault(m['SUBJECT'], []).append(m)
    threads = sorted((sorted(g, key=when) for g in groups.values()), key=lambda g: when(g[0]))
    return [{'uid': g[0]['uid'], 'kids': [{'uid': m['uid'], 'kids': []} for m in g[1:]]} for g in threads]

def references():
    nodes = {}       # message-id → container
    containers = []
    def new(msg):
        c = {'msg': msg, 'parent': None, 'kids': []}
        containers.append(c)
        return c
    def descends(a, b):  # a is b or below b
        while a is not None:
            if a is b:
                return True
            a = a['parent']
        return False
    def attach(parent, child):
        child['parent'] = parent
        parent['kids'].append(child)
    def detach(child):
        if child['parent'] is not None:
            child['parent']['kids'].remove(child)
            child['parent'] = None
    for m in sorted(msgs, key=lambda m: m['uid']):
        c = nodes.get(m['mid']) if m['mid'] else None
        if c is not None and c['msg'] is None:
            c['msg'] = m
        else:
            c = new(m)
            if m['mid'] and m['mid'] not in nodes:
                nodes[m['mid']] = c
        refs = []
        for r in m['refs']:
            if r not in nodes:
                nodes[r] = new(None)
            refs.append(nodes[r])
        for a, b in zip(refs, refs[1:]):  # (1.A)
            if b['parent'] is None and not descends(a, b):
                attach(a, b)
        detach(c)  # (1.B)
        if refs and not descends(refs[-1], c):
            attach(refs[-1], c)
    root = {'msg': None, 'parent': None, 'kids': []}
    for c in containers:  # (2)
        if c['parent'] is None and (c['msg'] is not None or c['kids']):
            attach(root, c)
    def prune(parent):  # (3)
        kept = []
        for c in parent['kids']:
            prune(c)
            if c['msg'] is not None:
                kept.append(c)
            elif not c['kids']:
                continue
            elif parent is not root or len(c['kids']) == 1:
                for k in c['kids']:
                    k['parent'] = parent
                    kept.append(k)
            else:
                kept.append(c)
        parent['kids'] = kept
    prune(root)
    def key(c):
        return when(c['msg'] if c['msg'] is not None else c['kids'][0]['msg'])
    for c in root['kids']:  # (4)
        if c['msg'] is None:
            c['kids'].sort(key=key)
    root['kids'].sort(key=key)
    def subject(c):
        m = c['msg'] if c['msg'] is not None else c['kids'][0]['msg']
        return m['SUBJECT']
    table = {}  # (5.A, 5.B)
    for c in root['kids']:
        s = subject(c)
        if not s:
            continue
        t = table.get(s)
        if t is None or (t['msg'] is not None and (c['msg'] is None or (t['msg']['reply'] and not c['msg']['reply']))):
            table[s] = c
    for c in list(root['kids']):  # (5.C)
        if c['parent'] is not root:
            continue
        s = subject(c)
        if not s or table[s] is c:
            continue
        t = table[s]
        if t['msg'] is None and c['msg'] is None:
            for k in list(c['kids']):
                detach(k)
                attach(t, k)
            detach(c)
        elif t['msg'] is None or (c['msg'] is not None and c['msg']['reply'] and not t['msg']['reply']):
            detach(c)
            attach(t, c)
        else:
            d = {'msg': None, 'parent': None, 'kids': []}
            at = root['kids'].index(t)
            detach(c)
            detach(t)
            attach(d, t)
            attach(d, c)
            d['parent'] = root
            root['kids'].insert(at, d)
            table[s] = d
    def sort_all(c):  # (6)
        for k in c['kids']:
            sort_all(k)
        c['kids'].sort(key=key)
    sort_all(root)
    def out(c):
        return {'uid': c['msg']['uid'] if c['msg'] is not None else None, 'kids': [out(k) for k in c['kids']]}
    return [out(c) for c in root['kids']]

result = {
    'sort': {spec: sort(spec) for spec in criteria},
    'thread': {'ORDEREDSUBJECT': render(ordered_subject()), 'REFERENCES': render(references())},
}
# The same over the messages a search matched (UID 1:150): references outside it become dummies.
msgs = [m for m in msgs if m['uid'] <= 150]
result['subset'] = {'ORDEREDSUBJECT': render(ordered_subject()), 'REFERENCES': render(references())}
print(json.dumps(result))
`;

/** Messages the generator does not write: RFC 5256 §2.1 subject artifacts, broken dates, threading corner cases. */
const ODD: readonly Record<string, string>[] = [
  { Subject: 'Re: Re: [list] Fwd: hello (fwd)', From: 'Odd One <odd1@example.test>', 'Message-ID': '<odd1@x>' },
  { Subject: '[fwd: Re: hello]', From: 'odd2@example.test', 'Message-ID': '<odd2@x>', Date: 'garbage' },
  { Subject: '=?utf-8?B?UmU6IMOcYmVy?=', From: '=?utf-8?q?=C3=9Cber_Mann?= <uber@example.test>', 'Message-ID': '<odd3@x>' },
  { Subject: 're:   hello\tworld', From: '"Zed, Quoted" <zed@example.test>', 'Message-ID': '<odd4@x>', References: '<odd1@x>' },
  { Subject: '[PATCH] [v2] thing', From: 'patch@example.test', 'Message-ID': '<odd5@x>' },
  { Subject: '[only-blob]', To: 'undisclosed-recipients:;', 'Message-ID': '<odd6@x>' },
  { Subject: 'team', To: 'Team: zz@example.test, B <b@example.test>;, c@example.test', Cc: 'Alpha: ;', 'Message-ID': '<odd6b@x>' },
  { Subject: 'Fw: FWD: fwd:', 'Message-ID': '<odd7@x>' },
  { Subject: '(fwd) hello', 'Message-ID': '<odd8@x>', Date: 'Mon, 1 Jan 2024 10:00:00 -1200' },
  { Subject: 'hello (FWD)  (fwd)', 'Message-ID': '<odd9@x>', Date: 'Mon, 1 Jan 2024 10:00:00 +1400' },
  { Subject: '[fwd: [fwd: nested]]', 'Message-ID': '<odd10@x>' },
  { Subject: 'Re[2]: numbered', 'Message-ID': '<odd11@x>', 'In-Reply-To': '<missing-parent@x>' },
  { Subject: 'Re : spaced', 'Message-ID': '<odd12@x>', 'In-Reply-To': '<missing-parent@x>' },
  { Subject: 'numbered', 'Message-ID': '<odd13@x>' },
  { From: 'nosubject@example.test', 'Message-ID': '<odd14@x>' },
  { Subject: '=?iso-8859-1?q?caf=E9?= =?iso-8859-1?q?_au_lait?=', 'Message-ID': '<odd15@x>', Cc: 'A <cc-a@example.test>, b@example.test' },
  // Duplicate and missing Message-IDs, a reference loop, a reply that names its grandparent only.
  { Subject: 'dup', 'Message-ID': '<odd5@x>' },
  { Subject: 'no id at all' },
  { Subject: 'loop a', 'Message-ID': '<loop-a@x>', References: '<loop-b@x>' },
  { Subject: 'loop b', 'Message-ID': '<loop-b@x>', References: '<loop-a@x>' },
  { Subject: 'Re: hello', 'Message-ID': '<odd20@x>', References: '<odd1@x> <gone@x> <odd4@x>' },
  { Subject: 'spaced\r\n  out   subject', 'Message-ID': '<odd21@x>', Date: 'Tue, 2 Jan 2024 00:00:00 GMT (comment)' },
  { Subject: 'numbered', 'Message-ID': '<odd22@x>', Date: 'Sun, 31 Dec 2023 23:00:00 +0000' },
  // Subject merging (step 5): an earlier reply and a later non-reply with one subject → the reply goes under it.
  { Subject: 'Re: solo', 'Message-ID': '<solo1@x>', Date: 'Mon, 1 Jan 2024 08:00:00 +0000' },
  { Subject: 'solo', 'Message-ID': '<solo2@x>', Date: 'Tue, 2 Jan 2024 08:00:00 +0000' },
  { Subject: 'Fwd: solo', 'Message-ID': '<solo3@x>', Date: 'Wed, 3 Jan 2024 08:00:00 +0000' },
];

/**
 * Conversations for REFERENCES (RFC 5256 §4): each reply names its ancestors in full, truncated, or only through
 * In-Reply-To; some roots are missing (dummies), some threads share a subject without references (subject
 * merging, reply vs non-reply), dates are out of reply order. Deterministic (seeded).
 */
function conversations(seed: number): Record<string, string>[] {
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const out: Record<string, string>[] = [];
  for (let t = 0; t < 24; t++) {
    const topic = `topic ${t % 9}`; // threads 0, 9, 18 … share a subject
    const ids: string[] = [];
    const chains: string[][] = [];
    const size = 2 + Math.floor(random() * 6);
    for (let i = 0; i < size; i++) {
      const id = `<c${t}.${i}@conv>`;
      const parent = i === 0 ? -1 : Math.floor(random() * i);
      const chain = parent < 0 ? [] : [...chains[parent]!, ids[parent]!];
      ids.push(id);
      chains.push(chain);
      if (i === 0 && t % 4 === 3) continue; // the root never arrived: its replies hang from a dummy
      const headers: Record<string, string> = {
        Subject: i === 0 ? pick([topic, `[list] ${topic}`]) : pick([`Re: ${topic}`, `RE: [list] ${topic}`, `Fwd: ${topic}`, `${topic} (fwd)`, topic]),
        From: pick(['Ann <ann@example.test>', 'bob@example.test', '=?utf-8?q?J=C3=B6rg?= <joerg@example.test>']),
        'Message-ID': id,
        Date: `Thu, ${String(1 + Math.floor(random() * 28)).padStart(2, '0')} Feb 2024 ${String(Math.floor(random() * 24)).padStart(2, '0')}:00:00 +0000`,
      };
      const style = random();
      if (chain.length > 0) {
        if (style < 0.5) headers.References = chain.join(' ');
        else if (style < 0.75) headers.References = chain.slice(-1).join(' ');
        else headers['In-Reply-To'] = chain[chain.length - 1]!;
      }
      out.push(headers);
    }
  }
  // Arrival order is not reply order.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function oddMessage(headers: Record<string, string>, n: number): Buffer {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  if (!('Date' in headers) && n % 3 !== 0) lines.push(`Date: Wed, ${String(1 + (n % 27)).padStart(2, '0')} Mar 2023 12:00:00 +0100`);
  return Buffer.from([...lines, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', `odd message ${n}`, ''].join('\r\n'));
}

/** Criteria checked (the same text goes into SORT and into the reference). */
const CRITERIA = [
  'ARRIVAL', 'DATE', 'REVERSE DATE', 'SUBJECT', 'REVERSE SUBJECT DATE', 'FROM', 'TO', 'CC', 'SIZE', 'REVERSE SIZE',
  'DISPLAYFROM', 'DISPLAYTO', 'SUBJECT REVERSE ARRIVAL', 'FROM SUBJECT', 'REVERSE CC REVERSE ARRIVAL',
];

function sortKeys(spec: string): SortKey[] {
  const words = spec.split(' ');
  const keys: SortKey[] = [];
  for (let i = 0; i < words.length; i++) {
    const reverse = words[i] === 'REVERSE';
    if (reverse) i++;
    keys.push({ key: words[i] as SortKeyName, reverse });
  }
  return keys;
}

interface Expected {
  readonly sort: Record<string, number[]>;
  readonly thread: Record<'ORDEREDSUBJECT' | 'REFERENCES', string>;
  /** Threads of the messages with UID 1:150 only. */
  readonly subset: Record<'ORDEREDSUBJECT' | 'REFERENCES', string>;
}

let fx: ImapFixture;
let mailbox: Mailbox;
let user: { address: string; password: string };
let workDir: string;
let expected: Expected;
let total = 0;

before(async () => {
  if (optOut) return;
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-sort-'));
  const corpusDir = path.join(workDir, 'eml');
  await promisify(execFile)('python3', [sharedPath('bench/gen-corpus.py'), String(COUNT), corpusDir, '--format', 'eml', '--seed', String(SEED)]);
  const files = fs.readdirSync(corpusDir).filter((n) => n.endsWith('.eml')).sort().map((n) => path.join(corpusDir, n));
  [...ODD, ...conversations(SEED)].forEach((headers, i) => {
    const file = path.join(workDir, `odd-${String(i).padStart(3, '0')}.eml`);
    fs.writeFileSync(file, oddMessage(headers, i));
    // Spread among the corpus so they are not all at the end of the mailbox.
    files.splice(Math.min(files.length, 7 + i * 3), 0, file);
  });
  fx = await startImapFixture({ plaintextLoginOnLoopback: true, logLevel: 'warn' });
  user = await fx.addUser('sorter', 500 * 1024 * 1024);
  mailbox = await fx.mailboxOf(user.address, user.password);
  mailbox.createFolder(FOLDER);
  const manifest: { uid: number; file: string; internal: string }[] = [];
  const base = Date.UTC(2023, 0, 1);
  for (const [i, file] of files.entries()) {
    // Internal dates out of file order, with repeats (every 97th) so ARRIVAL ties must fall back to UID order.
    const internal = new Date(base + ((i * 37) % 97) * 60_000);
    const { uid } = await mailbox.append(FOLDER, fs.readFileSync(file), { internalDate: internal });
    manifest.push({ uid, file, internal: internal.toISOString() });
  }
  total = manifest.length;
  const manifestFile = path.join(workDir, 'manifest.json');
  const criteriaFile = path.join(workDir, 'criteria.json');
  const script = path.join(workDir, 'reference.py');
  fs.writeFileSync(manifestFile, JSON.stringify(manifest));
  fs.writeFileSync(criteriaFile, JSON.stringify(CRITERIA));
  fs.writeFileSync(script, PYTHON_REFERENCE);
  const { stdout } = await promisify(execFile)('python3', [script, manifestFile, criteriaFile], { maxBuffer: 64 * 1024 * 1024 });
  expected = JSON.parse(stdout) as Expected;
});

after(async () => {
  if (optOut) return;
  await fx?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

async function session(): Promise<RawImap> {
  const r = await RawImap.connect(fx.port);
  assert.match((await r.command(`LOGIN "${user.address}" "${user.password}"`)).tagged, /^t1 OK/);
  assert.match((await r.command(`SELECT ${FOLDER}`)).tagged, /^t2 OK/);
  return r;
}

/** The numbers of the one `* <name> …` line of a reply. */
function numbersOf(lines: readonly string[], name: string): number[] {
  const line = lines.find((l) => l.startsWith(`* ${name}`));
  assert.ok(line !== undefined, `a * ${name} line in ${JSON.stringify(lines)}`);
  const rest = line.slice(name.length + 2).trim();
  return rest ? rest.split(' ').map(Number) : [];
}

describe('RFC 5256 SORT and THREAD against an independent Python reference', { skip: optOut ?? false }, () => {
  it('RFC 5256 §2.1/§3, RFC 5957: the store sorts every criterion as the reference does', () => {
    for (const spec of CRITERIA) {
      assert.deepEqual(mailbox.sort(FOLDER, sortKeys(spec), { op: 'all' }), expected.sort[spec], `SORT (${spec})`);
    }
  });

  it('RFC 5256 §4: the store threads ORDEREDSUBJECT and REFERENCES as the reference does', () => {
    for (const algorithm of ['ORDEREDSUBJECT', 'REFERENCES'] as const) {
      assert.equal(threadText(mailbox.thread(FOLDER, algorithm, { op: 'all' }), (u) => u), expected.thread[algorithm], algorithm);
      const subset = mailbox.thread(FOLDER, algorithm, { op: 'uid', uids: [[1, 150]] });
      assert.equal(threadText(subset, (u) => u), expected.subset[algorithm], `${algorithm} over UID 1:150`);
    }
  });

  it('RFC 5256 §3: UID SORT and SORT over the socket answer in the reference order (sequence numbers = UIDs here)', async () => {
    const r = await session();
    try {
      const caps = (await r.command('CAPABILITY')).lines.join(' ');
      for (const name of ['SORT', 'SORT=DISPLAY', 'ESORT', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES']) {
        assert.ok(caps.split(' ').includes(name), `${name} advertised`);
      }
      for (const spec of CRITERIA) {
        const reply = await r.command(`UID SORT (${spec}) UTF-8 ALL`);
        assert.match(reply.tagged, /OK/);
        assert.deepEqual(numbersOf(reply.lines, 'SORT'), expected.sort[spec], `UID SORT (${spec})`);
      }
      const plain = await r.command('SORT (REVERSE DATE) US-ASCII ALL');
      assert.deepEqual(numbersOf(plain.lines, 'SORT'), expected.sort['REVERSE DATE']);
      // Restricted by search keys: only the matching messages, still in sort order.
      const some = await r.command('UID SORT (SUBJECT) UTF-8 UID 1:60 NOT UID 10:20');
      const allowed = new Set([...Array(60).keys()].map((i) => i + 1).filter((u) => u < 10 || u > 20));
      assert.deepEqual(numbersOf(some.lines, 'SORT'), expected.sort.SUBJECT!.filter((u) => allowed.has(u)));
    } finally {
      r.close();
    }
  });

  it('RFC 5256 §4: THREAD ORDEREDSUBJECT and REFERENCES over the socket give the reference thread lists', async () => {
    const r = await session();
    try {
      for (const algorithm of ['ORDEREDSUBJECT', 'REFERENCES'] as const) {
        const reply = await r.command(`UID THREAD ${algorithm} UTF-8 ALL`);
        assert.match(reply.tagged, /OK/);
        assert.deepEqual(reply.lines, [`* THREAD ${expected.thread[algorithm]}`], algorithm);
      }
      for (const algorithm of ['ORDEREDSUBJECT', 'REFERENCES'] as const) {
        const reply = await r.command(`UID THREAD ${algorithm} UTF-8 UID 1:150`);
        assert.deepEqual(reply.lines, [`* THREAD ${expected.subset[algorithm]}`], `${algorithm} over UID 1:150`);
      }
      const none = await r.command('THREAD REFERENCES UTF-8 SUBJECT "zq-not-anywhere"');
      assert.deepEqual(none.lines, ['* THREAD']);
    } finally {
      r.close();
    }
  });

  it('RFC 5267 §3: SORT RETURN (MIN MAX COUNT ALL) answers one ESEARCH in sort order', async () => {
    const r = await session();
    try {
      const order = expected.sort['REVERSE SIZE']!;
      const reply = await r.command('UID SORT RETURN (MIN MAX COUNT) (REVERSE SIZE) UTF-8 ALL');
      assert.deepEqual(reply.lines, [`* ESEARCH (TAG "t3") UID MIN ${order[0]} MAX ${order[order.length - 1]} COUNT ${total}`]);
      const all = await r.command('UID SORT RETURN (ALL) (REVERSE SIZE) UTF-8 UID 1:5');
      const first5 = order.filter((u) => u <= 5);
      const line = all.lines[0] ?? '';
      assert.match(line, /^\* ESEARCH \(TAG "t4"\) UID ALL /);
      const listed = line.replace(/^.* ALL /, '').split(',').flatMap((part) => {
        const [a, b] = part.split(':').map(Number) as [number, number | undefined];
        if (b === undefined) return [a];
        const out: number[] = [];
        for (let u = a; a <= b ? u <= b : u >= b; u += a <= b ? 1 : -1) out.push(u);
        return out;
      });
      assert.deepEqual(listed, first5);
      const empty = await r.command('SORT RETURN () (DATE) UTF-8 SUBJECT "zq-not-anywhere"');
      assert.deepEqual(empty.lines, ['* ESEARCH (TAG "t5")']);
    } finally {
      r.close();
    }
  });

  it('RFC 5256 §3: an unknown charset is NO [BADCHARSET (UTF-8 US-ASCII)]; bad criteria and algorithms are BAD', async () => {
    const r = await session();
    try {
      assert.match((await r.command('SORT (DATE) KOI8-R ALL')).tagged, /^t3 NO \[BADCHARSET \(UTF-8 US-ASCII\)\]/);
      assert.match((await r.command('THREAD REFERENCES KOI8-R ALL')).tagged, /^t4 NO \[BADCHARSET \(UTF-8 US-ASCII\)\]/);
      assert.match((await r.command('SORT (SHOESIZE) UTF-8 ALL')).tagged, /^t5 BAD/);
      assert.match((await r.command('SORT () UTF-8 ALL')).tagged, /^t6 BAD/);
      assert.match((await r.command('SORT DATE UTF-8 ALL')).tagged, /^t7 BAD/);
      assert.match((await r.command('SORT (DATE) UTF-8')).tagged, /^t8 BAD/);
      assert.match((await r.command('SORT (REVERSE) UTF-8 ALL')).tagged, /^t9 BAD/);
      assert.match((await r.command('THREAD JWZ UTF-8 ALL')).tagged, /^t10 BAD/);
      assert.match((await r.command('SORT RETURN (FOO) (DATE) UTF-8 ALL')).tagged, /^t11 BAD/);
      assert.match((await r.command('NOOP')).tagged, /^t12 OK/, 'the session goes on');
    } finally {
      r.close();
    }
  });
});
