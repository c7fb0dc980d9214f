// Retention policy (grandfather-father-son) and its parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generationsToPrune, parseRetention, DEFAULT_RETENTION } from '../../server/backup/retention.js';
import { generationIdOf } from '../../server/backup/paths.js';

const gen = (iso: string, kind = 'scheduled') => ({ id: generationIdOf(new Date(iso)), time: new Date(iso).toISOString(), kind });

test('a year of daily backups keeps 7 daily, 4 weekly and 12 monthly generations by default', () => {
  const gens = Array.from({ length: 400 }, (_, i) => gen(new Date(Date.UTC(2024, 0, 1, 2, 30) + i * 86400000).toISOString()));
  const doomed = new Set(generationsToPrune(gens, DEFAULT_RETENTION, new Date('2025-02-05T00:00:00Z')).map((g) => g.id));
  const kept = gens.filter((g) => !doomed.has(g.id));
  // 7 newest days; the weekly picks fall on them or on 3 more Sundays; 12 month-ends (some overlapping).
  assert.ok(kept.length >= 12 && kept.length <= 7 + 4 + 12, `kept ${kept.length}`);
  const newest7 = gens.slice(-7).map((g) => g.id);
  for (const id of newest7) assert.ok(!doomed.has(id), 'the last 7 days are kept');
  const months = new Set(kept.map((g) => g.time.slice(0, 7)));
  assert.equal(months.size, 12, 'one per month for 12 months');
});

test('the newest generation is never pruned, and recent pre-restore generations are kept', () => {
  const gens = [gen('2025-01-01T00:00:00Z'), gen('2025-01-01T05:00:00Z', 'pre-restore'), gen('2025-01-01T06:00:00Z')];
  const doomed = generationsToPrune(gens, { daily: 0, weekly: 0, monthly: 0, preRestoreDays: 30 }, new Date('2025-01-02T00:00:00Z'));
  assert.deepEqual(doomed.map((g) => g.time), ['2025-01-01T00:00:00.000Z']);
  const later = generationsToPrune(gens, { daily: 0, weekly: 0, monthly: 0, preRestoreDays: 30 }, new Date('2025-03-01T00:00:00Z'));
  assert.deepEqual(later.map((g) => g.kind), ['scheduled', 'pre-restore']);
});

test('retention text parses like 7d,4w,12m and rejects anything else', () => {
  assert.deepEqual(parseRetention('3d,2w'), { ...DEFAULT_RETENTION, daily: 3, weekly: 2 });
  assert.deepEqual(parseRetention('24m'), { ...DEFAULT_RETENTION, monthly: 24 });
  assert.throws(() => parseRetention('7 days'), /not like 7d,4w,12m/);
});
