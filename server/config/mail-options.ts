// The owner's on/off switches for mail behaviour that are saved in the directory (settings table) and read
// live (no restart). One table: the admin API, the Settings page and `sealpost settings` take their names,
// labels and help from here, and the engines take their setting keys.

/** Directory setting: POP3 DELE (then QUIT) moves messages to Trash instead of deleting them. */
export const POP3_DELETE_TO_TRASH_SETTING = 'pop3DeleteToTrash';
/** Directory setting: a logged-in alias may send From / MAIL FROM any address of its own domain. */
export const ALLOW_DOMAIN_SENDERS_SETTING = 'submissionAllowDomainSenders';

export interface MailOption {
  /** Key in the API and the settings table. */
  readonly key: string;
  /** Name on the command line (`sealpost settings set <name> on|off`). */
  readonly name: string;
  /** What the switch does, as the Settings page labels it. */
  readonly label: string;
  /** One line of help under the label. */
  readonly help: string;
}

export const MAIL_OPTIONS: readonly MailOption[] = [
  {
    key: POP3_DELETE_TO_TRASH_SETTING,
    name: 'pop3-delete-to-trash',
    label: 'Mail deleted by a POP3 app goes to Trash',
    help: 'When a POP3 app deletes a message from the server, move it to the Trash folder instead of deleting it for good.',
  },
  {
    key: ALLOW_DOMAIN_SENDERS_SETTING,
    name: 'send-as-domain',
    label: 'Mail apps may send as any address of their domain',
    help: 'Someone signed in as one address (you@example.org) may send from any other address at example.org, even one with no mailbox; off: only from their own address.',
  },
];

/** The switch with this CLI name or key, or undefined. */
export function findMailOption(nameOrKey: string): MailOption | undefined {
  return MAIL_OPTIONS.find((o) => o.name === nameOrKey || o.key === nameOrKey);
}

/** Whether a switch is on in saved settings (off unless saved as true). */
export function mailOptionOn(settings: { getSetting(key: string): unknown }, option: MailOption): boolean {
  return settings.getSetting(option.key) === true;
}

/** A limit of incoming mail the owner may change (saved setting; SEALPOST_* wins; the MX reads it at start). */
export interface MailLimit {
  /** Key in the API and the settings table. */
  readonly key: 'smtpMaxSize' | 'smtpMaxRecipients' | 'smtpSenderRate';
  /** Name on the command line (`sealpost settings set <name> <value>`). */
  readonly name: string;
  /** The variable that sets it instead. */
  readonly env: string;
  readonly label: string;
  readonly help: string;
  /** bytes (shown and typed as sizes) or a plain count. */
  readonly unit: 'bytes' | 'count';
  readonly min: number;
  readonly max?: number;
  /** Used when neither the environment nor a saved setting gives one. */
  readonly default: number;
}

export const MAIL_LIMITS: readonly MailLimit[] = [
  {
    key: 'smtpMaxSize',
    name: 'max-message-size',
    env: 'SEALPOST_SMTP_MAX_SIZE',
    label: 'Largest incoming message',
    help: 'Bigger messages are refused before they are sent (senders get a bounce saying the message is too large).',
    unit: 'bytes',
    min: 1024,
    max: 1024 ** 3,
    default: 50 * 1024 * 1024,
  },
  {
    key: 'smtpMaxRecipients',
    name: 'max-recipients',
    env: 'SEALPOST_SMTP_MAX_RECIPIENTS',
    label: 'Recipients per incoming message',
    help: 'How many of your addresses one incoming message may be addressed to at once.',
    unit: 'count',
    min: 1,
    max: 10_000,
    default: 100,
  },
  {
    key: 'smtpSenderRate',
    name: 'sender-rate',
    env: 'SEALPOST_SMTP_SENDER_RATE',
    label: 'Messages per sender per hour (0 = no limit)',
    help: 'More messages than this from one sending address in an hour are asked to try again later.',
    unit: 'count',
    min: 0,
    max: 1_000_000,
    default: 0,
  },
];

/** The limit with this CLI name or key, or undefined. */
export function findMailLimit(nameOrKey: string): MailLimit | undefined {
  return MAIL_LIMITS.find((l) => l.name === nameOrKey || l.key === nameOrKey);
}

/** The value a limit has: the variable's when set, else the saved one, else its default. */
export function mailLimitValue(limit: MailLimit, env: Readonly<Record<string, string | undefined>>, settings: { getSetting(key: string): unknown }): { readonly value: number; readonly setBy: string | null } {
  const fromEnv = env[limit.env]?.trim();
  if (fromEnv && /^\d{1,15}$/.test(fromEnv)) return { value: Number(fromEnv), setBy: limit.env };
  const saved = settings.getSetting(limit.key);
  return { value: typeof saved === 'number' ? saved : typeof saved === 'string' && /^\d{1,15}$/.test(saved.trim()) ? Number(saved) : limit.default, setBy: null };
}
