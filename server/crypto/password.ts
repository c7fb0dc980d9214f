// Generated alias passwords and the strength check applied to chosen ones.
import { randomInt } from 'node:crypto';
import { randomBytes, wipe } from './bytes.js';

/** 32 symbols, lowercase and digits without the look-alikes 0/o and 1/l: 5 bits each. */
export const PASSWORD_ALPHABET = '23456789abcdefghijkmnpqrstuvwxyz';
const GROUPS = 6;
const GROUP_LENGTH = 5;
/** Entropy of generatePassword(): 6 groups × 5 symbols × 5 bits = 150 bits. */
export const GENERATED_PASSWORD_BITS = GROUPS * GROUP_LENGTH * Math.log2(PASSWORD_ALPHABET.length);

/** A random password like `k7m2q-x9ahd-…` (6 groups of 5, 150 bits): easy to type, no quotes, no ambiguous characters. */
export function generatePassword(): string {
  const bytes = randomBytes(GROUPS * GROUP_LENGTH);
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0 && i % GROUP_LENGTH === 0) out += '-';
    out += PASSWORD_ALPHABET[bytes[i]! & 31]; // 256 is a multiple of 32, so this is unbiased.
  }
  wipe(bytes);
  return out;
}

/** App passwords: 7 groups of 4 lowercase letters (`abcd-efgh-…`), easy to type on a phone keyboard. */
const APP_GROUPS = 7;
const APP_GROUP_LENGTH = 4;
const APP_LETTERS = 'abcdefghijklmnopqrstuvwxyz';
/** Entropy of generateAppPassword(): 28 letters × log2(26) ≈ 131.6 bits. */
export const APP_PASSWORD_BITS = APP_GROUPS * APP_GROUP_LENGTH * Math.log2(APP_LETTERS.length);

/** A random app password like `qzrt-mbxe-…` (28 letters from a-z, unbiased, ≈ 131.6 bits). */
export function generateAppPassword(): string {
  let out = '';
  for (let i = 0; i < APP_GROUPS * APP_GROUP_LENGTH; i++) {
    if (i > 0 && i % APP_GROUP_LENGTH === 0) out += '-';
    out += APP_LETTERS[randomInt(APP_LETTERS.length)];
  }
  return out;
}

/**
 * The canonical form of a typed app password (letters only, lowercase: dashes, spaces and a phone's
 * auto-capitalisation do not matter), or null when the text cannot be one (so no derivation is spent on it).
 */
export function canonicalAppPassword(typed: string): string | null {
  if (typed.length > 4 * APP_GROUPS * APP_GROUP_LENGTH) return null;
  const letters = typed.replace(/[\s-]/g, '').toLowerCase();
  return letters.length === APP_GROUPS * APP_GROUP_LENGTH && /^[a-z]+$/.test(letters) ? letters : null;
}

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

// A few of the most used passwords/stems (lowercase); a password built on one of them is refused.
const COMMON = [
  'password', 'passwort', 'motdepasse', 'contraseña', 'qwerty', 'qwertz', 'azerty', 'asdfgh', 'zxcvbn',
  'letmein', 'iloveyou', 'welcome', 'admin', 'administrator', 'monkey', 'dragon', 'master', 'sunshine',
  'princess', 'football', 'baseball', 'superman', 'batman', 'trustno1', 'whatever', 'shadow', 'michael',
  'jennifer', 'charlie', 'freedom', 'starwars', 'secret', 'changeme', 'default', 'login', 'passw0rd',
  'p@ssw0rd', 'p@ssword', 'abc123', 'abcdef', '123456', '654321', '111111', '000000', '123123', 'mypass',
  'sealpost', 'email', 'mailbox', 'hunter2', 'test', 'testing', 'guest', 'root', 'access', 'hello',
];

/** Share of adjacent character pairs that repeat or step by ±1 (aaaa, abcd, 4321, …). */
function sequentialShare(pw: string): number {
  let steps = 0;
  for (let i = 1; i < pw.length; i++) {
    const d = pw.charCodeAt(i) - pw.charCodeAt(i - 1);
    if (d >= -1 && d <= 1) steps++;
  }
  return steps / Math.max(1, pw.length - 1);
}

/** Options of checkPasswordStrength. */
export interface PasswordCheckOptions {
  /** The alias address; a password containing its local part (or domain name) is refused. */
  readonly address?: string;
}

/** Returns null when the password is acceptable, else one sentence saying why not. */
export function checkPasswordStrength(pw: string, options: PasswordCheckOptions = {}): string | null {
  const chars = [...pw];
  if (chars.length < MIN_PASSWORD_LENGTH) return `The password is too short: use at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (chars.length > MAX_PASSWORD_LENGTH) return `The password is too long: use at most ${MAX_PASSWORD_LENGTH} characters.`;
  if (chars.some((c) => c.charCodeAt(0) < 0x20 || c === '\u007f')) return 'The password must not contain control characters or line breaks.';
  if (pw.trim() !== pw) return 'The password must not start or end with a space.';
  if (new Set(chars).size < 5) return 'The password repeats too few different characters: use at least 5 different ones.';
  if (sequentialShare(pw) >= 0.7) return 'The password is a simple sequence or repetition of characters.';
  const lower = pw.toLowerCase();
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((re) => re.test(pw)).length;
  if (classes === 1 && chars.length < 16) {
    return 'The password uses only one kind of character: make it at least 16 characters long or mix letters, digits and symbols.';
  }
  for (const word of COMMON) {
    if (!lower.includes(word)) continue;
    const rest = lower.split(word).join('');
    if ([...rest].length < 8) return 'The password is built on a commonly used password: choose something less guessable.';
  }
  if (options.address) {
    const at = options.address.lastIndexOf('@');
    const local = (at >= 0 ? options.address.slice(0, at) : options.address).split('+')[0]!.toLowerCase();
    const domainLabel = at >= 0 ? options.address.slice(at + 1).toLowerCase().split('.')[0]! : '';
    if (local.length >= 3 && lower.includes(local)) return 'The password must not contain the address it protects.';
    if (domainLabel.length >= 4 && lower.includes(domainLabel)) return 'The password must not contain the domain name of its address.';
  }
  return null;
}
