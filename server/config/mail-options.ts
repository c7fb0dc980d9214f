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
