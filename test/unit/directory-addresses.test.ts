// Addresses as a user types them: any case, IDN or punycode domains, +tags; bad ones get one clear sentence.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidAddress, normalizeAddress, normalizeDomain } from '../../server/directory/index.js';

describe('address normalization', () => {
  it('compares addresses case-insensitively', () => {
    assert.equal(normalizeAddress('Alice@Example.TEST').address, 'alice@example.test');
    assert.equal(normalizeAddress('  <ALICE@example.test> ').address, 'alice@example.test');
  });

  it('delivers user+tag@domain to user@domain and keeps the tag', () => {
    const a = normalizeAddress('alice+newsletters@example.test');
    assert.equal(a.address, 'alice@example.test');
    assert.equal(a.tag, 'newsletters');
    assert.equal(normalizeAddress('alice+x@example.test', { stripTag: false }).address, 'alice+x@example.test');
  });

  it('treats an IDN domain and its punycode form as the same domain', () => {
    const unicode = normalizeAddress('Bob@Bücher.Example');
    const puny = normalizeAddress('bob@xn--bcher-kva.example');
    assert.equal(unicode.address, 'bob@xn--bcher-kva.example');
    assert.equal(puny.address, unicode.address);
    assert.equal(puny.display, 'bob@bücher.example');
    assert.deepEqual(normalizeDomain('BÜCHER.example.'), { ascii: 'xn--bcher-kva.example', unicode: 'bücher.example' });
  });

  it('accepts internationalized local parts (SMTPUTF8)', () => {
    assert.equal(normalizeAddress('Jörg@example.test').address, 'jörg@example.test');
  });

  const bad: [string, RegExp][] = [
    ['alice', /has no @/],
    ['@example.test', /nothing before the @/],
    ['alice@', /no domain after the @/],
    ['al ice@example.test', /characters not allowed/],
    ['alice..b@example.test', /misplaced dot/],
    ['.alice@example.test', /misplaced dot/],
    ['alice@-bad.test', /not a valid domain name/],
    ['alice@exa_mple.test', /not a valid domain name/],
    ['alice@localhost', /needs at least one dot/],
    ['alice@192.168.1.1', /looks like an IP address/],
    ['alice@[127.0.0.1]', /address literal/],
    ['"alice"@example.test', /quoted local part/],
    ['+tag@example.test', /nothing before the \+tag/],
    [`${'a'.repeat(65)}@example.test`, /longer than 64 bytes/],
    ['', /empty/],
  ];
  for (const [input, message] of bad) {
    it(`refuses ${JSON.stringify(input)} with a clear message`, () => {
      assert.throws(() => normalizeAddress(input), (error: unknown) => {
        assert.ok(error instanceof InvalidAddress);
        assert.match(error.message, message);
        assert.ok(!error.message.includes('\n'));
        return true;
      });
    });
  }
});
