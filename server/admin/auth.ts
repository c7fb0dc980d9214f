// Admin authentication: the admin password (argon2id PHC string in the directory settings), optional TOTP,
// server-side sessions, the one-time setup link and the one-time local token the desktop shell signs in with,
// and a failure limiter for everything that checks a secret.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { hash, verify } from '@node-rs/argon2';
import { checkPasswordStrength } from '../crypto/index.js';
import { UserError } from '../config/errors.js';
import { newTotpSecret, totpQrSvg, totpUri, verifyTotp } from './totp.js';

/** Where the admin's secrets live (the Directory satisfies it; sealpost.db is encrypted with the app key). */
export interface SettingsPort {
  getSetting(key: string): unknown;
  setSetting(key: string, value: unknown): void;
}

export const ADMIN_SETTINGS = { passwordHash: 'admin.passwordHash', totpSecret: 'admin.totpSecret' } as const;

// @node-rs/argon2's Algorithm is an ambient const enum (unusable under isolatedModules): 2 = Argon2id.
const ARGON2ID = 2;
/** OWASP's argon2id minimum (19 MiB, 2 passes): one login costs ~50 ms, guessing stays expensive. */
const ADMIN_HASH_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export interface AdminSession {
  readonly id: string;
  /** Double-submit CSRF token: also in the readable sp_csrf cookie; every non-GET sends it as x-csrf-token. */
  readonly csrf: string;
  readonly created: number;
  lastSeen: number;
  readonly via: 'password' | 'setup' | 'token';
  /** A TOTP secret offered to this session and not yet confirmed. */
  pendingTotp?: string;
}

export interface AdminAuthOptions {
  readonly settings: SettingsPort;
  readonly dataDir: string;
  /** Parent-chosen one-time token for /auth/token (SEALPOST_UI_TOKEN); else one is written to <data>/ui-token. */
  readonly uiToken?: string | null;
  readonly idleMs?: number;
  readonly absoluteMs?: number;
  readonly now?: () => number;
  /** Signed-in sessions to keep using (kept across an in-process restart, so the owner stays signed in). */
  readonly sessions?: Map<string, AdminSession>;
}

export class WrongAdminCredentials extends UserError {
  /** What was wrong, for the security log: bad-password, bad-totp, bad-setup-token. */
  readonly reason: string;
  constructor(message = 'Wrong password or code.', reason = 'bad-password') {
    super(message, 'AUTH_FAILED');
    this.reason = reason;
  }
}

export const UI_TOKEN_FILE = 'ui-token';
const MAX_SESSIONS = 200;

function randomToken(bytes = 32): string {
  return crypto.randomBytes(bytes).toString('base64url');
}

function sameSecret(a: string, b: string): boolean {
  const left = crypto.createHash('sha256').update(a).digest();
  const right = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(left, right);
}

export class AdminAuth {
  private readonly sessions: Map<string, AdminSession>;
  private readonly settings: SettingsPort;
  private readonly idleMs: number;
  private readonly absoluteMs: number;
  private readonly now: () => number;
  private setupToken: string | null = null;
  private uiToken: string | null;
  private readonly uiTokenFile: string | null;
  private lastTotpStep = -1;
  private setupClaiming = false;

  constructor(options: AdminAuthOptions) {
    this.settings = options.settings;
    this.sessions = options.sessions ?? new Map();
    this.idleMs = options.idleMs ?? 8 * 3600_000;
    this.absoluteMs = options.absoluteMs ?? 7 * 24 * 3600_000;
    this.now = options.now ?? Date.now;
    this.uiToken = options.uiToken ?? null;
    this.uiTokenFile = options.uiToken ? null : path.join(options.dataDir, UI_TOKEN_FILE);
  }

  // ── admin password ────────────────────────────────────────────────────

  isSetUp(): boolean {
    return typeof this.settings.getSetting(ADMIN_SETTINGS.passwordHash) === 'string';
  }

  /** Makes the one-time setup token (only while no admin password exists); null when already set up. */
  createSetupToken(): string | null {
    if (this.isSetUp()) return null;
    this.setupToken ??= randomToken();
    return this.setupToken;
  }

  /** Set up, or a setup claim is being completed right now (a parallel claim must not go on). */
  setupClaimed(): boolean {
    return this.setupClaiming || this.isSetUp();
  }

  checkSetupToken(token: string): boolean {
    return this.setupToken !== null && !this.isSetUp() && sameSecret(token, this.setupToken);
  }

  /** First run: the setup token proves the person reads the server's output; it is spent here. */
  async completeSetup(token: string, password: string): Promise<void> {
    if (!this.checkSetupToken(token)) throw new WrongAdminCredentials('This setup link is not valid (it works once, until the server restarts).', 'bad-setup-token');
    const weakness = checkPasswordStrength(password);
    if (weakness) throw new UserError(weakness, 'WEAK_PASSWORD');
    // Spent before the first await, so of parallel claims with the right token exactly one goes on.
    this.setupToken = null;
    this.setupClaiming = true;
    try {
      await this.setPassword(password);
    } catch (error) {
      if (!this.isSetUp()) this.setupToken = token;
      throw error;
    } finally {
      this.setupClaiming = false;
    }
  }

  async setPassword(password: string): Promise<void> {
    const weakness = checkPasswordStrength(password);
    if (weakness) throw new UserError(weakness, 'WEAK_PASSWORD');
    this.settings.setSetting(ADMIN_SETTINGS.passwordHash, await hash(password, ADMIN_HASH_OPTIONS));
  }

  async verifyPassword(password: string): Promise<boolean> {
    const stored = this.settings.getSetting(ADMIN_SETTINGS.passwordHash);
    if (typeof stored !== 'string') return false;
    try {
      return await verify(stored, password);
    } catch {
      return false;
    }
  }

  /** Password and (when enabled) TOTP code; throws WrongAdminCredentials. */
  async checkLogin(password: string, code: string | undefined): Promise<void> {
    const passwordOk = await this.verifyPassword(password);
    const secret = this.totpSecret();
    if (!passwordOk) throw new WrongAdminCredentials();
    if (secret) {
      if (!code) throw new WrongAdminCredentials('Enter the 6-digit code from your authenticator app.', 'missing-totp');
      const step = verifyTotp(secret, code, this.now(), this.lastTotpStep);
      if (step === null) throw new WrongAdminCredentials(undefined, 'bad-totp');
      this.lastTotpStep = step; // a code is good for one login only
    }
  }

  // ── TOTP ──────────────────────────────────────────────────────────────

  totpSecret(): string | null {
    const secret = this.settings.getSetting(ADMIN_SETTINGS.totpSecret);
    return typeof secret === 'string' ? secret : null;
  }

  async beginTotp(session: AdminSession, account: string): Promise<{ secret: string; uri: string; qrSvg: string }> {
    session.pendingTotp = newTotpSecret();
    const uri = totpUri(session.pendingTotp, account);
    return { secret: session.pendingTotp, uri, qrSvg: await totpQrSvg(uri) };
  }

  enableTotp(session: AdminSession, code: string): void {
    const secret = session.pendingTotp;
    if (!secret) throw new UserError('Start the authenticator setup first.', 'NO_PENDING_TOTP');
    const step = verifyTotp(secret, code, this.now());
    if (step === null) throw new WrongAdminCredentials('That code does not match; check the clock of the device with the authenticator app.', 'bad-totp');
    this.lastTotpStep = step;
    this.settings.setSetting(ADMIN_SETTINGS.totpSecret, secret);
    delete session.pendingTotp;
  }

  async disableTotp(password: string): Promise<void> {
    if (!(await this.verifyPassword(password))) throw new WrongAdminCredentials('Wrong password.');
    this.settings.setSetting(ADMIN_SETTINGS.totpSecret, undefined);
  }

  // ── sessions ──────────────────────────────────────────────────────────

  createSession(via: AdminSession['via']): AdminSession {
    this.sweep();
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = [...this.sessions.values()].sort((a, b) => a.lastSeen - b.lastSeen)[0];
      if (oldest) this.sessions.delete(oldest.id);
    }
    const now = this.now();
    const session: AdminSession = { id: randomToken(), csrf: randomToken(), created: now, lastSeen: now, via };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session for a cookie value (touching it), or null when unknown or expired. */
  session(id: string | undefined): AdminSession | null {
    if (!id) return null;
    const session = this.sessions.get(id);
    if (!session) return null;
    const now = this.now();
    if (now - session.lastSeen > this.idleMs || now - session.created > this.absoluteMs) {
      this.sessions.delete(id);
      return null;
    }
    session.lastSeen = now;
    return session;
  }

  endSession(id: string): void {
    this.sessions.delete(id);
  }

  /** After a password change every other session is signed out. */
  endOtherSessions(keep: string): void {
    for (const id of this.sessions.keys()) if (id !== keep) this.sessions.delete(id);
  }

  get maxAgeSeconds(): number {
    return Math.floor(this.absoluteMs / 1000);
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (now - s.lastSeen > this.idleMs || now - s.created > this.absoluteMs) this.sessions.delete(id);
  }

  // ── one-time local token (desktop shell) ──────────────────────────────

  /** Writes a fresh token to <data>/ui-token (0600) unless the parent chose one with SEALPOST_UI_TOKEN. */
  publishUiToken(): void {
    if (!this.uiTokenFile) return;
    this.uiToken = randomToken();
    const tmp = `${this.uiTokenFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${this.uiToken}\n`, { mode: 0o600 });
    fs.renameSync(tmp, this.uiTokenFile);
  }

  /** Spends the token: true once per token. The file-based token is replaced by a new one at once. */
  useUiToken(token: string): boolean {
    if (!this.uiToken || token.length < 16 || !sameSecret(token, this.uiToken)) return false;
    this.uiToken = null;
    if (this.uiTokenFile) this.publishUiToken();
    return true;
  }

  removeUiTokenFile(): void {
    if (this.uiTokenFile) fs.rmSync(this.uiTokenFile, { force: true });
  }
}

/**
 * Counts failures per key (client IP) in a sliding window; after `max` failures the key waits until the
 * oldest failure leaves the window. Used for login, setup and TOTP attempts. Keys are per client, so failures
 * from one address never delay another (the owner on loopback is never locked out from the internet).
 */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max = 5,
    private readonly windowMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds to wait before another attempt; 0 = go ahead. */
  retryAfterMs(key: string): number {
    const list = this.recent(key);
    if (list.length < this.max) return 0;
    return Math.max(1000, (list[0] as number) + this.windowMs - this.now());
  }

  fail(key: string): void {
    const list = this.recent(key);
    list.push(this.now());
    this.failures.set(key, list);
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value as string);
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string): number[] {
    const cutoff = this.now() - this.windowMs;
    return (this.failures.get(key) ?? []).filter((t) => t > cutoff);
  }
}
