// The admin's mail rules and vacation form, written as one Sieve script (RFC 5228) and read back from it.
// The form itself rides in a leading comment ("# sealpost-form: <base64url JSON>"), so the page shows what was
// saved; a script that is not exactly what the form generates (edited by a mail app) is someone else's.
// Pure: no I/O.

export const RULES_SCRIPT_NAME = 'sealpost';
const FORM_MARK = '# sealpost-form: ';

export type RuleField = 'from' | 'to' | 'subject' | 'header';
export type RuleMatch = 'contains' | 'is' | 'matches';
export type RuleAction = 'move' | 'read' | 'flag' | 'delete' | 'forward';

export interface MailRule {
  readonly field: RuleField;
  /** The header name when field is 'header'. */
  readonly header?: string;
  readonly match: RuleMatch;
  readonly value: string;
  readonly action: RuleAction;
  /** Folder for 'move'. */
  readonly folder?: string;
  /** Address for 'forward' (a copy is forwarded; the message is kept too). */
  readonly address?: string;
  /** Stop: later rules do not run for a message this rule matched. */
  readonly stop: boolean;
}

export interface VacationForm {
  readonly enabled: boolean;
  readonly subject: string;
  readonly text: string;
  /** Days between two replies to the same sender (RFC 5230 :days). */
  readonly days: number;
}

export interface MailRulesForm {
  readonly rules: readonly MailRule[];
  readonly vacation: VacationForm;
}

/** Bounds of the form (the script they make stays far below the Sieve script size limit). */
export const FORM_LIMITS = { maxRules: 50, maxValueChars: 500, maxVacationChars: 5000, minDays: 1, maxDays: 365 } as const;

/** A problem with the form, in words the page shows next to the field. */
export class MailRulesFormError extends Error {}

const HEADER_NAME = /^[!-9;-~]{1,76}$/; // RFC 5322 §3.6.8 field name
const ADDRESS = /^[^\s@"<>(),;:\\[\]]+@[^\s@"<>(),;:\\[\]]+\.[^\s@"<>(),;:\\[\]]+$/;

/** A Sieve quoted string (RFC 5228 §2.4.2): backslash and double quote escaped; line breaks as CRLF. */
export function sieveQuote(text: string): string {
  return `"${text.replace(/\r\n|\r|\n/g, '\r\n').replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Checks a form and returns it normalised; throws MailRulesFormError with what to fix. */
export function validateForm(form: MailRulesForm): MailRulesForm {
  if (form.rules.length > FORM_LIMITS.maxRules) throw new MailRulesFormError(`At most ${FORM_LIMITS.maxRules} rules.`);
  const rules = form.rules.map((rule, i): MailRule => {
    const n = `Rule ${i + 1}`;
    if (rule.value === '' || rule.value.length > FORM_LIMITS.maxValueChars) throw new MailRulesFormError(`${n}: the text to look for must be 1 to ${FORM_LIMITS.maxValueChars} characters.`);
    if (/[\0\r\n]/.test(rule.value)) throw new MailRulesFormError(`${n}: the text to look for must be on one line.`);
    const out: { -readonly [K in keyof MailRule]: MailRule[K] } = { field: rule.field, match: rule.match, value: rule.value, action: rule.action, stop: rule.stop };
    if (rule.field === 'header') {
      if (!HEADER_NAME.test(rule.header ?? '')) throw new MailRulesFormError(`${n}: a header name is letters, digits and dashes, such as List-Id.`);
      out.header = rule.header;
    }
    if (rule.action === 'move') {
      const folder = rule.folder ?? '';
      if (folder === '' || folder.length > 200 || /[\0\r\n]/.test(folder)) throw new MailRulesFormError(`${n}: choose a folder to move the message to.`);
      out.folder = folder;
    }
    if (rule.action === 'forward') {
      if (!ADDRESS.test(rule.address ?? '')) throw new MailRulesFormError(`${n}: enter the address to forward to, such as you@example.com.`);
      out.address = rule.address;
    }
    return out;
  });
  const v = form.vacation;
  if (!Number.isInteger(v.days) || v.days < FORM_LIMITS.minDays || v.days > FORM_LIMITS.maxDays) throw new MailRulesFormError(`Days between replies must be ${FORM_LIMITS.minDays} to ${FORM_LIMITS.maxDays}.`);
  if (v.subject.length > FORM_LIMITS.maxValueChars || /[\0\r\n]/.test(v.subject)) throw new MailRulesFormError('The reply subject must be one line of at most 500 characters.');
  if (v.text.length > FORM_LIMITS.maxVacationChars || v.text.includes('\0')) throw new MailRulesFormError(`The reply text may have at most ${FORM_LIMITS.maxVacationChars} characters.`);
  if (v.enabled && v.text.trim() === '') throw new MailRulesFormError('Write the reply text, or turn the automatic reply off.');
  return { rules, vacation: { enabled: v.enabled, subject: v.subject, text: v.text, days: v.days } };
}

/** The Sieve script for a form (validated first). Vacation runs first, so a rule's stop never silences it. */
export function generateScript(input: MailRulesForm): string {
  const form = validateForm(input);
  const needs = new Set<string>();
  const body: string[] = [];
  const v = form.vacation;
  if (v.enabled) {
    needs.add('vacation');
    const subject = v.subject.trim() === '' ? '' : ` :subject ${sieveQuote(v.subject)}`;
    body.push(`vacation :days ${v.days}${subject} ${sieveQuote(v.text)};`);
  }
  for (const rule of form.rules) {
    const name = rule.field === 'header' ? rule.header! : rule.field;
    const actions: string[] = [];
    switch (rule.action) {
      case 'move':
        needs.add('fileinto');
        actions.push(`fileinto ${sieveQuote(rule.folder!)};`);
        break;
      case 'read':
        needs.add('imap4flags');
        actions.push('addflag "\\\\Seen";');
        break;
      case 'flag':
        needs.add('imap4flags');
        actions.push('addflag "\\\\Flagged";');
        break;
      case 'delete':
        actions.push('discard;');
        break;
      case 'forward':
        needs.add('copy');
        actions.push(`redirect :copy ${sieveQuote(rule.address!)};`);
        break;
    }
    if (rule.stop) actions.push('stop;');
    body.push(`if header :${rule.match} ${sieveQuote(name)} ${sieveQuote(rule.value)} {\r\n${actions.map((a) => `  ${a}`).join('\r\n')}\r\n}`);
  }
  const order = ['fileinto', 'imap4flags', 'copy', 'vacation'];
  const requires = order.filter((n) => needs.has(n));
  const lines = [
    '# Mail rules and automatic reply made on the Sealpost admin page; edit them there.',
    `${FORM_MARK}${Buffer.from(JSON.stringify(form)).toString('base64url')}`,
    ...(requires.length ? [`require [${requires.map((n) => sieveQuote(n)).join(', ')}];`] : []),
    ...body,
  ];
  return `${lines.join('\r\n')}\r\n`;
}

/** The form a script was made from, when it is exactly what that form generates; null for any other script. */
export function readForm(script: string): MailRulesForm | null {
  const line = script.split('\r\n').find((l) => l.startsWith(FORM_MARK));
  if (!line) return null;
  try {
    const form = JSON.parse(Buffer.from(line.slice(FORM_MARK.length), 'base64url').toString('utf8')) as MailRulesForm;
    return generateScript(form) === script ? validateForm(form) : null;
  } catch {
    return null;
  }
}

export const EMPTY_FORM: MailRulesForm = { rules: [], vacation: { enabled: false, subject: '', text: '', days: 7 } };
