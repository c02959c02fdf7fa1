import { CeleriacError, ErrorCodes } from '../../errors';
import type { CallClaim, JoinCount, JoinShard, Lease, ReadOptions, ResultRecord, ResultStore, WriteResult } from '../../ports';
import { bytesOver, DYNAMO_MAX_ITEM_BYTES, resultTooLarge } from '../../protocol/limits';
import type { PlanRecord } from '../../protocol/plan';
import { isReady } from '../../results/states';

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

const EMPTY: readonly number[] = Object.freeze([]);
const EMPTY_SHARD: JoinShard = Object.freeze({ done: EMPTY, failed: EMPTY });

/**
 * `done` grows in place (an add returns only the count); `failed` is copy-on-write (rarely
 * non-empty); `snap` is the frozen copy joinRead hands out, made once per change.
 */
interface Shard {
  readonly done: number[];
  failed: readonly number[];
  snap: JoinShard | undefined;
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
  /** Frozen private copies: a reader can neither change the stored plan nor see a caller's later edits. */
  private readonly plans = new Map<string, PlanRecord>();
  /** Join id → its shards by index (undefined: nothing added yet). */
  private readonly joins = new Map<string, (Shard | undefined)[]>();
  private readonly claims = new Set<string>();
  /** Idempotency keys → the call that holds each (frozen copies). */
  private readonly calls = new Map<string, CallClaim>();

  // Every read is strongly consistent (a valid answer to an eventually consistent read too).
  async get(id: string, _options?: ReadOptions): Promise<ResultRecord | undefined> {
    return this.read(id);
  }

  async getMany(ids: readonly string[], _options?: ReadOptions): Promise<(ResultRecord | undefined)[]> {
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

  async takeOver(id: string, expectedOwner: string | undefined, lease: Lease): Promise<boolean> {
    const cur = this.records.get(id);
    if (cur === undefined || cur.cont === 'done') return false;
    if (cur.lease?.owner !== expectedOwner) return false;
    cur.lease = { owner: lease.owner, until: lease.until };
    return true;
  }

  async delete(id: string): Promise<void> {
    this.records.delete(id);
  }

  async putPlan(plan: PlanRecord): Promise<void> {
    // A plan is immutable once stored: one frozen copy is cheaper than a JSON copy per read.
    this.plans.set(plan.id, frozenCopy(plan) as PlanRecord);
  }

  async getPlan(id: string): Promise<PlanRecord | undefined> {
    return this.plans.get(id);
  }

  async joinAdd(joinId: string, shard: number, index: number, failed: boolean): Promise<JoinCount> {
    checkIndex('shard', shard);
    checkIndex('index', index);
    let shards = this.joins.get(joinId);
    if (shards === undefined) {
      shards = [];
      this.joins.set(joinId, shards);
    }
    let s = shards[shard];
    if (s === undefined) {
      s = { done: [], failed: EMPTY, snap: undefined };
      shards[shard] = s;
    }
    if (insertSorted(s.done, index)) s.snap = undefined;
    if (failed) {
      const next = withIndex(s.failed, index);
      if (next !== s.failed) {
        s.failed = next;
        s.snap = undefined;
      }
    }
    return { count: s.done.length, failed: s.failed };
  }

  async joinRead(joinId: string, count: number): Promise<JoinShard[]> {
    const shards = this.joins.get(joinId);
    const out = new Array<JoinShard>(count);
    for (let i = 0; i < count; i++) {
      const s = shards?.[i];
      if (s === undefined) {
        out[i] = EMPTY_SHARD;
        continue;
      }
      if (s.snap === undefined) s.snap = Object.freeze({ done: Object.freeze(s.done.slice()), failed: s.failed });
      out[i] = s.snap;
    }
    return out;
  }

  async claim(key: string): Promise<boolean> {
    if (this.claims.has(key)) return false;
    this.claims.add(key);
    return true;
  }

  async claimCall(key: string, claim: CallClaim, now: number): Promise<CallClaim | undefined> {
    const cur = this.calls.get(key);
    // An expired claim counts as absent, as the DynamoDB condition says (TTL deletion is lazy there).
    if (cur !== undefined && cur.expiresAt > now) return cur;
    this.calls.set(key, Object.freeze({ ...claim }));
    return undefined;
  }

  async releaseCall(key: string, id: string): Promise<void> {
    if (this.calls.get(key)?.id === id) this.calls.delete(key);
  }

  /** Forgets everything (between tests, or `purge` in local mode). */
  clear(): void {
    this.records.clear();
    this.plans.clear();
    this.joins.clear();
    this.claims.clear();
    this.calls.clear();
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
  const over = bytesOver(json, DYNAMO_MAX_ITEM_BYTES - ITEM_OVERHEAD_BYTES);
  if (over !== undefined) throw resultTooLarge(record.id, over + ITEM_OVERHEAD_BYTES);
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

/** Set insert into an ascending array, in place; false when `v` was already in. */
function insertSorted(a: number[], v: number): boolean {
  const last = a[a.length - 1];
  // Members mostly arrive in order: usually a push.
  if (last === undefined || last < v) {
    a.push(v);
    return true;
  }
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((a[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  if (a[lo] === v) return false;
  a.splice(lo, 0, v);
  return true;
}

/** Set insert into an ascending array, as a new frozen array (the same one if `v` is already in). */
function withIndex(a: readonly number[], v: number): readonly number[] {
  let lo = 0;
  let hi = a.length;
  // Members mostly arrive in order: check the end first.
  if (hi === 0 || (a[hi - 1] as number) < v) lo = hi;
  else {
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((a[mid] as number) < v) lo = mid + 1;
      else hi = mid;
    }
    if (a[lo] === v) return a;
  }
  const out = new Array<number>(a.length + 1);
  for (let i = 0; i < lo; i++) out[i] = a[i] as number;
  out[lo] = v;
  for (let i = lo; i < a.length; i++) out[i + 1] = a[i] as number;
  return Object.freeze(out);
}

/** A deep copy of a JSON value, frozen throughout. */
function frozenCopy(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = frozenCopy(v[i]);
    return Object.freeze(out);
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    // As JSON would: an undefined field is not stored.
    if (x !== undefined) out[k] = frozenCopy(x);
  }
  return Object.freeze(out);
}
