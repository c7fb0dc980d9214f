// The directory database: encrypted with the app key, domains and aliases, catch-all, settings, audit.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MailboxId } from '../../server/mailbox/types.js';
import {
  AliasExists,
  Directory,
  DomainExists,
  DomainInUse,
  UnknownDomain,
  WrongAppKey,
  type NewAlias,
} from '../../server/directory/index.js';

let dir: string;
let file: string;
const appKey = crypto.randomBytes(32);

function newAlias(address: string): NewAlias {
  return {
    address,
    mailboxId: crypto.randomUUID() as MailboxId,
    salt: crypto.randomBytes(16),
    kdf: { algorithm: 'argon2id', memoryKiB: 1024, iterations: 1, parallelism: 1 },
    verifier: crypto.randomBytes(32),
    publicKey: crypto.randomBytes(64),
    wrappedPrivateKey: crypto.randomBytes(80),
  };
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  file = path.join(dir, 'sealpost.db');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('directory database', () => {
  it('stores domains (IDN as punycode) and refuses duplicates', () => {
    const directory = Directory.open(file, appKey);
    try {
      const added = directory.addDomain('Example.TEST');
      assert.equal(added.name, 'example.test');
      directory.addDomain('bücher.example');
      assert.throws(() => directory.addDomain('EXAMPLE.test'), DomainExists);
      assert.throws(() => directory.addDomain('xn--bcher-kva.example'), DomainExists);
      assert.deepEqual(directory.listDomains().map((d) => [d.name, d.unicodeName]), [
        ['example.test', 'example.test'],
        ['xn--bcher-kva.example', 'bücher.example'],
      ]);
    } finally {
      directory.close();
    }
  });

  it('stores aliases, refuses duplicates (any case), unknown domains and +tags', () => {
    const directory = Directory.open(file, appKey);
    try {
      const alice = directory.insertAlias(newAlias('Alice@Example.test'));
      assert.equal(alice.address, 'alice@example.test');
      assert.equal(alice.enabled, true);
      assert.throws(() => directory.insertAlias(newAlias('ALICE@example.test')), (e: unknown) => e instanceof AliasExists && e.message === 'The alias alice@example.test already exists.');
      assert.throws(() => directory.insertAlias(newAlias('bob@nowhere.test')), (e: unknown) => e instanceof UnknownDomain && /sealpost domain add nowhere\.test/.test(e.message));
      assert.throws(() => directory.insertAlias(newAlias('bob+x@example.test')), /contains a \+/);
      const bob = directory.insertAlias(newAlias('bob@bücher.example'));
      assert.equal(bob.address, 'bob@xn--bcher-kva.example');
      assert.equal(bob.displayAddress, 'bob@bücher.example');
      assert.equal(directory.listAliases().length, 2);
      assert.equal(directory.listAliases('bücher.example').length, 1);
      assert.throws(() => directory.removeDomain('example.test'), DomainInUse);
    } finally {
      directory.close();
    }
  });

  it('resolves recipients: exact, any case, +tag, IDN, then the catch-all, else nothing', () => {
    const directory = Directory.open(file, appKey);
    try {
      const alice = directory.getAlias('alice@example.test');
      assert.ok(alice);
      assert.equal(directory.resolveRecipient('ALICE+shop@EXAMPLE.test')?.id, alice.id);
      assert.equal(directory.resolveRecipient('bob@BÜCHER.example')?.address, 'bob@xn--bcher-kva.example');
      assert.equal(directory.resolveRecipient('nobody@example.test'), null);
      assert.equal(directory.resolveRecipient('not an address'), null);
      directory.setCatchAll('example.test', alice.id);
      assert.equal(directory.resolveRecipient('nobody@example.test')?.id, alice.id);
      assert.equal(directory.resolveRecipient('nobody@bücher.example'), null, 'catch-all is per domain');
      directory.setCatchAll('example.test', null);
      assert.equal(directory.resolveRecipient('nobody@example.test'), null);
    } finally {
      directory.close();
    }
  });

  it('keeps settings, forwards, webhooks and an audit log of ids', () => {
    const directory = Directory.open(file, appKey);
    try {
      directory.setSetting('imapPort', 2143);
      directory.setSetting('retention', { daily: 7 });
      assert.deepEqual(directory.getSettings(), { imapPort: 2143, retention: { daily: 7 } });
      directory.setSetting('imapPort', undefined);
      assert.equal(directory.getSetting('imapPort'), undefined);
      const alice = directory.requireAlias('alice@example.test');
      const forward = directory.addForward(alice.id, 'Elsewhere@Other.test', false);
      assert.equal(forward.target, 'elsewhere@other.test');
      assert.equal(directory.listForwards(alice.id).length, 1);
      const hook = directory.addWebhook(alice.id, 'https://hooks.example.test/in');
      assert.ok(hook.secret.length >= 24);
      assert.throws(() => directory.addWebhook(alice.id, 'ftp://x'), /https:\/\//);
      const events = directory.listAudit({ limit: 50 }).map((e) => e.event);
      assert.ok(events.includes('alias.created'));
      assert.ok(events.includes('domain.added'));
      for (const entry of directory.listAudit({ limit: 50 })) assert.ok(!JSON.stringify(entry).includes('alice@'), 'audit holds ids, not addresses');
      directory.deleteAlias(alice.id);
      assert.equal(directory.listForwards(alice.id).length, 0, 'forwards go with the alias');
    } finally {
      directory.close();
    }
  });

  it('is encrypted: no address and no SQLite header in the file, and the wrong app key cannot open it', () => {
    const bytes = fs.readFileSync(file);
    assert.ok(!bytes.subarray(0, 16).equals(Buffer.from('SQLite format 3\0', 'latin1')));
    for (const needle of ['alice', 'example.test', 'bücher', 'xn--bcher', 'hooks.example']) assert.ok(!bytes.includes(needle), needle);
    assert.equal(fs.statSync(file).mode & 0o077, 0, 'file is private');
    assert.throws(() => Directory.open(file, crypto.randomBytes(32)), (error: unknown) => {
      assert.ok(error instanceof WrongAppKey);
      assert.match(error.message, /app key does not open sealpost\.db/);
      return true;
    });
    // The right key still works afterwards (the failed attempt changed nothing).
    const directory = Directory.open(file, appKey);
    assert.equal(directory.listDomains().length, 2);
    directory.close();
  });
});
