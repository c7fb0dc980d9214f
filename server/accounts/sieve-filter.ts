// The "sieve" delivery filter: runs the mailbox's active Sieve script (RFC 5228) on a delivered or drained
// message and turns its outcome into the delivery decision (folders, flags, discard). Redirects and vacation
// replies leave through the OutboundPort, once per delivery (the sealed-queue item id guards a retried drain).
// A script that fails to compile or run leaves the decision as it was (RFC 5228 §2.10.6): mail is never lost.
import { createHash } from 'node:crypto';
import { wholeNumbersFromEnv, type NumericSetting } from '../config/env-values.js';
import type { Logger } from '../log.js';
import type { Mailbox } from '../mailbox/types.js';
import type { OutboundPort } from '../ports.js';
import { buildVacationReply, compileSieve, messageView, runSieve, SIEVE_LIMITS, vacationDue, type SieveLimits, type SieveMessageView, type SieveOutcome, type SieveVacationAction } from '../sieve/index.js';
import type { DeliveryDecision, DeliveryFilter, DeliveryFilterInput } from './delivery-filter.js';

type Env = Readonly<Record<string, string | undefined>>;
type NumericLimit = keyof SieveLimits;

/** SEALPOST_SIEVE_* → limit, with the smallest value that still makes sense. */
export const SIEVE_LIMITS_ENV: readonly NumericSetting<NumericLimit>[] = [
  { env: 'SEALPOST_SIEVE_MAX_SCRIPT_BYTES', key: 'maxScriptBytes', min: 1024, max: 1024 * 1024 },
  { env: 'SEALPOST_SIEVE_MAX_NESTING', key: 'maxNesting', min: 4, max: 64 },
  { env: 'SEALPOST_SIEVE_MAX_LIST_ITEMS', key: 'maxListItems', min: 16 },
  { env: 'SEALPOST_SIEVE_MAX_ACTIONS', key: 'maxActions', min: 1 },
  { env: 'SEALPOST_SIEVE_MAX_REDIRECTS', key: 'maxRedirects', min: 0 },
  { env: 'SEALPOST_SIEVE_MAX_VARIABLES', key: 'maxVariables', min: 16 },
  { env: 'SEALPOST_SIEVE_MAX_VARIABLE_LENGTH', key: 'maxVariableLength', min: 4000 },
  { env: 'SEALPOST_SIEVE_MAX_MATCH_VARIABLES', key: 'maxMatchVariables', min: 10, max: 100 },
  { env: 'SEALPOST_SIEVE_MAX_STEPS', key: 'maxSteps', min: 10_000 },
  { env: 'SEALPOST_SIEVE_MAX_BODY_BYTES', key: 'maxBodyBytes', min: 1024 },
  { env: 'SEALPOST_SIEVE_VACATION_MIN_DAYS', key: 'vacationMinDays', min: 1 },
  { env: 'SEALPOST_SIEVE_VACATION_MAX_DAYS', key: 'vacationMaxDays', min: 1, max: 365 },
];

/** The Sieve limits from SEALPOST_SIEVE_* (unset keeps the default); throws ConfigError naming a bad variable. */
export function sieveLimitsFromEnv(env: Env): SieveLimits {
  const limits = wholeNumbersFromEnv(env, SIEVE_LIMITS_ENV, { ...SIEVE_LIMITS });
  return { ...limits, vacationMaxDays: Math.max(limits.vacationMaxDays, limits.vacationMinDays) };
}

export interface SieveFilterOptions {
  /** Where redirects and vacation replies are queued; null while there is none (they are then skipped). */
  readonly outbound: () => OutboundPort | null;
  /** The server's host name, for the Message-ID of a vacation reply. */
  readonly hostname: string;
  readonly logger: Logger;
  readonly limits?: SieveLimits;
  readonly now?: () => Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** A key of the vacation log: a hash, never the address itself (RFC 5230 §4.2: per sender and :handle). */
const logKey = (...parts: string[]): Buffer => createHash('sha256').update(parts.join('\u0000')).digest();

export class SieveFilter implements DeliveryFilter {
  readonly name = 'sieve';
  private readonly limits: SieveLimits;
  private readonly now: () => Date;

  constructor(private readonly options: SieveFilterOptions) {
    this.limits = options.limits ?? SIEVE_LIMITS;
    this.now = options.now ?? (() => new Date());
  }

  async apply(input: DeliveryFilterInput, decision: DeliveryDecision): Promise<DeliveryDecision> {
    const script = input.mailbox.sieve.active();
    if (!script) return decision;
    const { logger } = this.options;
    let outcome: SieveOutcome;
    let view: SieveMessageView;
    try {
      const tree = compileSieve(script.content, this.limits);
      view = messageView(decision.raw, input.meta.envelope ?? null, this.limits.maxBodyBytes);
      outcome = runSieve(tree, view, this.limits);
    } catch (error) {
      logger.warn({ event: 'sieve.script_failed', aliasId: input.alias.id, err: error instanceof Error ? error.name : 'unknown' }, 'the active Sieve script could not run; the message is kept');
      return decision;
    }
    if (outcome.error) {
      // The reason is the interpreter's own sentence (a limit, a bad argument): it holds no message data.
      logger.info({ event: 'sieve.runtime_error', aliasId: input.alias.id, reason: outcome.error }, 'the Sieve script stopped; the message is kept');
    }
    const redirected = await this.outsideEffects(input, view, decision.raw, outcome);
    const decided = this.decide(decision, outcome);
    // A redirect that could not go out (no outbound queue, a loop) must not have cancelled the keep.
    return !redirected && decided.folders.length === 0 && outcome.redirects.length ? { ...decided, folders: [...decision.folders] } : decided;
  }

  /** Folders and flags from the script's stores: a keep is wherever the message was going already. */
  private decide(decision: DeliveryDecision, outcome: SieveOutcome): DeliveryDecision {
    const folders: string[] = [];
    const flags = new Set(decision.flags);
    for (const store of outcome.stores) {
      for (const folder of store.folder === null ? decision.folders : [store.folder]) if (!folders.includes(folder)) folders.push(folder);
      for (const flag of store.flags) flags.add(flag);
    }
    return { raw: decision.raw, folders, flags: [...flags] };
  }

  /** Sends what the script asked for; true when the redirects went out (or were sent by an earlier try). */
  private async outsideEffects(input: DeliveryFilterInput, view: SieveMessageView, raw: Buffer, outcome: SieveOutcome): Promise<boolean> {
    if (!outcome.redirects.length && !outcome.vacation) return true;
    const outbound = this.options.outbound();
    if (!outbound) return false;
    let redirected = true;
    const mailbox = input.mailbox;
    const now = this.now();
    const horizon = new Date(now.getTime() - this.limits.vacationMaxDays * DAY_MS);
    // Once per delivery: a drained item may be delivered again after a crash; the log remembers it was acted on.
    const once = (what: string): { done: boolean; mark: () => void } => {
      if (!input.dedupeKey) return { done: false, mark: () => undefined };
      const key = logKey('delivery', input.alias.id, input.dedupeKey, what);
      return { done: mailbox.sieve.lastVacationReply(key, horizon) !== null, mark: () => mailbox.sieve.recordVacationReply(key, now) };
    };
    if (outcome.redirects.length) {
      const guard = once('redirect');
      if (!guard.done) {
        redirected = await this.redirect(input, outbound, view, raw, outcome.redirects);
        guard.mark();
      }
    }
    if (outcome.vacation) {
      const guard = once('vacation');
      if (!guard.done) {
        guard.mark(); // before sending: a crash then costs one reply, never a second one
        await this.vacation(input, outbound, view, outcome.vacation, now, horizon, mailbox);
      }
    }
    return redirected;
  }

  /** Redirects (RFC 5228 §4.2) carry Delivered-To of this alias; a message that already has it is not sent again (a loop). */
  private async redirect(input: DeliveryFilterInput, outbound: OutboundPort, view: SieveMessageView, raw: Buffer, targets: readonly string[]): Promise<boolean> {
    const own = input.alias.address.toLowerCase();
    const delivered = view.header('delivered-to').map((v) => v.trim().toLowerCase());
    if (delivered.includes(own)) {
      this.options.logger.info({ event: 'sieve.redirect_loop', aliasId: input.alias.id }, 'a redirect would loop; not sent, the message is kept');
      return false;
    }
    const to = targets.filter((t) => t !== own);
    if (!to.length) return false;
    const marked = Buffer.concat([Buffer.from(`Delivered-To: ${input.alias.address}\r\n`, 'utf8'), raw]);
    const signed = outbound.dkimSign ? await outbound.dkimSign(marked, input.alias.domain) : marked;
    await outbound.enqueue({ from: input.alias.address, to, raw: signed, kind: 'forward', aliasId: input.alias.id });
    this.options.logger.info({ event: 'sieve.redirected', aliasId: input.alias.id, count: to.length }, 'message redirected by the Sieve script');
    return true;
  }

  private async vacation(input: DeliveryFilterInput, outbound: OutboundPort, view: SieveMessageView, action: SieveVacationAction, now: Date, horizon: Date, mailbox: Mailbox): Promise<void> {
    const own = [input.alias.address, ...action.addresses];
    const sender = vacationDue(view, own);
    if (!sender) return;
    const key = logKey('vacation', sender.toLowerCase(), action.handle);
    const last = mailbox.sieve.lastVacationReply(key, horizon);
    if (last && now.getTime() - last.getTime() < action.days * DAY_MS) return;
    mailbox.sieve.recordVacationReply(key, now);
    const from = action.from && own.some((a) => action.from!.toLowerCase().includes(a.toLowerCase())) ? action.from : input.alias.address;
    const reply = buildVacationReply({ action, message: view, from, to: sender, hostname: this.options.hostname, now });
    const raw = outbound.dkimSign ? await outbound.dkimSign(reply, input.alias.domain) : reply;
    // RFC 5230 §5.1 / RFC 3834 §4: the reply's envelope sender is empty, so nothing answers it automatically.
    await outbound.enqueue({ from: '', to: [sender], raw, kind: 'forward', aliasId: input.alias.id });
    this.options.logger.info({ event: 'sieve.vacation_sent', aliasId: input.alias.id }, 'vacation reply queued');
  }
}
