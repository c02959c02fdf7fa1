/** Summarises a V8 `.cpuprofile` (node --cpu-prof): top functions by self time. */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  readonly fn: string;
  readonly where: string;
  readonly ms: number;
  readonly pct: number;
}

/** Self time per function (name + file:line), largest first; `root` trims file URLs to repo-relative paths. */
export function topSelfTime(file: string, root: string, limit = 25): { total: number; rows: SelfTime[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] as number;
    // timeDeltas[i] is the time before sample i; attribute the next delta to this sample.
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const agg = new Map<string, { fn: string; where: string; ms: number }>();
  let total = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (!n) continue;
    total += ms;
    const cf = n.callFrame;
    const url = cf.url.replace(/^file:\/\//, '').replace(`${root}/`, '');
    const fn = cf.functionName || '(anonymous)';
    const where = url ? `${url}:${cf.lineNumber + 1}` : '';
    const key = `${fn}@${where}`;
    const a = agg.get(key) ?? { fn, where, ms: 0 };
    a.ms += ms;
    agg.set(key, a);
  }
  const rows = [...agg.values()]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, limit)
    .map((r) => ({ ...r, pct: (100 * r.ms) / total }));
  return { total, rows };
}

/** Self time grouped by source file (node_modules packages collapsed), largest first. */
export function selfTimeByFile(file: string, root: string, limit = 15): { file: string; ms: number; pct: number }[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const agg = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i] as number);
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    if (!n) continue;
    total += dt;
    let url = n.callFrame.url.replace(/^file:\/\//, '').replace(`${root}/`, '');
    const nm = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
    if (nm) url = `node_modules/${nm[1]}`;
    if (url === '') url = `(${n.callFrame.functionName || 'native'})`;
    agg.set(url, (agg.get(url) ?? 0) + dt);
  }
  return [...agg]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([f, ms]) => ({ file: f, ms, pct: (100 * ms) / total }));
}

/** Self time by category: the first matching pattern (over the file path or native name) wins. */
export function selfTimeByCategory(
  file: string,
  root: string,
  categories: readonly (readonly [name: string, pattern: RegExp])[],
): { category: string; ms: number; pct: number }[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const agg = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i] as number);
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    if (!n) continue;
    total += dt;
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(`${root}/`, '');
    const key = url || `(${n.callFrame.functionName || 'native'})`;
    const cat = categories.find(([, re]) => re.test(key))?.[0] ?? 'other';
    agg.set(cat, (agg.get(cat) ?? 0) + dt);
  }
  return [...agg].sort((a, b) => b[1] - a[1]).map(([category, ms]) => ({ category, ms, pct: (100 * ms) / total }));
}

/** Categories for a local-mode profile: whose code the CPU ran. */
export const LOCAL_CATEGORIES: readonly (readonly [string, RegExp])[] = [
  [
    'AWS SDK clients (serialise, sign, parse; incl. node:crypto hashing)',
    /node_modules\/(@smithy|@aws-sdk|@aws-crypto)|node:internal\/crypto\/(hash|keys)/,
  ],
  [
    'emulators (dynalite + LevelDB-in-memory, fauxqs + fastify)',
    /node_modules\/(dynalite|level|abstract-level|memory-level|functional-red-black-tree|fauxqs|fastify|@fastify|toad-cache|async\/|buffer-crc32|lazy|big\.js|module-error|maybe-combine|find-my-way|light-my-request|avvio|pino|fast-json|secure-json|abstract-logging|rfdc|process-warning|ret|safe-regex)/,
  ],
  ['celeriac (lib/)', /^lib\//],
  [
    'node http / net / streams / events',
    /node:(_http|http|net|internal\/streams|internal\/http|stream|events|internal\/url|url|internal\/stream_base|buffer|internal\/buffer)|^\((writev|utf8Slice|latin1Slice|parse|writeUtf8String)\)/,
  ],
  ['async hooks (AsyncLocalStorage promise hooks)', /node:internal\/async_(hooks|local_storage)/],
  ['promise / timer plumbing', /^\((runMicrotasks)\)|node:internal\/(process\/task_queues|timers)|node:timers/],
  ['garbage collector', /garbage collector/],
  ['idle', /\(idle\)/],
];
