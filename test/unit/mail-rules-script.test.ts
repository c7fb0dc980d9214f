// The mail rules / automatic reply form as a Sieve script: every generated script passes the Sieve checker,
// strings are quoted per RFC 5228 §2.4.2 (backslashes, quotes, unicode, line breaks), the form reads back from
// the script, and a script changed by anyone else does not read back as the form.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { checkSieve } from '../../server/sieve/index.js';
import { generateScript, MailRulesFormError, readForm, sieveQuote, type MailRulesForm } from '../../server/ops/mail-rules-script.js';

const vacationOff = { enabled: false, subject: '', text: '', days: 7 };
const form: MailRulesForm = {
  rules: [
    { field: 'from', match: 'contains', value: 'news@shop.example', action: 'move', folder: 'Shopping "deals" \\ 2026 — Ærø', stop: true },
    { field: 'subject', match: 'matches', value: '*invoice*', action: 'read', stop: false },
    { field: 'header', header: 'List-Id', match: 'is', value: 'a "quoted" \\ list', action: 'flag', stop: false },
    { field: 'to', match: 'contains', value: 'old@example.org', action: 'forward', address: 'me@example.net', stop: false },
    { field: 'subject', match: 'contains', value: 'SPAM', action: 'delete', stop: true },
  ],
  vacation: { enabled: true, subject: 'Away "until" Monday', text: 'I am away.\nBack on Monday — ünïcode \\ "quotes".', days: 3 },
};

describe('mail rules script', () => {
  test('RFC 5228 §2.4.2: quoted strings escape backslash and double quote and keep unicode; line breaks become CRLF', () => {
    assert.equal(sieveQuote('a\\b"c'), '"a\\\\b\\"c"');
    assert.equal(sieveQuote('Ærø 📬'), '"Ærø 📬"');
    assert.equal(sieveQuote('one\ntwo\r\nthree'), '"one\r\ntwo\r\nthree"');
  });

  test('a full form makes a script the Sieve checker accepts, with each rule and the vacation in it', () => {
    const script = generateScript(form);
    assert.deepEqual(checkSieve(script), { ok: true });
    assert.match(script, /^require \["fileinto", "imap4flags", "copy", "vacation"\];$/m);
    assert.ok(script.includes('fileinto "Shopping \\"deals\\" \\\\ 2026 — Ærø";'));
    assert.ok(script.includes('if header :is "List-Id" "a \\"quoted\\" \\\\ list" {'));
    assert.ok(script.includes('addflag "\\\\Seen";') && script.includes('addflag "\\\\Flagged";'));
    assert.ok(script.includes('redirect :copy "me@example.net";'));
    assert.ok(script.includes('discard;\r\n  stop;'));
    assert.ok(script.indexOf('vacation :days 3') < script.indexOf('if header'), 'the reply comes before any rule can stop');
  });

  test('the form reads back from its own script; an edited script reads back as nothing', () => {
    const script = generateScript(form);
    assert.deepEqual(readForm(script), form);
    assert.equal(readForm(script.replace('discard;', 'keep;')), null);
    assert.equal(readForm('keep;\r\n'), null);
    assert.equal(readForm('# sealpost-form: !!!\r\nkeep;\r\n'), null);
  });

  test('an empty form is a valid script; vacation alone needs only "vacation"', () => {
    assert.deepEqual(checkSieve(generateScript({ rules: [], vacation: vacationOff })), { ok: true });
    const only = generateScript({ rules: [], vacation: { enabled: true, subject: '', text: 'Away', days: 7 } });
    assert.deepEqual(checkSieve(only), { ok: true });
    assert.match(only, /^require \["vacation"\];\r\nvacation :days 7 "Away";\r\n$/m);
  });

  test('hostile: bad header names, empty folders, bad addresses, multi-line values and too many rules are refused in words', () => {
    const rule = { field: 'subject', match: 'contains', value: 'x', action: 'read', stop: false } as const;
    const bad = (r: object): MailRulesForm => ({ rules: [{ ...rule, ...r }], vacation: vacationOff });
    assert.throws(() => generateScript(bad({ field: 'header', header: 'Bad Name:' })), MailRulesFormError);
    assert.throws(() => generateScript(bad({ action: 'move', folder: '' })), /choose a folder/);
    assert.throws(() => generateScript(bad({ action: 'forward', address: 'nobody' })), /address to forward to/);
    assert.throws(() => generateScript(bad({ value: 'a\r\nstop;' })), /one line/);
    assert.throws(() => generateScript({ rules: Array.from({ length: 51 }, () => rule), vacation: vacationOff }), /At most 50/);
    assert.throws(() => generateScript({ rules: [], vacation: { enabled: true, subject: '', text: ' ', days: 7 } }), /reply text/);
    assert.throws(() => generateScript({ rules: [], vacation: { ...vacationOff, days: 0 } }), /Days between replies/);
  });
});
