// checkSieve: what a ManageSieve PUTSCRIPT or the admin is told about a script, with the line of the problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSieve, SIEVE_EXTENSIONS, SIEVE_LIMITS } from '../../server/sieve/index.js';

const bad = (text: string): { line: number; message: string } => {
  const r = checkSieve(text);
  assert.equal(r.ok, false, `expected an error for: ${text}`);
  const { line, message } = r as { line: number; message: string };
  return { line, message };
};

test('RFC 5228 §9 example scripts are accepted', () => {
  const s = `#
   # Example Sieve Filter
   # Declare any optional features or extension used by the script
   #
   require ["fileinto"];

   #
   # Handle messages from known mailing lists
   # Move messages from IETF filter discussion list to filter mailbox
   #
   if header :is "Sender" "owner-ietf-mta-filters@imc.org"
           {
           fileinto "filter";  # move to "filter" mailbox
           }
   #
   # Keep all messages to or from people in my company
   #
   elsif address :DOMAIN :is ["From", "To"] "example.com"
           {
           keep;               # keep in "In" mailbox
           }

   #
   # Try and catch unsolicited email.  If a message is not to me,
   # or it contains a subject known to be spam, file it away.
   #
   elsif anyof (NOT address :all :contains
                  ["To", "Cc", "Bcc"] "me@example.com",
                header :matches "subject"
                  ["*make*money*fast*", "*university*dipl*mas*"])
           {
           fileinto "spam";   # move to "spam" mailbox
           }
   else
           {
           # Move all other (non-company) mail to "personal"
           # mailbox.
           fileinto "personal";
           }
`;
  assert.deepEqual(checkSieve(s), { ok: true });
});

test('the capability list names what the interpreter runs', () => {
  for (const ext of ['fileinto', 'envelope', 'imap4flags', 'body', 'variables', 'vacation', 'copy']) assert.ok(SIEVE_EXTENSIONS.includes(ext));
  assert.ok(!SIEVE_EXTENSIONS.includes('reject'));
});

test('errors name the line: syntax, unknown command, missing require, wrong arguments (RFC 5228 §2.10.6)', () => {
  assert.equal(bad('keep;\nkeep\n').line, 3);
  assert.deepEqual(bad('keep;\n\nfrobnicate;'), { line: 3, message: 'Unknown command "frobnicate"' });
  assert.deepEqual(bad('\nfileinto "x";'), { line: 2, message: 'Command "fileinto" needs require "fileinto"' });
  assert.match(bad('require "fileinto";\nfileinto 5;').message, /must be a string/);
  assert.equal(bad('require "fileinto";\nfileinto 5;').line, 2);
  assert.match(bad('if header :is "a" {\n keep; }').message, /takes 2 arguments/);
  assert.match(bad('if size 10 { keep; }').message, /:over or :under/);
  assert.match(bad('require "nonsense";').message, /not supported/);
  assert.match(bad('keep;\nrequire "fileinto";').message, /before every other command/);
  assert.match(bad('else { keep; }').message, /must follow "if"/);
  assert.match(bad('if header :is :contains "a" "b" { keep; }').message, /cannot be combined/);
  assert.match(bad('if header :comparator "i;nope" "a" "b" { keep; }').message, /Unknown comparator/);
  assert.equal(bad('keep;\n"oops" \n /* never\n closed').line, 3);
  assert.equal(bad('keep;\n\nif true { keep; \n').line, 4);
  assert.match(bad('if exists "x" { vacation :days 3; }').message, /needs require "vacation"/);
  assert.match(bad('require "vacation"; vacation :days "x" "away";').message, /:days must be followed by a number/);
});

test('multi-line strings and comments parse (RFC 5228 §2.3, §2.4.2)', () => {
  assert.deepEqual(checkSieve('require "vacation";\nvacation text:\nI am away\n..dot\n.\n;\n/* c */ # d\n'), { ok: true });
});

test('hostile scripts are refused with a line: too large, too deeply nested, too long lists', () => {
  const huge = `# ${'x'.repeat(SIEVE_LIMITS.maxScriptBytes)}\nkeep;`;
  assert.match(bad(huge).message, /too large/);
  const deep = `${'if true {\n'.repeat(SIEVE_LIMITS.maxNesting + 5)}keep;${'}'.repeat(SIEVE_LIMITS.maxNesting + 5)}`;
  const r = bad(deep);
  assert.match(r.message, /Nested too deeply/);
  assert.equal(r.line, SIEVE_LIMITS.maxNesting);
  const deepTests = `if ${'not '.repeat(10_000)} true { keep; }`;
  assert.match(bad(deepTests).message, /Nested too deeply/);
  const deepLists = `if ${'anyof('.repeat(5000)}true${')'.repeat(5000)} { keep; }`;
  assert.match(bad(deepLists).message, /Nested too deeply/);
  const longList = `if header :is "a" [${Array.from({ length: SIEVE_LIMITS.maxListItems + 1 }, () => '"x"').join(',')}] { keep; }`;
  assert.match(bad(longList).message, /too long/);
  assert.equal(bad('\u0000').line, 1);
  assert.equal(checkSieve('').ok, true);
});
