// The junk classifier's pure parts: tokenizer, Robinson/Fisher scoring, the headers it reads and writes.
// Its counts live inside each alias's encrypted mailbox file (server/mailbox), the filter in server/accounts.
export { DEFAULT_TOKENIZE_LIMITS, tokenize, type TokenizeLimits } from './tokenize.js';
export {
  DEFAULT_JUNK_SETTINGS, junkIndicator, scoreMessage, tokenProbability,
  type JunkScore, type JunkSettings, type JunkVerdict, type TokenCounts, type TrainingCounts,
} from './classify.js';
export {
  JUNK_HEADER, junkHeaderLine, readJunkHeader, RSPAMD_ACTIONS, RSPAMD_HEADER, rspamdHeaderLine, rspamdVerdict,
  stripJunkHeaders, stripRspamdHeaders, trustedMxTokens, trustedRspamdAction, type RspamdAction,
} from './headers.js';
export { DEFAULT_JUNK_STORE_LIMITS, junkSettingsFromEnv, type JunkFilterSettings, type JunkStoreLimits } from './settings.js';
