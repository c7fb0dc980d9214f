// The pieces of the connection limits that are pure functions: the "may this connection log in without TLS"
// decision from the address alone (non-loopback addresses are only ever tested here, never dialled), the
// SEALPOST_* settings with their defaults, and the rate bound on refusal log lines.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imapLimitsFromEnv, imapPlaintextLoginOnLoopback, DEFAULT_LIMITS } from '../../server/imap/index.js';
import { handshakeErrorKind, RateBoundedLog } from '../../server/net.js';
import { plaintextLoginAllowed } from '../../server/pop3/index.js';
import { DEFAULT_POP3_LIMITS, pop3LimitsFromEnv } from '../../server/pop3/settings.js';
import { authAllowed } from '../../server/smtp/submission/index.js';
import { DEFAULT_SUBMISSION_LIMITS, submissionLimitsFromEnv } from '../../server/smtp/submission/settings.js';

const REMOTE = ['192.0.2.7', '203.0.113.9', '10.0.0.5', '2001:db8::1', '::ffff:198.51.100.1', 'fe80::1', 'localhost', ''];
const LOOPBACK = ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'];

describe('plaintext login only from loopback, decided from the address (RFC 3207 §4, RFC 4954 §4, RFC 2595 §2.1)', () => {
  it('submission: AUTH before TLS only from loopback with the exemption on; with TLS always', () => {
    const on = { plaintextAuthOnLoopback: true };
    const off = { plaintextAuthOnLoopback: false };
    for (const ip of LOOPBACK) assert.equal(authAllowed(false, ip, on), true, ip);
    for (const ip of [...LOOPBACK, ...REMOTE]) assert.equal(authAllowed(false, ip, off), false, ip);
    for (const ip of REMOTE) assert.equal(authAllowed(false, ip, on), false, ip);
    for (const ip of REMOTE) assert.equal(authAllowed(true, ip, off), true, ip);
    assert.equal(authAllowed(false, undefined, on), false);
  });

  it('POP3: USER/PASS before STLS only from loopback with the exemption on', () => {
    for (const ip of LOOPBACK) assert.equal(plaintextLoginAllowed(ip, { plaintextLoginOnLoopback: true }), true, ip);
    for (const ip of LOOPBACK) assert.equal(plaintextLoginAllowed(ip, { plaintextLoginOnLoopback: false }), false, ip);
    for (const ip of REMOTE) assert.equal(plaintextLoginAllowed(ip, { plaintextLoginOnLoopback: true }), false, ip);
  });
});

describe('connection limit settings', () => {
  it('POP3: defaults (RFC 1939 §3: 10 minutes after login), overrides, and one sentence for a bad value', () => {
    assert.deepEqual(pop3LimitsFromEnv({}), DEFAULT_POP3_LIMITS);
    assert.equal(DEFAULT_POP3_LIMITS.timeoutMs, 10 * 60_000);
    const set = pop3LimitsFromEnv({ SEALPOST_POP3_MAX_CONNECTIONS: '50', SEALPOST_POP3_MAX_CONNECTIONS_PER_IP: ' 4 ', SEALPOST_POP3_PLAINTEXT_LOGIN_ON_LOOPBACK: 'off' });
    assert.deepEqual([set.maxConnections, set.maxConnectionsPerIp, set.plaintextLoginOnLoopback], [50, 4, false]);
    assert.throws(() => pop3LimitsFromEnv({ SEALPOST_POP3_MAX_CONNECTIONS_PER_IP: '0' }), /SEALPOST_POP3_MAX_CONNECTIONS_PER_IP must be a whole number of at least 1/);
    assert.throws(() => pop3LimitsFromEnv({ SEALPOST_POP3_TLS_HANDSHAKE_TIMEOUT_MS: 'soon' }), /SEALPOST_POP3_TLS_HANDSHAKE_TIMEOUT_MS/);
    assert.throws(() => pop3LimitsFromEnv({ SEALPOST_POP3_PLAINTEXT_LOGIN_ON_LOOPBACK: 'maybe' }), /must be on or off/);
  });

  it('submission: defaults (RFC 5321 §4.5.3.2.7: 5 minutes after login), overrides, and one sentence for a bad value', () => {
    assert.deepEqual(submissionLimitsFromEnv({}), DEFAULT_SUBMISSION_LIMITS);
    assert.equal(DEFAULT_SUBMISSION_LIMITS.timeoutMs, 5 * 60_000);
    const set = submissionLimitsFromEnv({ SEALPOST_SUBMISSION_MAX_CONNECTIONS: '80', SEALPOST_SUBMISSION_LOGIN_TIMEOUT_MS: '5000', SEALPOST_SUBMISSION_PLAINTEXT_AUTH_ON_LOOPBACK: 'no' });
    assert.deepEqual([set.maxConnections, set.loginTimeoutMs, set.plaintextAuthOnLoopback], [80, 5000, false]);
    assert.throws(() => submissionLimitsFromEnv({ SEALPOST_SUBMISSION_TIMEOUT_MS: '10' }), /SEALPOST_SUBMISSION_TIMEOUT_MS must be a whole number of at least 1000/);
  });

  it('IMAP: a total cap and a handshake timeout next to the existing settings (RFC 3501 §5.4: 30 minutes after login)', () => {
    assert.ok(DEFAULT_LIMITS.socketTimeoutMs >= 30 * 60_000);
    assert.ok(DEFAULT_LIMITS.idleTimeoutMs >= 29 * 60_000);
    assert.deepEqual(imapLimitsFromEnv({ SEALPOST_IMAP_MAX_CONNECTIONS: '300', SEALPOST_IMAP_TLS_HANDSHAKE_TIMEOUT_MS: '2000' }), { maxConnections: 300, tlsHandshakeTimeoutMs: 2000 });
    assert.throws(() => imapLimitsFromEnv({ SEALPOST_IMAP_MAX_CONNECTIONS: '0' }), /SEALPOST_IMAP_MAX_CONNECTIONS must be/);
    assert.equal(imapPlaintextLoginOnLoopback({}), true);
    assert.equal(imapPlaintextLoginOnLoopback({ SEALPOST_IMAP_PLAINTEXT_LOGIN_ON_LOOPBACK: 'off' }), false);
  });
});

describe('refusal log lines are rate-bounded', () => {
  it('one line at once per key, the rest counted and emitted as one line when the window ends', () => {
    let now = 0;
    const emitted: [string, number][] = [];
    const log = new RateBoundedLog((key, count) => emitted.push([key, count]), 60_000, 3, () => now);
    try {
      for (let i = 0; i < 1000; i++) log.note('1.2.3.4|total-cap');
      log.note('5.6.7.8|per-ip-cap');
      assert.deepEqual(emitted, [
        ['1.2.3.4|total-cap', 1],
        ['5.6.7.8|per-ip-cap', 1],
      ]);
      now = 60_000;
      log.note('1.2.3.4|total-cap'); // a new window: the 999 counted + this one
      assert.deepEqual(emitted.at(-1), ['1.2.3.4|total-cap', 1000]);
      // Beyond maxKeys, new keys share one "*" line instead of growing the map.
      log.note('9.9.9.9|a');
      log.note('8.8.8.8|b');
      log.note('7.7.7.7|c');
      assert.deepEqual(emitted.at(-1), ['*', 1]);
      now = 200_000;
      log.flush(false);
      assert.deepEqual(emitted.at(-1), ['*', 1], 'the second "*" event is flushed with its count');
    } finally {
      log.close();
    }
  });
});

describe('handshake errors are classified before they are logged (a TLS flood must not write a line per attempt)', () => {
  it('timeouts, bad TLS and clients that went away are told apart; other errors are not handshake errors', () => {
    const withFields = (message: string, fields: Record<string, unknown>): Error => Object.assign(new Error(message), fields);
    assert.deepEqual(handshakeErrorKind(withFields('TLS handshake timeout', { code: 'ERR_TLS_HANDSHAKE_TIMEOUT', remoteAddress: '192.0.2.1' })), { kind: 'timeout', ip: '192.0.2.1' });
    assert.deepEqual(handshakeErrorKind(withFields('wrong version number', { code: 'ERR_SSL_WRONG_VERSION_NUMBER', tlsHandshake: true, remoteAddress: '192.0.2.2' })), { kind: 'failed', ip: '192.0.2.2' });
    assert.deepEqual(handshakeErrorKind(withFields('Socket closed while initiating TLS', { code: 'SocketError', meta: { remoteAddress: '192.0.2.3' } })), { kind: 'gone', ip: '192.0.2.3' });
    assert.equal(handshakeErrorKind(withFields('listen EADDRINUSE', { code: 'EADDRINUSE' })), null);
    assert.equal(handshakeErrorKind('not an error'), null);
  });
});
