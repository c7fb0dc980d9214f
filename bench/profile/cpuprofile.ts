// Reading V8 .cpuprofile files (node --cpu-prof): self time per function and per area, counted only for the
// samples inside a time window, with positions in the esbuild bundle (dist/server/*.js) mapped back to the
// TypeScript sources through their linked source maps (node:module SourceMap, no extra dependency).
//
// Clock: sample times are microseconds of the monotonic clock V8 shares with process.hrtime on the same
// machine, so a window taken with hrtimeMicros() in the benchmark process selects the server's samples.
import fs from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Microseconds of the monotonic clock, comparable with .cpuprofile sample times. */
export function hrtimeMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export interface FunctionTime {
  readonly name: string;
  /** Source position: repo-relative path (or package/path, or node:module) and 1-based line. */
  readonly where: string;
  readonly area: string;
  readonly selfMs: number;
  /**
   * Part of selfMs that came from gaps of more than LONG_GAP_US between two samples: the thread could not be
   * sampled (blocked in a system call such as fsync, or the process was not scheduled on a busy machine).
   */
  readonly gapMs: number;
}

export interface AreaTime {
  readonly area: string;
  readonly selfMs: number;
}

export interface ThreadProfile {
  readonly file: string;
  /** 0 for the main thread, the worker's thread id otherwise. */
  readonly thread: number;
  /** Sampled time inside the window, ms (≈ the window on the main thread). */
  readonly sampledMs: number;
  /** Sampled time that was not (idle), ms. */
  readonly busyMs: number;
  readonly functions: readonly FunctionTime[];
  readonly areas: readonly AreaTime[];
}

/** A gap between samples longer than this (µs) is reported as such: see FunctionTime.gapMs. */
export const LONG_GAP_US = 5000;

/** better-sqlite3's native methods: V8 shows them as frames without a script. */
const SQLITE_NATIVE = new Set(['run', 'get', 'all', 'iterate', 'prepare', 'exec', 'raw', 'pluck', 'expand', 'bind', 'columns', 'safeIntegers', 'serialize', 'backup', 'loadExtension', 'close', 'key', 'rekey']);
const SPECIAL = new Set(['(garbage collector)', '(idle)', '(program)', '(root)']);

export class ProfileReader {
  readonly #repo: string;
  readonly #maps = new Map<string, SourceMap | null>();

  constructor(repo: string) {
    this.#repo = repo;
  }

  /** Self time per function and area of one profile, for samples in [fromUs, toUs] (whole profile when omitted). */
  read(file: string, window?: { fromUs: number; toUs: number }): ThreadProfile {
    const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
    const byId = new Map<number, ProfileNode>();
    const parent = new Map<number, number>();
    for (const node of profile.nodes) {
      byId.set(node.id, node);
      for (const child of node.children ?? []) parent.set(child, node.id);
    }
    // Self time of a sample = the gap to the next sample (the last one gets the mean gap).
    const selfUs = new Map<number, number>();
    const gapUs = new Map<number, number>();
    const times: number[] = [];
    let t = profile.startTime;
    for (const delta of profile.timeDeltas) {
      t += delta;
      times.push(t);
    }
    const meanGap = times.length > 1 ? (times[times.length - 1]! - times[0]!) / (times.length - 1) : 1000;
    let sampledUs = 0;
    for (let i = 0; i < profile.samples.length; i++) {
      const at = times[i]!;
      if (window && (at < window.fromUs || at > window.toUs)) continue;
      const gap = i + 1 < times.length ? times[i + 1]! - at : meanGap;
      const id = profile.samples[i]!;
      selfUs.set(id, (selfUs.get(id) ?? 0) + gap);
      if (gap > LONG_GAP_US) gapUs.set(id, (gapUs.get(id) ?? 0) + gap);
      sampledUs += gap;
    }

    const functions = new Map<string, { name: string; where: string; area: string; us: number; gapUs: number }>();
    const areas = new Map<string, number>();
    let idleUs = 0;
    for (const [id, us] of selfUs) {
      const node = byId.get(id)!;
      const { name, where, area } = this.#locate(node, byId, parent);
      if (name === '(idle)') idleUs += us;
      const key = `${name}\u0000${where}`;
      const entry = functions.get(key) ?? { name, where, area, us: 0, gapUs: 0 };
      entry.us += us;
      entry.gapUs += gapUs.get(id) ?? 0;
      functions.set(key, entry);
      areas.set(area, (areas.get(area) ?? 0) + us);
    }
    const thread = Number(/\.\d+\.(\d+)\.\d+\.cpuprofile$/.exec(path.basename(file))?.[1] ?? 0);
    return {
      file,
      thread,
      sampledMs: sampledUs / 1000,
      busyMs: (sampledUs - idleUs) / 1000,
      functions: [...functions.values()].map((f) => ({ name: f.name, where: f.where, area: f.area, selfMs: f.us / 1000, gapMs: f.gapUs / 1000 })).sort((a, b) => b.selfMs - a.selfMs),
      areas: [...areas].map(([area, us]) => ({ area, selfMs: us / 1000 })).sort((a, b) => b.selfMs - a.selfMs),
    };
  }

  #locate(node: ProfileNode, byId: ReadonlyMap<number, ProfileNode>, parent: ReadonlyMap<number, number>): { name: string; where: string; area: string } {
    const frame = node.callFrame;
    const name = frame.functionName || '(anonymous)';
    if (SPECIAL.has(name) && frame.url === '') return { name, where: '', area: name };
    if (frame.url === '') {
      // A native (C++) function: better-sqlite3 by name, else charged to the area of the JavaScript that called it.
      if (SQLITE_NATIVE.has(name)) return { name, where: '(native)', area: 'better-sqlite3' };
      let up = parent.get(node.id);
      while (up !== undefined && byId.get(up)!.callFrame.url === '') up = parent.get(up);
      const caller = up === undefined ? null : this.#position(byId.get(up)!.callFrame);
      return { name, where: '(native)', area: caller ? `native via ${caller.area}` : 'native' };
    }
    const position = this.#position(frame);
    return { name, where: position.where, area: position.area };
  }

  #position(frame: CallFrame): { where: string; area: string } {
    const { url } = frame;
    if (url.startsWith('node:')) return { where: `${url}:${frame.lineNumber + 1}`, area: 'node:internal' };
    let file: string;
    try {
      file = url.startsWith('file:') ? fileURLToPath(url) : url;
    } catch {
      return { where: url, area: 'other' };
    }
    let line = frame.lineNumber + 1;
    const mapped = this.#mapped(file, frame.lineNumber, frame.columnNumber);
    if (mapped) {
      file = mapped.file;
      line = mapped.line;
    }
    const modules = file.lastIndexOf(`${path.sep}node_modules${path.sep}`);
    if (modules >= 0) {
      const rest = file.slice(modules + 14).split(path.sep);
      const pkg = rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
      const inner = rest.slice(pkg.includes('/') ? 2 : 1).join('/');
      return { where: `${pkg}/${inner}:${line}`, area: packageArea(pkg, inner) };
    }
    const rel = path.relative(this.#repo, file).split(path.sep).join('/');
    if (rel.startsWith('..')) return { where: `${file}:${line}`, area: 'other' };
    return { where: `${rel}:${line}`, area: sourceArea(rel) };
  }

  /** The original position through the file's linked source map (dist/server), or null. */
  #mapped(file: string, line0: number, column0: number): { file: string; line: number } | null {
    if (!file.endsWith('.js') && !file.endsWith('.mjs')) return null;
    let map = this.#maps.get(file);
    if (map === undefined) {
      map = null;
      try {
        map = new SourceMap(JSON.parse(fs.readFileSync(`${file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
      } catch {
        // No map: the position stays in the JavaScript file.
      }
      this.#maps.set(file, map);
    }
    if (!map || line0 < 0) return null;
    const entry = map.findEntry(line0, Math.max(0, column0)) as { originalSource?: string; originalLine?: number };
    if (!entry.originalSource || entry.originalLine === undefined) return null;
    const source = entry.originalSource.startsWith('file:') ? fileURLToPath(entry.originalSource) : path.resolve(path.dirname(file), entry.originalSource);
    return { file: source, line: entry.originalLine + 1 };
  }
}

/** server/<folder> for the server's sources, the folder of anything else in the repo. */
function sourceArea(rel: string): string {
  const parts = rel.split('/');
  if (parts[0] === 'server') return parts.length > 2 ? `server/${parts[1]}` : 'server';
  if (parts[0] === 'dist') return 'dist (unmapped)';
  return parts[0] ?? rel;
}

function packageArea(pkg: string, inner: string): string {
  if (pkg === '@zone-eu/wildduck') {
    if (inner.includes('indexer')) return 'wildduck indexer';
    if (inner.includes('pop3')) return 'wildduck pop3';
    return 'wildduck';
  }
  if (pkg.startsWith('better-sqlite3')) return 'better-sqlite3';
  return pkg;
}
