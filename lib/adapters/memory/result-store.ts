import { CeleriacError, ErrorCodes } from '../../errors';
import type { JoinShard, ResultRecord, ResultStore, WriteResult } from '../../ports';
import type { Plan } from '../../protocol/plan';
import { isReady } from '../../results/states';
import { DYNAMO_MAX_ITEM_BYTES, resultTooLarge, utf8Bytes } from '../limits';

type Lease = { readonly owner: string; readonly until: number };

/**
 * A stored record, split the way the DynamoDB adapter splits it: the immutable part as JSON
 * (which is also the defensive copy), and the fields conditional updates touch as plain values.
 */
interface Entry {
  readonly json: string;
  readonly state: string;
  readonly attempt: number;
  cont: 'pending' | 'done' | undefined;
  lease: Lease | undefined;
}

interface Shard {
  readonly done: number[];
  readonly failed: number[];
}

/**
 * Per-item overhead the DynamoDB adapter adds around the record JSON (key, attribute names,
 * state, attempt, TTL, lease). Counted here too so a result that fits in memory mode fits on AWS.
 */
const ITEM_OVERHEAD_BYTES = 256;

/**
 * The in-memory {@link ResultStore}: every conditional write of the DynamoDB adapter, decided
 * synchronously (so racing callers in one process see exactly the same outcomes), with records
 * kept as JSON so callers never share mutable state with the store.
 */
export class MemoryResultStore implements ResultStore {
  private readonly records = new Map<string, Entry>();
  private readonly plans = new Map<string, string>();
  private readonly joins = new Map<string, Shard>();
  private readonly claims = new Set<string>();

  async get(id: string): Promise<ResultRecord | undefined> {
    return this.read(id);
  }

  async getMany(ids: readonly string[]): Promise<(ResultRecord | undefined)[]> {
    return ids.map((id) => this.read(id));
  }

  async writeIfNotReady(record: ResultRecord): Promise<WriteResult> {
    const entry = toEntry(record);
    const cur = this.records.get(record.id);
    if (cur !== undefined && isReady(cur.state)) return { written: false, current: materialize(cur) };
    this.records.set(record.id, entry);
    return WRITTEN;
  }

  async writeProgress(record: ResultRecord): Promise<WriteResult> {
    if (isReady(record.state)) {
      throw new CeleriacError(
        ErrorCodes.INVALID_OPTIONS,
        `writeProgress writes non-ready states only; ${record.state} goes through writeIfNotReady`,
      );
    }
    const entry = toEntry(record);
    const cur = this.records.get(record.id);
    if (cur !== undefined && (isReady(cur.state) || cur.attempt > entry.attempt)) {
      return { written: false, current: materialize(cur) };
    }
    this.records.set(record.id, entry);
    return WRITTEN;
  }

  async finishContinuations(id: string): Promise<void> {
    const cur = this.records.get(id);
    if (cur === undefined) return;
    cur.cont = 'done';
    cur.lease = undefined;
  }

  async takeOver(id: string, expectedOwner: string | undefined, lease: { owner: string; until: number }): Promise<boolean> {
    const cur = this.records.get(id);
    if (cur === undefined || cur.cont === 'done') return false;
    if (cur.lease?.owner !== expectedOwner) return false;
    cur.lease = { owner: lease.owner, until: lease.until };
    return true;
  }

  async delete(id: string): Promise<void> {
    this.records.delete(id);
  }

  async putPlan(plan: Plan): Promise<void> {
    this.plans.set(plan.id, JSON.stringify(plan));
  }

  async getPlan(id: string): Promise<Plan | undefined> {
    const json = this.plans.get(id);
    return json === undefined ? undefined : (JSON.parse(json) as Plan);
  }

  async joinAdd(joinId: string, shard: number, index: number, failed: boolean): Promise<JoinShard> {
    checkIndex('shard', shard);
    checkIndex('index', index);
    const key = `${joinId}#${shard}`;
    let s = this.joins.get(key);
    if (s === undefined) {
      s = { done: [], failed: [] };
      this.joins.set(key, s);
    }
    insertSorted(s.done, index);
    if (failed) insertSorted(s.failed, index);
    return { done: s.done.slice(), failed: s.failed.slice() };
  }

  async joinRead(joinId: string, count: number): Promise<JoinShard[]> {
    const out: JoinShard[] = [];
    for (let i = 0; i < count; i++) {
      const s = this.joins.get(`${joinId}#${i}`);
      out.push(s === undefined ? { done: [], failed: [] } : { done: s.done.slice(), failed: s.failed.slice() });
    }
    return out;
  }

  async claim(key: string): Promise<boolean> {
    if (this.claims.has(key)) return false;
    this.claims.add(key);
    return true;
  }

  /** Forgets everything (between tests, or `purge` in local mode). */
  clear(): void {
    this.records.clear();
    this.plans.clear();
    this.joins.clear();
    this.claims.clear();
  }

  private read(id: string): ResultRecord | undefined {
    const e = this.records.get(id);
    return e === undefined ? undefined : materialize(e);
  }
}

const WRITTEN: WriteResult = Object.freeze({ written: true });

function toEntry(record: ResultRecord): Entry {
  const { cont, lease } = record;
  // Rest-destructuring is measurably slower than this on the hot path; most writes carry neither.
  const json = JSON.stringify(cont === undefined && lease === undefined ? record : withoutContinuation(record));
  // Cheap bound first: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (json.length * 3 + ITEM_OVERHEAD_BYTES > DYNAMO_MAX_ITEM_BYTES) {
    const bytes = utf8Bytes(json) + ITEM_OVERHEAD_BYTES;
    if (bytes > DYNAMO_MAX_ITEM_BYTES) throw resultTooLarge(record.id, bytes);
  }
  return {
    json,
    state: record.state,
    attempt: record.retries ?? 0,
    cont,
    lease: lease === undefined ? undefined : { owner: lease.owner, until: lease.until },
  };
}

function withoutContinuation(record: ResultRecord): Partial<ResultRecord> {
  const out: Record<string, unknown> = {};
  for (const k in record) if (k !== 'cont' && k !== 'lease') out[k] = record[k as keyof ResultRecord];
  return out;
}

function materialize(e: Entry): ResultRecord {
  const rec = JSON.parse(e.json) as { -readonly [K in keyof ResultRecord]: ResultRecord[K] };
  if (e.cont !== undefined) rec.cont = e.cont;
  if (e.lease !== undefined) rec.lease = { owner: e.lease.owner, until: e.lease.until };
  return rec;
}

function checkIndex(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new CeleriacError(ErrorCodes.INVALID_OPTIONS, `join ${what} must be a non-negative integer, got ${n}`);
}

/** Set insert into an ascending array (members mostly arrive in order, so this is usually a push). */
function insertSorted(a: number[], v: number): void {
  const last = a[a.length - 1];
  if (last === undefined || last < v) {
    a.push(v);
    return;
  }
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((a[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  if (a[lo] !== v) a.splice(lo, 0, v);
}
