import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { CeleriacError, ErrorCodes } from '../../errors';
import type { CallClaim, Clock, JoinCount, JoinShard, Lease, ReadOptions, ResultRecord, ResultStore, WriteResult } from '../../ports';
import { bytesOver, DYNAMO_MAX_ITEM_BYTES, resultTooLarge, utf8Bytes } from '../../protocol/limits';
import type { PlanRecord } from '../../protocol/plan';
import { isReady, States } from '../../results/states';
import { systemClock } from '../system';
import { backendError, DEFAULT_RETRY, errorName, type RetryPolicy, retryLeftovers } from './retry';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

type Item = Record<string, AttributeValue>;

/** Plans up to this many JSON bytes are stored as readable text; larger ones are gzipped. */
const PLAN_PLAIN_MAX_BYTES = 16 * 1024;
/** Largest compressed plan payload per item: stays well under the 400 KB item limit. */
const PLAN_CHUNK_BYTES = 350_000;
/** 100 chunks ≈ 35 MB gzipped: a workflow beyond that is a mistake, not a plan. */
const PLAN_MAX_CHUNKS = 100;
/** BatchGetItem: keys per request. */
const BATCH_GET_KEYS = 100;

/** Attribute names; the whole layout is documented in KEYS.md next to this file. */
const A = {
  pk: 'pk',
  ttl: 'ttl',
  state: 'state',
  attempt: 'attempt',
  rec: 'rec',
  cont: 'cont',
  leaseOwner: 'leaseOwner',
  leaseUntil: 'leaseUntil',
  plan: 'plan',
  planGz: 'planGz',
  chunks: 'chunks',
  data: 'data',
  done: 'done',
  failed: 'failed',
  id: 'id',
  seed: 'seed',
  exp: 'exp',
} as const;

const READY_VALUES = { ':success': { S: States.SUCCESS }, ':failure': { S: States.FAILURE }, ':revoked': { S: States.REVOKED } };
/*
 * The conditions, one named clause each (as Powertools' idempotency layer names its own). A
 * record's life, and which clause guards each step (see "settling an outcome" in
 * lib/runtime/worker.ts for why the steps come in this order):
 *
 *   absent / not ready ──guard write──▶ ready, cont pending, lease A ──done mark──▶ ready, cont done
 *   (RECORD_ABSENT or NOT_READY)          │  lease A ran out: B takes over        (RECORD_EXISTS)
 *                                         └─▶ lease B (CONT_NOT_DONE and LEASE_IS_EXPECTED / NO_LEASE)
 */
/** No item under the key yet (PENDING is the absence of a record). */
const RECORD_ABSENT = 'attribute_not_exists(#pk)';
const RECORD_EXISTS = 'attribute_exists(#pk)';
/** The stored state is not final: the exactly-once guard of every outcome write. */
const NOT_READY = 'NOT (#state IN (:success, :failure, :revoked))';
/** The stored attempt is not newer than this one (a stale retry's progress never lands). */
const ATTEMPT_NOT_NEWER = '(attribute_not_exists(#attempt) OR #attempt <= :attempt)';
/** Continuations are still to be finished: a done record is never taken over. */
const CONT_NOT_DONE = '(attribute_not_exists(#cont) OR #cont <> :done)';
/** The lease is still the one the taker read (or there was none): of two takers, one wins. */
const LEASE_IS_EXPECTED = '#leaseOwner = :expected';
const NO_LEASE = 'attribute_not_exists(#leaseOwner)';
/**
 * An idempotency key's claim has run out (`exp`, epoch ms, at or before now). Checked at write
 * time because TTL deletion is lazy: an expired item may linger for days, and must not hold the key.
 */
const CLAIM_EXPIRED = '#exp <= :now';
/** The claim is still the one for this call: a release never frees a later caller's claim. */
const CLAIM_IS_FOR = '#id = :id';

export interface DynamoResultStoreOptions {
  readonly client: DynamoDBClient;
  readonly table: string;
  /** Seconds items live (`ttl` attribute); 0 = forever. Default 86,400. */
  readonly ttlSeconds?: number;
  readonly clock?: Clock;
  /** Backoff for BatchGetItem unprocessed keys. */
  readonly retry?: Partial<RetryPolicy>;
}

/**
 * {@link ResultStore} over one DynamoDB table keyed by `pk` alone (see KEYS.md). Every guard is a
 * single-item condition or an atomic `ADD` — no transactions, so dynalite and LocalStack behave
 * as DynamoDB does — and every read is strongly consistent.
 *
 * Failures map to CeleriacErrors: throttling, 5xx and network (after the SDK's own retries) to
 * retryable `BACKEND_UNAVAILABLE`; a record over the item limit to `RESULT_TOO_LARGE`, checked
 * before sending; a missing table to `NOT_CONFIGURED`.
 */
export class DynamoResultStore implements ResultStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;
  private readonly ttlSeconds: number;
  private readonly clock: Clock;
  private readonly retry: RetryPolicy;

  constructor(opts: DynamoResultStoreOptions) {
    this.client = opts.client;
    this.table = opts.table;
    this.ttlSeconds = opts.ttlSeconds ?? 86_400;
    this.clock = opts.clock ?? systemClock;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
  }

  async get(id: string, options?: ReadOptions): Promise<ResultRecord | undefined> {
    const item = await this.getItem(resultKey(id), 'GetItem (result)', options?.consistent ?? true);
    return item === undefined ? undefined : toRecord(item);
  }

  async getMany(ids: readonly string[], options?: ReadOptions): Promise<(ResultRecord | undefined)[]> {
    const items = await this.batchGet(ids.map(resultKey), options?.consistent ?? true);
    return ids.map((id) => {
      const item = items.get(resultKey(id));
      return item === undefined ? undefined : toRecord(item);
    });
  }

  async writeIfNotReady(record: ResultRecord): Promise<WriteResult> {
    return this.conditionalPut(record, `${RECORD_ABSENT} OR ${NOT_READY}`, {}, 'writeIfNotReady');
  }

  async writeProgress(record: ResultRecord): Promise<WriteResult> {
    if (isReady(record.state)) {
      throw new CeleriacError(
        ErrorCodes.INVALID_OPTIONS,
        `writeProgress writes non-ready states only; ${record.state} goes through writeIfNotReady`,
      );
    }
    return this.conditionalPut(
      record,
      `${RECORD_ABSENT} OR (${NOT_READY} AND ${ATTEMPT_NOT_NEWER})`,
      { ':attempt': { N: String(record.retries ?? 0) } },
      'writeProgress',
    );
  }

  async finishContinuations(id: string): Promise<void> {
    await this.conditionalUpdate(
      {
        Key: { pk: { S: resultKey(id) } },
        UpdateExpression: 'SET #cont = :done REMOVE #leaseOwner, #leaseUntil',
        ConditionExpression: RECORD_EXISTS,
        ExpressionAttributeNames: { '#pk': A.pk, '#cont': A.cont, '#leaseOwner': A.leaseOwner, '#leaseUntil': A.leaseUntil },
        ExpressionAttributeValues: { ':done': { S: 'done' } },
      },
      'finishContinuations',
    );
  }

  async takeOver(id: string, expectedOwner: string | undefined, lease: Lease): Promise<boolean> {
    const values: Item = { ':done': { S: 'done' }, ':owner': { S: lease.owner }, ':until': { N: String(lease.until) } };
    if (expectedOwner !== undefined) values[':expected'] = { S: expectedOwner };
    return this.conditionalUpdate(
      {
        Key: { pk: { S: resultKey(id) } },
        UpdateExpression: 'SET #leaseOwner = :owner, #leaseUntil = :until',
        ConditionExpression: `${RECORD_EXISTS} AND ${CONT_NOT_DONE} AND ${expectedOwner === undefined ? NO_LEASE : LEASE_IS_EXPECTED}`,
        ExpressionAttributeNames: { '#pk': A.pk, '#cont': A.cont, '#leaseOwner': A.leaseOwner, '#leaseUntil': A.leaseUntil },
        ExpressionAttributeValues: values,
      },
      'takeOver',
    );
  }

  async delete(id: string): Promise<void> {
    try {
      await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: { pk: { S: resultKey(id) } } }));
    } catch (e) {
      throw this.error('DeleteItem (result)', e);
    }
  }

  async putPlan(plan: PlanRecord): Promise<void> {
    const json = JSON.stringify(plan);
    const head: Item = { pk: { S: planKey(plan.id) }, ...this.ttl() };
    const bytes = utf8Bytes(json);
    if (bytes <= PLAN_PLAIN_MAX_BYTES) {
      head[A.plan] = { S: json };
    } else {
      const gz = await gzipAsync(json);
      if (gz.byteLength <= PLAN_CHUNK_BYTES) {
        head[A.planGz] = { B: gz };
      } else {
        const count = Math.ceil(gz.byteLength / PLAN_CHUNK_BYTES);
        if (count > PLAN_MAX_CHUNKS) {
          throw new CeleriacError(
            ErrorCodes.WORKFLOW_TOO_LARGE,
            `workflow ${plan.id} is ${bytes} bytes (${gz.byteLength} gzipped); at most ${PLAN_MAX_CHUNKS * PLAN_CHUNK_BYTES} gzipped bytes can be stored`,
            { details: { id: plan.id, bytes, gzipped: gz.byteLength } },
          );
        }
        // Chunks first, head last: a reader that finds the head finds every chunk.
        const ttl = this.ttl();
        await Promise.all(
          Array.from({ length: count }, (_, n) =>
            this.put(
              { pk: { S: chunkKey(plan.id, n) }, [A.data]: { B: gz.subarray(n * PLAN_CHUNK_BYTES, (n + 1) * PLAN_CHUNK_BYTES) }, ...ttl },
              'PutItem (plan chunk)',
            ),
          ),
        );
        head[A.chunks] = { N: String(count) };
      }
    }
    await this.put(head, 'PutItem (plan)');
  }

  async getPlan(id: string): Promise<PlanRecord | undefined> {
    const head = await this.getItem(planKey(id), 'GetItem (plan)');
    if (head === undefined) return undefined;
    let json: string;
    const plain = head[A.plan]?.S;
    const gz = head[A.planGz]?.B;
    if (plain !== undefined) {
      json = plain;
    } else if (gz !== undefined) {
      json = (await gunzipAsync(gz)).toString('utf8');
    } else {
      const count = Number(head[A.chunks]?.N ?? 0);
      const parts = await Promise.all(
        Array.from({ length: count }, async (_, n) => {
          const chunk = await this.getItem(chunkKey(id, n), 'GetItem (plan chunk)');
          const data = chunk?.[A.data]?.B;
          if (data === undefined)
            throw new CeleriacError(ErrorCodes.WORKFLOW_NOT_FOUND, `workflow ${id}: chunk ${n} of ${count} is missing`);
          return data;
        }),
      );
      json = (await gunzipAsync(Buffer.concat(parts))).toString('utf8');
    }
    return JSON.parse(json) as PlanRecord;
  }

  async joinAdd(joinId: string, shard: number, index: number, failed: boolean): Promise<JoinCount> {
    checkIndex('shard', shard);
    checkIndex('index', index);
    const ttl = this.ttl();
    const member: AttributeValue = { NS: [String(index)] };
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: { S: joinKey(joinId, shard) } },
          // ADD on a number set is a set union: a duplicate delivery adds nothing.
          UpdateExpression: `ADD #done :i${failed ? ', #failed :i' : ''}${ttl.ttl === undefined ? '' : ' SET #ttl = if_not_exists(#ttl, :ttl)'}`,
          ExpressionAttributeNames: {
            '#done': A.done,
            ...(failed ? { '#failed': A.failed } : {}),
            ...(ttl.ttl === undefined ? {} : { '#ttl': A.ttl }),
          },
          ExpressionAttributeValues: { ':i': member, ...(ttl.ttl === undefined ? {} : { ':ttl': ttl.ttl }) },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const after = toShard(out.Attributes);
      return { count: after.done.length, failed: after.failed };
    } catch (e) {
      throw this.error('UpdateItem (join)', e);
    }
  }

  async joinRead(joinId: string, count: number): Promise<JoinShard[]> {
    const keys = Array.from({ length: count }, (_, i) => joinKey(joinId, i));
    const items = await this.batchGet(keys);
    return keys.map((k) => toShard(items.get(k)));
  }

  async claim(key: string): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { pk: { S: claimKey(key) }, ...this.ttl() },
          ConditionExpression: RECORD_ABSENT,
          ExpressionAttributeNames: { '#pk': A.pk },
        }),
      );
      return true;
    } catch (e) {
      if (errorName(e) === 'ConditionalCheckFailedException') return false;
      throw this.error('PutItem (claim)', e);
    }
  }

  async claimCall(key: string, claim: CallClaim, now: number): Promise<CallClaim | undefined> {
    const item: Item = {
      pk: { S: callKey(key) },
      [A.id]: { S: claim.id },
      [A.exp]: { N: String(claim.expiresAt) },
      // The table's TTL attribute (epoch seconds) only cleans up; CLAIM_EXPIRED decides.
      [A.ttl]: { N: String(Math.ceil(claim.expiresAt / 1000)) },
    };
    if (claim.seed !== undefined) item[A.seed] = { S: claim.seed };
    // A holder read after a failed condition may be gone already (released, or expired since):
    // then the key is free and the write is tried again.
    for (let round = 0; ; round++) {
      try {
        await this.client.send(
          new PutItemCommand({
            TableName: this.table,
            Item: item,
            ConditionExpression: `${RECORD_ABSENT} OR ${CLAIM_EXPIRED}`,
            ExpressionAttributeNames: { '#pk': A.pk, '#exp': A.exp },
            ExpressionAttributeValues: { ':now': { N: String(now) } },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return undefined;
      } catch (e) {
        if (errorName(e) !== 'ConditionalCheckFailedException') throw this.error('PutItem (call claim)', e);
        // DynamoDB returns the blocking item; dynalite does not, so read it then.
        const held = toCallClaim((e as { Item?: Item }).Item ?? (await this.getItem(callKey(key), 'GetItem (call claim)')));
        if (held !== undefined && held.expiresAt > now) return held;
        if (round >= 2) {
          throw new CeleriacError(
            ErrorCodes.BACKEND_UNAVAILABLE,
            `idempotency key ${key}: the claim kept changing under ${round + 1} writes`,
            {
              retryable: true,
            },
          );
        }
      }
    }
  }

  async releaseCall(key: string, id: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: { pk: { S: callKey(key) } },
          ConditionExpression: CLAIM_IS_FOR,
          ExpressionAttributeNames: { '#id': A.id },
          ExpressionAttributeValues: { ':id': { S: id } },
        }),
      );
    } catch (e) {
      if (errorName(e) !== 'ConditionalCheckFailedException') throw this.error('DeleteItem (call claim)', e);
    }
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────────

  private ttl(): { ttl?: AttributeValue } {
    return this.ttlSeconds > 0 ? { ttl: { N: String(Math.floor(this.clock.now() / 1000) + this.ttlSeconds) } } : {};
  }

  private async conditionalPut(record: ResultRecord, condition: string, values: Item, what: string): Promise<WriteResult> {
    const item = this.toItem(record);
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: item,
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#pk': A.pk, '#state': A.state, ...(values[':attempt'] ? { '#attempt': A.attempt } : {}) },
          ExpressionAttributeValues: { ...READY_VALUES, ...values },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { written: true };
    } catch (e) {
      if (errorName(e) !== 'ConditionalCheckFailedException') throw this.error(`PutItem (${what})`, e);
      // DynamoDB returns the blocking item; dynalite does not, so read it then.
      const old = (e as { Item?: Item }).Item;
      return { written: false, current: old !== undefined ? toRecord(old) : await this.get(record.id) };
    }
  }

  private async conditionalUpdate(
    input: Omit<ConstructorParameters<typeof UpdateItemCommand>[0], 'TableName'>,
    what: string,
  ): Promise<boolean> {
    try {
      await this.client.send(new UpdateItemCommand({ TableName: this.table, ...input }));
      return true;
    } catch (e) {
      if (errorName(e) === 'ConditionalCheckFailedException') return false;
      throw this.error(`UpdateItem (${what})`, e);
    }
  }

  private toItem(record: ResultRecord): Item {
    const { cont, lease, ...rest } = record;
    const json = JSON.stringify(rest);
    const item: Item = {
      pk: { S: resultKey(record.id) },
      [A.state]: { S: record.state },
      [A.attempt]: { N: String(record.retries ?? 0) },
      [A.rec]: { S: json },
      ...this.ttl(),
    };
    if (cont !== undefined) item[A.cont] = { S: cont };
    if (lease !== undefined) {
      item[A.leaseOwner] = { S: lease.owner };
      item[A.leaseUntil] = { N: String(lease.until) };
    }
    // The record's text bounds the item (its other attributes take under 1 KiB); exact only near the limit.
    if (bytesOver(json, DYNAMO_MAX_ITEM_BYTES - 1024) !== undefined) {
      const bytes = itemBytes(item);
      if (bytes > DYNAMO_MAX_ITEM_BYTES) throw resultTooLarge(record.id, bytes);
    }
    return item;
  }

  private async put(item: Item, what: string): Promise<void> {
    try {
      await this.client.send(new PutItemCommand({ TableName: this.table, Item: item }));
    } catch (e) {
      throw this.error(what, e);
    }
  }

  private async getItem(pk: string, what: string, consistent = true): Promise<Item | undefined> {
    try {
      const out = await this.client.send(new GetItemCommand({ TableName: this.table, Key: { pk: { S: pk } }, ConsistentRead: consistent }));
      return out.Item;
    } catch (e) {
      throw this.error(what, e);
    }
  }

  /** Reads of many keys (deduplicated, 100 per request, unprocessed keys retried), strongly consistent unless `consistent` is false. */
  private async batchGet(pks: readonly string[], consistent = true): Promise<Map<string, Item>> {
    const found = new Map<string, Item>();
    const unique = [...new Set(pks)];
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += BATCH_GET_KEYS) chunks.push(unique.slice(i, i + BATCH_GET_KEYS));
    await Promise.all(
      chunks.map(async (chunk) => {
        const left = await retryLeftovers(this.clock, this.retry, chunk, async (keys) => {
          let out: BatchGetItemCommandOutput;
          try {
            out = await this.client.send(
              new BatchGetItemCommand({
                RequestItems: { [this.table]: { Keys: keys.map((k) => ({ pk: { S: k } })), ConsistentRead: consistent } },
              }),
            );
          } catch (e) {
            throw this.error('BatchGetItem', e);
          }
          for (const item of out.Responses?.[this.table] ?? []) {
            const pk = item.pk?.S;
            if (pk !== undefined) found.set(pk, item);
          }
          return (out.UnprocessedKeys?.[this.table]?.Keys ?? []).map((k) => k.pk?.S ?? '');
        });
        if (left.length > 0) {
          throw new CeleriacError(
            ErrorCodes.BACKEND_UNAVAILABLE,
            `BatchGetItem left ${left.length} key(s) unprocessed after ${this.retry.attempts} attempts`,
            {
              retryable: true,
            },
          );
        }
      }),
    );
    return found;
  }

  private error(what: string, e: unknown): CeleriacError {
    const name = errorName(e);
    if (name === 'ResourceNotFoundException') {
      return new CeleriacError(ErrorCodes.NOT_CONFIGURED, `DynamoDB table "${this.table}" does not exist (${what})`, { cause: e });
    }
    if (name === 'ValidationException' && /item size/i.test(e instanceof Error ? e.message : '')) {
      return new CeleriacError(
        ErrorCodes.RESULT_TOO_LARGE,
        `${what}: ${(e as Error).message}; a DynamoDB item holds at most ${DYNAMO_MAX_ITEM_BYTES} bytes`,
        { cause: e },
      );
    }
    return backendError(`DynamoDB ${what} on ${this.table}`, e);
  }
}

// ── keys and item shapes (KEYS.md) ───────────────────────────────────────────────────────────

const resultKey = (id: string): string => `r#${id}`;
const planKey = (id: string): string => `p#${id}`;
const chunkKey = (id: string, n: number): string => `pc#${id}#${n}`;
const joinKey = (joinId: string, shard: number): string => `j#${joinId}#${shard}`;
const claimKey = (key: string): string => `c#${key}`;
const callKey = (key: string): string => `i#${key}`;

function toCallClaim(item: Item | undefined): CallClaim | undefined {
  const id = item?.[A.id]?.S;
  if (item === undefined || id === undefined) return undefined;
  const seed = item[A.seed]?.S;
  return { id, expiresAt: Number(item[A.exp]?.N ?? 0), ...(seed !== undefined ? { seed } : {}) };
}

function toRecord(item: Item): ResultRecord {
  const rec = JSON.parse(item[A.rec]?.S ?? '{}') as { -readonly [K in keyof ResultRecord]: ResultRecord[K] };
  const cont = item[A.cont]?.S;
  if (cont === 'pending' || cont === 'done') rec.cont = cont;
  const owner = item[A.leaseOwner]?.S;
  if (owner !== undefined) rec.lease = { owner, until: Number(item[A.leaseUntil]?.N ?? 0) };
  return rec;
}

function toShard(item: Item | undefined): JoinShard {
  const nums = (v: AttributeValue | undefined): number[] => (v?.NS ?? []).map(Number).sort((a, b) => a - b);
  return { done: nums(item?.[A.done]), failed: nums(item?.[A.failed]) };
}

/** DynamoDB's item size: attribute name bytes plus value bytes (numbers counted at their 21-byte maximum). */
function itemBytes(item: Item): number {
  let n = 0;
  for (const [name, v] of Object.entries(item)) {
    n += utf8Bytes(name);
    if (v.S !== undefined) n += utf8Bytes(v.S);
    else if (v.N !== undefined) n += 21;
    else if (v.B !== undefined) n += v.B.byteLength;
    else n += 1;
  }
  return n;
}

function checkIndex(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new CeleriacError(ErrorCodes.INVALID_OPTIONS, `join ${what} must be a non-negative integer, got ${n}`);
}
