// The admin's own recent events (logins, lockouts, jobs) in a small in-memory ring, merged with the
// directory audit log for /api/logs. Entries hold ids, counts and outcomes only — never addresses or secrets.
export interface AdminEvent {
  readonly time: string;
  readonly event: string;
  readonly aliasId: string | null;
  readonly detail: Readonly<Record<string, string | number | boolean | null>> | null;
  readonly source: 'admin' | 'audit';
}

export class EventRing {
  private readonly entries: AdminEvent[] = [];

  constructor(private readonly capacity = 500) {}

  add(event: string, detail: AdminEvent['detail'] = null, aliasId: string | null = null): void {
    this.entries.push({ time: new Date().toISOString(), event, aliasId, detail, source: 'admin' });
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  /** Newest first. */
  recent(limit: number): AdminEvent[] {
    return this.entries.slice(-limit).reverse();
  }
}
