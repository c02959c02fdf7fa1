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
