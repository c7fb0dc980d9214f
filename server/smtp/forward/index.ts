// Forwarding: an alias hands each received message to the outbound queue for its forward targets,
// with the envelope sender rewritten by SRS so SPF passes at the target. Loops are stopped two ways:
// a per-alias loop token header (a message that already went through this alias's forwarding is
// not forwarded again) and the hop count (too many Received headers → refused by the MX).
import { createHmac } from 'node:crypto';
import { Srs, type SrsOptions } from './srs.js';

export { Srs, SRS_MAX_AGE_DAYS, SRS_HASH_LENGTH, type SrsOptions, type SrsRefusal, type SrsVerdict } from './srs.js';

export interface ForwardTarget {
  readonly target: string;
  readonly keepCopy: boolean;
}

export interface ForwardPlan {
  /** External addresses to forward to (empty when none or when a loop was detected). */
  readonly targets: string[];
  /** Deliver to the alias's own mailbox too. */
  readonly keepLocal: boolean;
  /** The message already passed through this alias's forwarding. */
  readonly loop: boolean;
}

export const LOOP_HEADER = 'X-Sealpost-Loop';

export class Forwarder {
  readonly srs: Srs;

  /** `secret`: at least 16 bytes, stable across restarts (SRS addresses in flight must still verify). */
  constructor(
    private readonly secret: Buffer,
    srsOptions: SrsOptions = {},
  ) {
    this.srs = new Srs(secret, srsOptions);
  }

  /** Opaque per-alias token; reveals nothing about the alias to the target. */
  loopToken(aliasId: string): string {
    return createHmac('sha256', this.secret).update(`loop\0${aliasId}`).digest('base64url').slice(0, 22);
  }

  /** Decides what happens to a message for an alias with these forwards. */
  plan(aliasId: string, forwards: readonly ForwardTarget[], headerBlock: string, canForward = true): ForwardPlan {
    if (!forwards.length) return { targets: [], keepLocal: true, loop: false };
    const token = this.loopToken(aliasId);
    const loop = new RegExp(`^${LOOP_HEADER}:[ \\t]*${token}[ \\t]*$`, 'im').test(headerBlock);
    if (loop || !canForward) {
      // Never drop mail: a looping or unforwardable message stays in the alias's own mailbox.
      return { targets: [], keepLocal: true, loop };
    }
    return {
      targets: forwards.map((f) => f.target),
      keepLocal: forwards.some((f) => f.keepCopy),
      loop: false,
    };
  }

  /** The message with this alias's loop token prepended (what goes to the forward targets). */
  markForwarded(aliasId: string, raw: Buffer): Buffer {
    return Buffer.concat([Buffer.from(`${LOOP_HEADER}: ${this.loopToken(aliasId)}\r\n`), raw]);
  }
}

/** Count of Received headers in a header block (the hop count RFC 5321 §6.3 loop check uses). */
export function hopCount(headerBlock: string): number {
  return headerBlock.match(/^received:/gim)?.length ?? 0;
}
