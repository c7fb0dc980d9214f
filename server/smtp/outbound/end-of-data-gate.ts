// The end-of-data gate: one message at a time, process-wide, between its final "." and the durable record
// of the remote's reply. A remote may take responsibility for a message as soon as it has the final dot, and
// until our commit of its 250 a kill -9 makes us send that message again (SMTP has no exactly-once
// handshake, RFC 5321 §6.1). While one transaction holds the gate, the others have sent their envelope and
// body but not their dot, so a remote can only discard them: a kill duplicates at most one message.
// Cost: the dot → reply → commit step of parallel connections runs one after another (see docs/sending.md).
// A remote that has not answered a final dot within `maxHoldMs` loses its hold (the others' dots go on):
// a slow or tarpitting MX delays the rest by at most that, and only such a message adds to the bound.

/** One ask for the gate: `granted` resolves when it is held; release() hands it on or withdraws the ask. */
export interface GateTicket {
  readonly granted: Promise<void>;
  /** Idempotent; safe before the grant (the ask is withdrawn) and after. */
  release(): void;
}

interface Ticket extends GateTicket {
  readonly grant: () => void;
  released: boolean;
  timer: NodeJS.Timeout | null;
}

export class EndOfDataGate {
  private holder: Ticket | null = null;
  private readonly waiting: Ticket[] = [];

  /**
   * @param maxHoldMs longest hold before the gate is handed on without the holder's reply
   * @param onOverdue told each time that happens
   */
  constructor(
    private readonly maxHoldMs: number,
    private readonly onOverdue: () => void = () => undefined,
  ) {}

  /** Asks for the gate; first come, first served. */
  request(): GateTicket {
    let grant: () => void = () => undefined;
    const granted = new Promise<void>((resolve) => (grant = resolve));
    const ticket: Ticket = { granted, grant, released: false, timer: null, release: () => this.release(ticket) };
    if (this.holder === null) this.hand(ticket);
    else this.waiting.push(ticket);
    return ticket;
  }

  private release(ticket: Ticket): void {
    if (ticket.released) return;
    ticket.released = true;
    if (this.holder !== ticket) {
      const at = this.waiting.indexOf(ticket);
      if (at >= 0) this.waiting.splice(at, 1);
      return;
    }
    if (ticket.timer) clearTimeout(ticket.timer);
    // handed on synchronously: nobody can slip in between this release and the next grant
    this.holder = null;
    const next = this.waiting.shift();
    if (next) this.hand(next);
  }

  private hand(ticket: Ticket): void {
    this.holder = ticket;
    ticket.timer = setTimeout(() => {
      if (this.holder !== ticket) return;
      this.onOverdue();
      ticket.release();
    }, this.maxHoldMs);
    ticket.timer.unref();
    ticket.grant();
  }
}
