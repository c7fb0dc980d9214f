// Which generations to keep: the newest of each of the last N days, ISO weeks and months that have
// one (grandfather-father-son), plus always the newest, plus pre-restore copies younger than N days.
export interface RetentionPolicy {
  readonly daily: number;
  readonly weekly: number;
  readonly monthly: number;
  /** Pre-restore generations are the user's undo: kept this many days regardless of the buckets. */
  readonly preRestoreDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { daily: 7, weekly: 4, monthly: 12, preRestoreDays: 30 };

export interface Dated {
  readonly id: string;
  readonly time: string;
  readonly kind?: string;
}

function dayKey(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function isoWeekKey(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86400000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

function monthKey(d: Date): string {
  return d.toISOString().slice(0, 7);
}

/** Returns the generations to delete (the complement is kept). Input order does not matter. */
export function generationsToPrune<T extends Dated>(generations: readonly T[], policy: RetentionPolicy, now: Date = new Date()): T[] {
  const newestFirst = [...generations].sort((a, b) => b.id.localeCompare(a.id));
  const keep = new Set<string>();
  if (newestFirst[0]) keep.add(newestFirst[0].id);
  const regular = newestFirst.filter((g) => g.kind !== 'pre-restore');
  for (const [limit, keyOf] of [
    [policy.daily, dayKey],
    [policy.weekly, isoWeekKey],
    [policy.monthly, monthKey],
  ] as const) {
    const seen = new Set<string>();
    for (const g of regular) {
      const bucket = keyOf(new Date(g.time));
      if (seen.has(bucket)) continue;
      if (seen.size >= limit) break;
      seen.add(bucket);
      keep.add(g.id);
    }
  }
  const preRestoreCutoff = now.getTime() - policy.preRestoreDays * 86400000;
  for (const g of newestFirst) if (g.kind === 'pre-restore' && new Date(g.time).getTime() >= preRestoreCutoff) keep.add(g.id);
  return newestFirst.filter((g) => !keep.has(g.id)).reverse();
}

/** Parses "7d,4w,12m" (any subset, any order) over the defaults; throws on anything else. */
export function parseRetention(text: string, base: RetentionPolicy = DEFAULT_RETENTION): RetentionPolicy {
  const out: { -readonly [K in keyof RetentionPolicy]: RetentionPolicy[K] } = { ...base };
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d{1,4})([dwm])$/.exec(part);
    if (!m) throw new Error(`retention "${text}" is not like 7d,4w,12m`);
    const n = Number(m[1]);
    if (m[2] === 'd') out.daily = n;
    else if (m[2] === 'w') out.weekly = n;
    else out.monthly = n;
  }
  return out;
}
