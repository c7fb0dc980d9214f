// /api/outgoing over real HTTP: the outgoing history for the UI (list in pages, one message with its
// attempts), retry now and cancel, the refusal of final messages, hostile ids and a flood of list requests
// bounded by the page limit (SEALPOST_OUTBOUND_HISTORY_PAGE_MAX), and only for a signed-in owner.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AdminClient, startAdminOnly, type RunningAdmin } from '../helpers/admin-http.js';
import { findPlaintext } from '../helpers/privacy.js';
import type { OutgoingDetail, OutgoingPage } from '../../server/ports.js';

const ADMIN_PASSWORD = 'copper kettle morning 5120';
const PAGE_MAX = 20;
const SUBJECT = 'Allotment seed swap 8842';

let admin: RunningAdmin;
let client: AdminClient;
const ids: string[] = [];

before(async () => {
  admin = await startAdminOnly({ SEALPOST_OUTBOUND_HISTORY_PAGE_MAX: String(PAGE_MAX) });
  client = new AdminClient(admin.base);
  await client.get('/api/auth/state');
  const token = new URL(admin.setupLink ?? '').searchParams.get('token');
  assert.equal((await client.post('/api/auth/setup', { token, password: ADMIN_PASSWORD })).status, 200);
  // queued as submission would; no delivery worker runs in this test, so they stay waiting
  for (let i = 0; i < 45; i++) {
    const to = `ivy${i}@garden.test`;
    ids.push(await admin.ctx.outbound.enqueue({ from: 'alice@sender.test', to: [to], raw: Buffer.from(`To: ${to}\r\nSubject: ${SUBJECT}\r\n\r\nseeds\r\n`), kind: 'submission' }));
  }
});
after(async () => {
  await admin?.stop();
});

const error = (r: { json: unknown }): { error: string; code?: string } => r.json as { error: string; code?: string };

describe('admin outgoing history', () => {
  it('lists the history newest first in pages, and shows one message with its recipients', async () => {
    const first = await client.get('/api/outgoing?limit=10');
    assert.equal(first.status, 200, first.text);
    const page = first.json as OutgoingPage;
    assert.equal(page.messages.length, 10);
    assert.equal(page.messages[0]?.status, 'waiting');
    assert.equal(page.messages[0]?.recipients, 1);
    assert.ok(page.next);
    const detail = await client.get(`/api/outgoing/${ids[0]}`);
    assert.equal(detail.status, 200);
    const d = detail.json as OutgoingDetail;
    assert.equal(d.recipientList[0]?.address, 'ivy0@garden.test');
    assert.equal(d.recipientList[0]?.status, 'waiting');
    assert.deepEqual(d.recipientList[0]?.history, []);
  });

  it('retry now and cancel; both then refuse the cancelled message with one sentence', async () => {
    const id = ids[1] ?? '';
    const retried = await client.post(`/api/outgoing/${id}/retry`, {});
    assert.equal(retried.status, 200, retried.text);
    assert.deepEqual(retried.json, { id, recipients: 1 });
    const cancelled = await client.post(`/api/outgoing/${id}/cancel`, {});
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal((((await client.get(`/api/outgoing/${id}`)).json) as OutgoingDetail).status, 'cancelled');
    for (const verb of ['retry', 'cancel']) {
      const refused = await client.post(`/api/outgoing/${id}/${verb}`, {});
      assert.equal(refused.status, 400);
      assert.equal(error(refused).code, 'MESSAGE_FINAL');
      assert.match(error(refused).error, /is already cancelled; there is nothing left to send\.$/);
    }
    assert.equal((await client.post(`/api/outgoing/${id}/retry`, {}, { csrf: false })).status, 403, 'a write without the CSRF token is refused');
  });

  it('bad ids get a clear JSON error, never a stack trace', async () => {
    const cases: [string, number, string | null][] = [
      ['nope', 400, 'BAD_MESSAGE_ID'],
      [crypto.randomUUID(), 404, 'UNKNOWN_MESSAGE'],
      ['%2e%2e%2f%2e%2e%2foutbound.sqlite', 404, 'NOT_FOUND'], // refused by the admin's canonical-path guard
      ['%00', 400, 'BAD_MESSAGE_ID'],
      ["1'%20OR%20'1'%3D'1", 400, 'BAD_MESSAGE_ID'],
      ['%E2%80%AEevil', 400, 'BAD_MESSAGE_ID'],
      ['x'.repeat(5000), 414, 'FST_ERR_MAX_PARAM_LENGTH'], // fastify's own cap on a path parameter (100 characters)
    ];
    for (const [id, status, code] of cases) {
      for (const [method, url] of [['GET', `/api/outgoing/${id}`], ['POST', `/api/outgoing/${id}/retry`], ['POST', `/api/outgoing/${id}/cancel`]] as const) {
        const r = await client.request(method, url, method === 'POST' ? {} : undefined);
        assert.equal(r.status, status, `${method} ${url.slice(0, 60)}: ${r.text.slice(0, 200)}`);
        assert.equal(error(r).code, code);
        assert.doesNotMatch(r.text, /\.ts:\d+|at [A-Za-z]+ \(/, 'no stack trace');
      }
    }
    for (const query of ['limit=0', 'limit=-1', 'limit=abc', 'limit=99999999', 'cursor=DROP%20TABLE', 'other=1']) {
      const r = await client.get(`/api/outgoing?${query}`);
      assert.equal(r.status, 400, query);
    }
  });

  it('a flood of list requests is bounded by the page limit; the cursor walks every message once', async () => {
    // 40 requests, 4 at a time (more at once meets the admin's per-address connection cap: 503)
    const flood = [];
    for (let i = 0; i < 10; i++) flood.push(...(await Promise.all(Array.from({ length: 4 }, () => client.get('/api/outgoing?limit=999999')))));
    for (const r of flood) {
      assert.equal(r.status, 200);
      assert.equal((r.json as OutgoingPage).messages.length, PAGE_MAX, 'never more than the page limit');
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const page: OutgoingPage = (await client.get(`/api/outgoing?limit=999999${cursor ? `&cursor=${cursor}` : ''}`)).json as OutgoingPage;
      seen.push(...page.messages.map((m) => m.id));
      cursor = page.next;
      if (!cursor) break;
    }
    assert.deepEqual([...seen].sort(), [...ids].sort());
  });

  it('is for the signed-in owner only; nothing of the messages is in plaintext in the data dir', async () => {
    const stranger = new AdminClient(admin.base);
    assert.equal((await stranger.get('/api/outgoing')).status, 401);
    assert.equal((await stranger.get(`/api/outgoing/${ids[0]}`)).status, 401);
    assert.equal((await stranger.post(`/api/outgoing/${ids[0]}/cancel`, {})).status, 401);
    assert.deepEqual(findPlaintext(admin.dataDir, [SUBJECT, 'ivy0@garden.test', 'garden.test']), []);
  });
});
