// The conversation-script runner itself: parsing (literals, tags, errors with line numbers) and that a script
// which disagrees with the server fails with the script line, the expected and the actual line.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseScript, runScript, ScriptError, ScriptMismatch, type Step } from './script-runner.js';
import { startSealpostPeer } from './sealpost-peer.js';

const sends = (steps: readonly Step[]): string[] => steps.flatMap((s) => (s.kind === 'send' ? [s.text] : []));

test('script parser: a synchronising literal waits for the + line, then its bytes and the rest of the command are sent', () => {
  const script = parseScript(
    ['# RFC 3501 §4.3: literal', '@user alice', '@session a login alice', 'a1 APPEND INBOX {7}', '+ {{any}}', 'ab', 'cd) (\\Seen)', 'a1 OK {{any}}'].join('\n'),
    'x.imap',
  );
  assert.equal(script.title, 'RFC 3501 §4.3: literal');
  // "ab" CRLF "cd)" is 7 bytes; " (\Seen)" continues the command.
  assert.deepEqual(sends(script.steps), ['a1 APPEND INBOX {7}\r\n', 'ab\r\ncd)', ' (\\Seen)\r\n']);
  const expects = script.steps.filter((s) => s.kind === 'expect');
  assert.equal(expects.length, 2);
});

test('script parser: a non-synchronising literal is sent at once; IDLE data lines register no tag', () => {
  const script = parseScript(
    ['# t', '@session a', 'a1 LOGIN {3+}', 'bob x', 'a1 OK {{any}}', 'a2 IDLE', '+ {{any}}', 'DONE', 'a2 OK {{any}}'].join('\n'),
    'x.imap',
  );
  assert.deepEqual(sends(script.steps), ['a1 LOGIN {3+}\r\n', 'bob', ' x\r\n', 'a2 IDLE\r\n', 'DONE\r\n']);
  const tagged = script.steps.flatMap((s) => (s.kind === 'expect' ? s.patterns.filter((p) => p.tagged).map((p) => p.text) : []));
  assert.deepEqual(tagged, ['a1 OK {{any}}', 'a2 OK {{any}}']);
});

test('script parser: a literal ending inside a line break, an unknown directive and a missing session name their line', () => {
  assert.throws(() => parseScript('# t\n@session a\na1 APPEND INBOX {3+}\nab\nc\n', 'bad.imap'), (e: unknown) => e instanceof ScriptError && /bad\.imap:3: literal of 3 bytes ends inside a line break/.test(e.message));
  assert.throws(() => parseScript('# t\n@frobnicate\n', 'bad.imap'), /bad\.imap:2: unknown directive @frobnicate/);
  assert.throws(() => parseScript('# t\na1 NOOP\n', 'bad.imap'), /bad\.imap:2: no @session yet/);
  assert.throws(() => parseScript('@session a\n', 'bad.imap'), /first comment line must name the RFC section/);
});

let peer: Awaited<ReturnType<typeof startSealpostPeer>> | null = null;
before(async () => {
  peer = await startSealpostPeer();
});
after(async () => {
  await peer?.close();
});

const NOOP_SCRIPT = (expected: string): string =>
  ['# t', '@user alice', '@deliver alice INBOX', 'Subject: x', '', 'y', '@end', '@session a login alice', 'a1 SELECT INBOX', expected, 'a1 OK [READ-WRITE] {{any}}'].join('\n');

test('script runner: a script that matches the server passes; wildcards and remembered numbers work', async () => {
  const script = parseScript(
    [
      '# t',
      '@user alice',
      '@deliver alice INBOX (\\Flagged)',
      'Subject: x',
      '',
      'y',
      '@end',
      '@session a login alice',
      'a1 SELECT INBOX',
      '@unordered',
      '* OK [UIDVALIDITY {{n:uv}}] {{any}}',
      '* 1 EXISTS',
      '@end',
      'a1 OK [READ-WRITE] {{any}}',
      'a2 UID FETCH 1 (UID FLAGS)',
      '* 1 FETCH (UID 1 FLAGS ({{has:\\Flagged}}))',
      'a2 OK {{any}}',
      'a3 STATUS INBOX (UIDVALIDITY)',
      '* STATUS {{q:INBOX}} (UIDVALIDITY {{$uv}})',
      'a3 OK {{any}}',
    ].join('\n'),
    'ok.imap',
  );
  await runScript(script, peer!);
});

test('script runner: a wrong expectation fails with the script line, the expected and the actual line', async () => {
  const script = parseScript(NOOP_SCRIPT('* 7 EXISTS'), 'wrong.imap');
  await assert.rejects(runScript(script, peer!, { timeoutMs: 2000 }), (e: unknown) => {
    assert.ok(e instanceof ScriptMismatch);
    assert.match(e.message, /wrong\.imap:10: expected "\* 7 EXISTS"/);
    assert.match(e.message, /actual {3}"a1 OK \[READ-WRITE\]/);
    return true;
  });
});

test('script runner: an @absent line that the server sends fails the script at the @absent line', async () => {
  const script = parseScript(NOOP_SCRIPT('@absent * {{n}} EXISTS'), 'absent.imap');
  await assert.rejects(runScript(script, peer!, { timeoutMs: 2000 }), /absent\.imap:10: must not appear: "\* \{\{n\}\} EXISTS"\n {2}but the server sent "\* 1 EXISTS"/);
});

test('script runner: a line the server never sends fails after the timeout, not by hanging', async () => {
  const script = parseScript(['# t', '@user alice', '@session a login alice', 'a1 IDLE', '+ {{any}}', '* 1 EXISTS'].join('\n'), 'quiet.imap');
  await assert.rejects(runScript(script, peer!, { timeoutMs: 300 }), /quiet\.imap:6: expected "\* 1 EXISTS" \(line 6\), the server sent nothing within 300 ms/);
});
