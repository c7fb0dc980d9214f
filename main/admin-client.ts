// The desktop shell's side of the admin sign-in contract (server/admin/auth.ts, routes-auth.ts):
// `serve` started WITHOUT SEALPOST_UI_TOKEN keeps a one-time token in <data>/ui-token (0600) and replaces it
// each time it is spent at GET /auth/token?t=<token> (which sets the session + CSRF cookies and redirects
// to /). We use the file form, not a parent-chosen env token, because an env token works once per server
// run: the window could not sign in again after the session expires, and the tray's "Lock all mailboxes"
// needs its own session. Every use is serialized here so two callers never race for the same token.
import fs from 'node:fs';
import path from 'node:path';

export const UI_TOKEN_FILE = 'ui-token';
const SESSION_COOKIE = 'sp_session';
const CSRF_COOKIE = 'sp_csrf';

export class AdminClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdminClientError';
  }
}

export interface AdminClientOptions {
  /** The server's data dir (where ui-token lives). */
  readonly dataDir: string;
  /** The admin origin of the running server, e.g. http://127.0.0.1:7080 (read per call: restarts may move it). */
  readonly origin: () => Promise<string>;
  /** How long to wait for the token file to appear after a (re)start (default 10 s). */
  readonly tokenWaitMs?: number;
}

export class AdminClient {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: AdminClientOptions) {}

  /**
   * Runs fn with a fresh one-time sign-in URL; the next token is only read after fn settles (the server
   * rotates the file when the token is spent, so fn must spend it — e.g. await loadURL — before returning).
   */
  withSignInUrl<T>(fn: (url: string) => Promise<T>): Promise<T> {
    const next = this.queue.then(async () => {
      const origin = await this.options.origin();
      const token = await this.readToken();
      return fn(`${origin}/auth/token?t=${encodeURIComponent(token)}`);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Locks every unlocked mailbox through the admin API; returns how many were locked. */
  async lockAll(): Promise<number> {
    const session = await this.signIn();
    const aliases = await this.api(session, 'GET', '/api/aliases');
    if (!Array.isArray(aliases)) throw new AdminClientError('The server answered /api/aliases with something other than a list.');
    let locked = 0;
    for (const alias of aliases as unknown[]) {
      const { id, unlocked } = (alias ?? {}) as { id?: unknown; unlocked?: unknown };
      if (typeof id !== 'string' || unlocked !== true) continue;
      await this.api(session, 'POST', `/api/aliases/${encodeURIComponent(id)}/lock`);
      locked += 1;
    }
    await this.api(session, 'POST', '/api/auth/logout').catch(() => undefined);
    return locked;
  }

  /** Spends a token for a session of our own (cookies kept in memory only). */
  private signIn(): Promise<{ origin: string; cookie: string; csrf: string }> {
    return this.withSignInUrl(async (url) => {
      const response = await fetch(url, { redirect: 'manual' });
      if (response.status !== 303 && response.status !== 302) throw new AdminClientError(`Signing in to the local server failed (HTTP ${response.status}).`);
      const cookies = new Map<string, string>();
      for (const header of response.headers.getSetCookie()) {
        const pair = header.split(';')[0] ?? '';
        const eq = pair.indexOf('=');
        if (eq > 0) cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
      }
      const sessionId = cookies.get(SESSION_COOKIE);
      const csrf = cookies.get(CSRF_COOKIE);
      if (!sessionId || !csrf) throw new AdminClientError('The local server did not start a session for the desktop token.');
      return { origin: new URL(url).origin, cookie: `${SESSION_COOKIE}=${sessionId}; ${CSRF_COOKIE}=${csrf}`, csrf: decodeURIComponent(csrf) };
    });
  }

  private async api(session: { origin: string; cookie: string; csrf: string }, method: 'GET' | 'POST', pathname: string): Promise<unknown> {
    const headers: Record<string, string> = { cookie: session.cookie, accept: 'application/json' };
    if (method !== 'GET') Object.assign(headers, { 'x-csrf-token': session.csrf, 'content-type': 'application/json', origin: session.origin });
    const response = await fetch(`${session.origin}${pathname}`, { method, headers, body: method === 'GET' ? undefined : '{}' });
    const text = await response.text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {}
    if (!response.ok) {
      const message = (body as { error?: unknown } | null)?.error;
      throw new AdminClientError(typeof message === 'string' ? message : `${method} ${pathname} failed (HTTP ${response.status}).`);
    }
    return body;
  }

  /** The current token; the file appears when the admin service starts, so wait a little for it. */
  private async readToken(): Promise<string> {
    const file = path.join(this.options.dataDir, UI_TOKEN_FILE);
    const deadline = Date.now() + (this.options.tokenWaitMs ?? 10_000);
    for (;;) {
      try {
        const token = fs.readFileSync(file, 'utf8').trim();
        if (token) return token;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      if (Date.now() > deadline) throw new AdminClientError(`The local server has not written its sign-in token (${file}).`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
