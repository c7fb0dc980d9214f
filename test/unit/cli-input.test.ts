// CLI input parsing that a user types: sizes for --quota.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatSize, parseSize } from '../../server/cli/common.js';
import { UserError } from '../../server/config/index.js';

describe('CLI sizes', () => {
  it('reads binary sizes with or without a unit', () => {
    assert.equal(parseSize('1048576'), 1048576);
    assert.equal(parseSize('500M'), 500 * 1024 ** 2);
    assert.equal(parseSize('2G'), 2 * 1024 ** 3);
    assert.equal(parseSize('1.5GB'), 1.5 * 1024 ** 3);
    assert.equal(parseSize('64 KiB'), 64 * 1024);
    assert.equal(parseSize('unlimited'), null);
    assert.equal(parseSize('0'), null);
  });

  it('refuses what is not a size, in one sentence', () => {
    for (const bad of ['lots', '5 parsecs', '-1G', '']) {
      assert.throws(() => parseSize(bad, 'quota'), (e: unknown) => e instanceof UserError && /^The quota ".*" is not a size like 500M, 2G or 1048576\.$/.test(e.message));
    }
  });

  it('prints sizes readably', () => {
    assert.equal(formatSize(null), 'unlimited');
    assert.equal(formatSize(50 * 1024 ** 2), '50 MiB');
    assert.equal(formatSize(1536), '1.5 KiB');
  });
});
