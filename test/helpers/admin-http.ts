// Real HTTP against the admin server: a tiny cookie-jar client (fetch) and an in-process admin service on
// a free port over a temp data dir. Used by test/integration/admin-*.test.ts.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeContext, openContext } from '../../server/app.js';
import type { AppContext } from '../../server/context.js';
import { createAdminService } from '../../server/admin/index.js';
import type { AdminRoute } from '../../server/admin/http.js';
import { silentLogger, type Logger } from '../../server/log.js';
import type { KdfParams } from '../../server/crypto/index.js';
import { freePort } from './ports.js';

export const ADMIN_TEST_KDF: KdfParams = Object.freeze({ algorithm: 'argon2id', memoryKiB: 256, iterations: 1, parallelism: 1 });

export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** Parsed JSON body (undefined when the body is not JSON). */
  readonly json: unknown;
  readonly body: Buffer;
}

export class AdminClient {
  readonly cookies = new Map<string, string>();

  constructor(readonly base: string) {}

  get csrf(): string {
    return this.cookies.get('sp_csrf') ?? '';
  }

  /**
   * Sends a request as the admin page in a browser would: non-GET requests carry the CSRF header unless
   * `csrf: false` (or a given value) and the page's Origin unless `origin: false` (or another origin).
   */
  async request(method: string, url: string, body?: unknown, options: { csrf?: boolean | string; origin?: false | string; headers?: Record<string, string>; rawBody?: string; redirect?: 'manual' } = {}): Promise<HttpResult> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ');
    if (method !== 'GET' && options.csrf !== false) headers['x-csrf-token'] = typeof options.csrf === 'string' ? options.csrf : this.csrf;
    if (method !== 'GET' && method !== 'HEAD' && options.origin !== false) headers.origin ??= options.origin ?? new URL(this.base).origin;
    let payload: string | undefined = options.rawBody;
    if (body !== undefined) {
      headers['content-type'] ??= 'application/json';
      payload = JSON.stringify(body);
    }
    const response = await fetch(`${this.base}${url}`, { method, headers, body: payload, redirect: options.redirect ?? 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = (pair ?? '').indexOf('=');
      const name = (pair ?? '').slice(0, eq);
      const value = decodeURIComponent((pair ?? '').slice(eq + 1));
      if (/Max-Age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const buffer = Buffer.from(await response.arrayBuffer());
    const text = buffer.toString('utf8');
    let json: unknown;
    if ((response.headers.get('content-type') ?? '').includes('json')) json = JSON.parse(text);
    return { status: response.status, headers: response.headers, text, json, body: buffer };
  }

  get = (url: string): Promise<HttpResult> => this.request('GET', url);
  post = (url: string, body: unknown = {}, options?: { csrf?: boolean | string; origin?: false | string }): Promise<HttpResult> => this.request('POST', url, body, options);
  put = (url: string, body: unknown): Promise<HttpResult> => this.request('PUT', url, body);
  patch = (url: string, body: unknown): Promise<HttpResult> => this.request('PATCH', url, body);
  delete = (url: string, body?: unknown): Promise<HttpResult> => this.request('DELETE', url, body);

  /** Polls /api/jobs/:id until it leaves "running". */
  async waitJob(id: string): Promise<{ state: string; result: unknown; error: string | null; secret?: Record<string, string>; progress: { phase: string; done: number; total: number } }> {
    for (let i = 0; i < 600; i++) {
      const r = await this.get(`/api/jobs/${id}`);
      const job = r.json as { state: string; result: unknown; error: string | null; progress: { phase: string; done: number; total: number } };
      if (job.state !== 'running') return job;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('job did not finish');
  }
}

export interface RunningAdmin {
  readonly ctx: AppContext;
  readonly dataDir: string;
  readonly base: string;
  readonly setupLink: string | null;
  readonly env: NodeJS.ProcessEnv;
  /** Every route the running admin app registered. */
  routes(): readonly AdminRoute[];
  stop(): Promise<void>;
}

/** Opens a context on a fresh temp data dir and starts only the admin service on a free loopback port. */
export async function startAdminOnly(extraEnv: NodeJS.ProcessEnv = {}, dataDir?: string, options: { logger?: Logger } = {}): Promise<RunningAdmin> {
  const dir = dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SEALPOST_DATA: dir,
    SEALPOST_KEYCHAIN: 'off',
    SEALPOST_APP_KEY: crypto.randomBytes(32).toString('hex'),
    SEALPOST_ADMIN_PORT: String(port),
    SEALPOST_HOSTNAME: 'mail.admin.test',
    SEALPOST_LOG_LEVEL: 'silent',
    ...extraEnv,
  };
  const ctx = await openContext({ env }, { logger: options.logger ?? silentLogger(), kdf: ADMIN_TEST_KDF });
  let setupLink: string | null = null;
  const service = createAdminService(ctx, { announce: (line) => (setupLink = /(https?:\/\/\S+)/.exec(line)?.[1] ?? null) });
  await service.start();
  return {
    ctx,
    dataDir: dir,
    base: `http://127.0.0.1:${port}`,
    get setupLink() {
      return setupLink;
    },
    env,
    routes: () => service.routes(),
    async stop() {
      try {
        await service.stop();
        await closeContext(ctx);
      } finally {
        if (!dataDir) fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

