// RFC 2231 parameters over a real IMAP socket: messages APPENDed to a Sealpost mailbox, FETCH BODYSTRUCTURE read as
// raw bytes (what is on the wire) and through imapflow (the names a mail client shows). Hostile parameters keep
// the session answering.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow, type MessageStructureObject } from 'imapflow';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';
import { RawImap } from '../helpers/imap-raw.js';
import { findPlaintext } from '../helpers/privacy.js';
import { HOSTILE_DISPOSITIONS, PARAMETER_CASES, attachmentMessage } from '../helpers/rfc2231.js';

let fx: ImapFixture;
let alice: { address: string; password: string };
let session: RawImap;

/** An IMAP quoted string for a 7-bit value (RFC 3501 §4.3). */
const quoted = (s: string): string => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
const list = (items: readonly string[] | null): string => (items ? `(${items.map(quoted).join(' ')})` : 'NIL');

async function append(raw: Buffer): Promise<number> {
  const reply = await session.commandWithLiteral('APPEND INBOX', raw);
  assert.match(reply.tagged, /^t\d+ OK/, reply.tagged);
  const uid = /APPENDUID \d+ (\d+)/.exec(reply.tagged)?.[1];
  assert.ok(uid, 'APPENDUID');
  // The selected session learns of the new message (EXISTS) before it can FETCH it.
  assert.match((await session.command('NOOP')).tagged, /^t\d+ OK/);
  return Number(uid);
}

async function bodyStructureLine(uid: number): Promise<string> {
  const reply = await session.command(`UID FETCH ${uid} (BODYSTRUCTURE)`);
  assert.match(reply.tagged, /^t\d+ OK/);
  const line = reply.lines.find((l) => l.includes('BODYSTRUCTURE'));
  assert.ok(line, `a FETCH response with BODYSTRUCTURE: ${JSON.stringify(reply)}`);
  return line;
}

before(async () => {
  fx = await startImapFixture();
  alice = await fx.addUser('alice');
  session = await RawImap.connect(fx.port);
  assert.match((await session.command(`LOGIN "${alice.address}" "${alice.password}"`)).tagged, /^t\d+ OK/);
  assert.match((await session.command('SELECT INBOX')).tagged, /^t\d+ OK/);
});

after(async () => {
  session?.close();
  await fx?.close();
});

describe('RFC 2231 parameters in FETCH BODYSTRUCTURE (RFC 3501 §7.4.2)', () => {
  const uids = new Map<string, number>();

  for (const c of PARAMETER_CASES) {
    it(`${c.title} (raw socket)`, async () => {
      const uid = await append(attachmentMessage(c, `Case ${uids.size + 1}`));
      uids.set(c.title, uid);
      const line = await bodyStructureLine(uid);
      // 7-bit on the wire: no literal needed, nothing decoded into 8-bit (the client decodes, as with Dovecot).
      assert.doesNotMatch(line, /[^\x20-\x7e\r\n]/, 'BODYSTRUCTURE is 7-bit');
      const disposition = c.disposition === null ? 'NIL' : `(${quoted(c.disposition.split(';')[0]?.toUpperCase() ?? '')} ${list(c.dispositionParams)})`;
      const attachment = `("APPLICATION" "PDF" ${list(c.typeParams)} NIL NIL "BASE64" 12 NIL ${disposition} NIL NIL)`;
      assert.ok(line.includes(attachment), `attachment part ${attachment} in ${line}`);
    });
  }

  it('imapflow shows every attachment under the name RFC 2231 / RFC 2047 gives it', async () => {
    const client = new ImapFlow({
      host: fx.host,
      port: fx.securePort,
      secure: true,
      tls: { ca: [fx.tls.certificatePem()], servername: 'localhost' },
      auth: { user: alice.address, pass: alice.password },
      logger: false,
    });
    await client.connect();
    try {
      await client.mailboxOpen('INBOX', { readOnly: true });
      for (const c of PARAMETER_CASES) {
        const uid = uids.get(c.title);
        assert.ok(uid, `${c.title} was appended`);
        const message = await client.fetchOne(String(uid), { bodyStructure: true }, { uid: true });
        assert.ok(message && message.bodyStructure);
        const part = message.bodyStructure.childNodes?.[1] as MessageStructureObject | undefined;
        assert.ok(part);
        const shown = part.dispositionParameters?.filename ?? part.parameters?.name;
        assert.equal(shown, c.fileName, c.title);
      }
    } finally {
      await client.logout();
    }
  });

  it('hostile parameters (10,000 sections, huge section numbers, bad escapes, unknown charsets): APPEND, FETCH and the session keep working', async () => {
    for (const h of HOSTILE_DISPOSITIONS) {
      const raw = attachmentMessage({ contentType: 'application/pdf', disposition: h.disposition }, 'Hostile');
      const uid = await append(raw);
      const line = await bodyStructureLine(uid);
      assert.match(line, /\("ATTACHMENT" \("FILENAME/, `${h.title}: the disposition is listed`);
      const body = await session.command(`UID FETCH ${uid} (BODY.PEEK[])`);
      assert.match(body.tagged, /^t\d+ OK/);
      assert.ok(body.lines.join('\r\n').includes(raw.toString('binary')), `${h.title}: BODY[] is the appended message`);
    }
    assert.match((await session.command('NOOP')).tagged, /^t\d+ OK/);
  });

  it('nothing of the names is stored in plaintext', () => {
    assert.deepEqual(findPlaintext(fx.dataDir, ['Rechnung', 'semi;colon.pdf', 'Long file name']), []);
  });
});
