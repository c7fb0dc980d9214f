// Live protocol sessions per alias, so the server can end them (IMAP BYE, POP3 close) when their mailbox
// is re-keyed, locked, removed or replaced by a restore: a session must never keep a dead handle.

/** Why the server ends a session. */
export type RevokeReason = 'password-changed' | 'locked' | 'removed' | 'restored' | 'app-password-revoked';

interface LiveSession {
  readonly mailboxId: string;
  /** The app password the session logged in with, or null (the alias password). */
  readonly appPasswordId: string | null;
  readonly listeners: ((reason: RevokeReason) => void)[];
  revoked: RevokeReason | null;
}

export class SessionRegistry {
  private readonly byAlias = new Map<string, Set<LiveSession>>();

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  /** Registers a session; returns its onRevoked() and the function that unregisters it (call on release). */
  add(aliasId: string, mailboxId: string, appPasswordId: string | null = null): { onRevoked(listener: (reason: RevokeReason) => void): void; remove(): void } {
    const session: LiveSession = { mailboxId, appPasswordId, listeners: [], revoked: null };
    let set = this.byAlias.get(aliasId);
    if (!set) this.byAlias.set(aliasId, (set = new Set()));
    set.add(session);
    return {
      onRevoked: (listener) => {
        // Revoked before the protocol registered its listener (e.g. during the queue drain): end it at once.
        if (session.revoked) this.call(listener, session.revoked);
        else session.listeners.push(listener);
      },
      remove: () => {
        const current = this.byAlias.get(aliasId);
        if (current?.delete(session) && current.size === 0) this.byAlias.delete(aliasId);
      },
    };
  }

  /** Ends every session of the alias; returns how many were told. */
  revoke(aliasId: string, reason: RevokeReason): number {
    const set = this.byAlias.get(aliasId);
    if (!set) return 0;
    this.byAlias.delete(aliasId);
    for (const session of set) {
      session.revoked = reason;
      for (const listener of session.listeners.splice(0)) this.call(listener, reason);
    }
    return set.size;
  }

  /** Ends the sessions of the alias that logged in with this app password; returns how many were told. */
  revokeAppPassword(aliasId: string, appPasswordId: string): number {
    const set = this.byAlias.get(aliasId);
    if (!set) return 0;
    const ended = [...set].filter((s) => s.appPasswordId === appPasswordId);
    for (const session of ended) {
      set.delete(session);
      session.revoked = 'app-password-revoked';
      for (const listener of session.listeners.splice(0)) this.call(listener, 'app-password-revoked');
    }
    if (set.size === 0) this.byAlias.delete(aliasId);
    return ended.length;
  }

  /** Ends every session of whichever alias owns the mailbox. */
  revokeMailbox(mailboxId: string, reason: RevokeReason): number {
    let told = 0;
    for (const [aliasId, set] of [...this.byAlias]) {
      if ([...set].some((s) => s.mailboxId === mailboxId)) told += this.revoke(aliasId, reason);
    }
    return told;
  }

  count(aliasId: string): number {
    return this.byAlias.get(aliasId)?.size ?? 0;
  }

  private call(listener: (reason: RevokeReason) => void, reason: RevokeReason): void {
    try {
      listener(reason);
    } catch (error) {
      this.onListenerError(error);
    }
  }
}
