// The junk delivery filter: scores a message with the alias's own classifier (its counts live in the alias's
// encrypted mailbox, so it runs only once the mailbox is open: at once, or at drain for mail sealed while locked),
// records the verdict in an X-Sealpost-Junk header (any a sender wrote is removed first) and files spam into the
// \Junk folder when the message was headed for INBOX (an earlier routing, such as DMARC quarantine, stays).
// When our MX asked the owner's rspamd (X-Sealpost-Rspamd above its Received field), rspamd's action decides instead
// of the Bayes score ("by=rspamd"); an "error" there falls back to the Bayes verdict. Training on moves is the same.
// Off (SEALPOST_JUNK=off, or the alias's own switch): the sender's header is still removed, nothing else happens.
import {
  junkHeaderLine, rspamdVerdict, scoreMessage, stripJunkHeaders, tokenize, trustedMxTokens, trustedRspamdAction,
  type JunkFilterSettings, type JunkScore,
} from '../junk/index.js';
import type { Logger } from '../log.js';
import type { Mailbox } from '../mailbox/types.js';
import type { DeliveryDecision, DeliveryFilter, DeliveryFilterInput } from './delivery-filter.js';

export interface JunkFilterOptions {
  readonly settings: JunkFilterSettings;
  /** Our host name: the authserv-id of the Authentication-Results our MX prepends (no other is trusted). */
  readonly authservId: string;
  readonly logger?: Logger;
  /** The alias's own switch (the admin UI, `sealpost junk on|off`); off: the header is stripped, nothing scored or filed. */
  readonly aliasOn?: (aliasId: DeliveryFilterInput['alias']['id']) => boolean;
}

/** The path of the mailbox's \Junk folder ("Junk" in a new mailbox). */
function junkFolder(mailbox: Mailbox): string {
  return mailbox.listFolders().find((f) => f.specialUse === '\\Junk' && !f.noselect)?.path ?? 'Junk';
}

const isInboxOnly = (folders: readonly string[]): boolean => folders.length === 1 && folders[0]!.toUpperCase() === 'INBOX';

export function createJunkFilter(options: JunkFilterOptions): DeliveryFilter {
  const { settings, authservId } = options;
  return {
    name: 'junk',
    async apply(input: DeliveryFilterInput, decision: DeliveryDecision): Promise<DeliveryDecision> {
      // Removed whatever happens next: a sender's X-Sealpost-Junk must never reach the mailbox or a later filter.
      const raw = stripJunkHeaders(decision.raw);
      const stripped: DeliveryDecision = { ...decision, raw };
      if (!settings.enabled || options.aliasOn?.(input.alias.id) === false) return stripped;
      try {
        const { mailbox } = input;
        // Owner's moves not yet learned count before this message is judged.
        await mailbox.trainQueuedJunk();
        const action = trustedRspamdAction(raw);
        const byRspamd = action ? rspamdVerdict(action) : null;
        let result: JunkScore;
        if (byRspamd) result = { score: byRspamd === 'spam' ? 1 : 0, verdict: byRspamd, clues: 0 };
        else {
          // Before any training no token has counts, so the score is the prior whatever the words: skip reading them.
          const untrained = mailbox.junkCounts([]);
          if (untrained.spamMessages + untrained.hamMessages === 0) result = scoreMessage([], untrained, settings.scoring);
          else {
            const tokens = tokenize(raw, settings.limits, trustedMxTokens(raw, authservId));
            result = scoreMessage(tokens, mailbox.junkCounts(tokens), settings.scoring);
          }
        }
        const header = Buffer.from(junkHeaderLine(result, byRspamd ? 'rspamd' : 'bayes'), 'latin1');
        const folders = result.verdict === 'spam' && isInboxOnly(decision.folders) ? [junkFolder(mailbox)] : decision.folders;
        return { ...decision, raw: Buffer.concat([header, raw]), folders };
      } catch (error) {
        options.logger?.warn(
          { event: 'junk.classify_failed', aliasId: input.alias.id, err: error instanceof Error ? error.name : 'unknown' },
          'the junk filter could not classify a message; it is stored unclassified',
        );
        return stripped;
      }
    },
  };
}
