import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { FlowControl, SlotDecision, StartDecision } from '../../ports';
import { backendError } from './retry';

/** Keys (see KEYS.md): one rate item per key, one item per concurrency slot. */
const rateKey = (key: string): string => `fr#${key}`;
const slotKey = (key: string, slot: number): string => `fs#${key}#${slot}`;

/** How long an idle flow-control item is kept before DynamoDB's TTL deletes it (s). */
const IDLE_TTL_SECONDS = 86_400;

/*
 * The conditions, one named clause each.
 *
 * Rate (GCRA without burst, as a booking): the item holds `tat`, the earliest time the next start
 * may happen. A caller either starts now or books the next free time within its horizon:
 *
 *   tat ≤ now          ──start now (NEXT_START_DUE)────────────▶ tat = now + interval, start now
 *   now < tat ≤ now+h  ──book (NEXT_START_BOOKED_WITHIN)───────▶ tat += interval, start at old tat
 *   tat > now+h        refused: come back in tat − now − h
 *
 * Slot: each of the key's `limit` slots is an item holding a lease (owner, until).
 *
 *   absent / lease ended / ours ──take (SLOT_FREE)──▶ owner, until ──release (SLOT_OURS)──▶ absent
 *   a holder that crashed never releases: its lease ends and SLOT_FREE lets the next owner in.
 */
const NEXT_START_DUE = '(attribute_not_exists(tat) OR tat <= :now)';
const NEXT_START_BOOKED_WITHIN = '(tat > :now AND tat <= :horizon)';
const SLOT_FREE = '(attribute_not_exists(pk) OR leaseUntil <= :now OR leaseOwner = :owner)';
const SLOT_OURS = 'leaseOwner = :owner';

export interface DynamoFlowControlOptions {
  readonly client: DynamoDBClient;
  /** The app's table (`CELERIAC_TABLE`). */
  readonly table: string;
}

/**
 * {@link FlowControl} on the app's DynamoDB table. A start under a rate limit costs one
 * conditional write (two when the key just went from idle to busy, or back); a slot costs one write to take and one to release while a slot is free
 * (more only as the key fills up: slots are tried from a start that depends on the owner).
 */
export class DynamoFlowControl implements FlowControl {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  /** Per key, the next start time this process last saw (which write to try first). */
  readonly #tatSeen = new Map<string, number>();

  constructor(opts: DynamoFlowControlOptions) {
    this.#client = opts.client;
    this.#table = opts.table;
  }

  async reserveStart(key: string, intervalMs: number, now: number, horizonMs: number): Promise<StartDecision> {
    // The key is either idle (start now) or booked ahead (take the next time): guess which from
    // the next start this process last saw, so that a start usually costs one write.
    const booked = (this.#tatSeen.get(key) ?? 0) > now;
    for (const attempt of booked ? (['next', 'now', 'next'] as const) : (['now', 'next', 'now'] as const)) {
      const r = attempt === 'now' ? await this.#startNow(key, intervalMs, now) : await this.#startNext(key, intervalMs, now, horizonMs);
      if (r === 'missed') continue;
      this.#tatSeen.set(key, r.ok ? r.startAt + intervalMs : now + horizonMs + r.retryInMs);
      return r;
    }
    // The item moved between our writes three times (a crowd at the boundary): come back shortly.
    return { ok: false, retryInMs: intervalMs };
  }

  async #startNow(key: string, intervalMs: number, now: number): Promise<StartDecision | 'missed'> {
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { pk: { S: rateKey(key) } },
          UpdateExpression: 'SET tat = :next, #ttl = :ttl',
          ConditionExpression: NEXT_START_DUE,
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: {
            ':now': { N: String(now) },
            ':next': { N: String(now + intervalMs) },
            ':ttl': ttlOf(now + intervalMs),
          },
        }),
      );
      return { ok: true, startAt: now };
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw backendError(`UpdateItem (rate ${key})`, e);
      return 'missed';
    }
  }

  async #startNext(key: string, intervalMs: number, now: number, horizonMs: number): Promise<StartDecision | 'missed'> {
    try {
      const out = await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { pk: { S: rateKey(key) } },
          UpdateExpression: 'SET tat = tat + :interval, #ttl = :ttl',
          ConditionExpression: NEXT_START_BOOKED_WITHIN,
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: {
            ':now': { N: String(now) },
            ':horizon': { N: String(now + horizonMs) },
            ':interval': { N: String(intervalMs) },
            ':ttl': ttlOf(now + horizonMs + intervalMs),
          },
          ReturnValues: 'UPDATED_OLD',
        }),
      );
      const startAt = numberOf(out.Attributes?.tat);
      if (startAt === undefined) throw new Error('UpdateItem returned no tat');
      return { ok: true, startAt };
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw backendError(`UpdateItem (rate ${key})`, e);
      const tat = numberOf((await this.#read(rateKey(key)))?.tat);
      if (tat === undefined || tat <= now) return 'missed'; // idle after all: start now
      if (tat <= now + horizonMs) return 'missed'; // moved back inside the horizon meanwhile
      return { ok: false, retryInMs: tat - now - horizonMs };
    }
  }

  async acquireSlot(key: string, limit: number, owner: string, until: number, now: number): Promise<SlotDecision> {
    const first = spread(owner, limit);
    let soonest = Number.POSITIVE_INFINITY;
    for (let n = 0; n < limit; n++) {
      const slot = (first + n) % limit;
      try {
        await this.#client.send(
          new PutItemCommand({
            TableName: this.#table,
            Item: {
              pk: { S: slotKey(key, slot) },
              leaseOwner: { S: owner },
              leaseUntil: { N: String(until) },
              ttl: { N: String(Math.ceil(until / 1000) + IDLE_TTL_SECONDS) },
            },
            ConditionExpression: SLOT_FREE,
            ExpressionAttributeValues: { ':now': { N: String(now) }, ':owner': { S: owner } },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return { ok: true, slot };
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw backendError(`PutItem (slot ${key}#${slot})`, e);
        const held = numberOf((e.Item ?? (await this.#read(slotKey(key, slot))))?.leaseUntil);
        if (held !== undefined) soonest = Math.min(soonest, held);
      }
    }
    return { ok: false, retryInMs: Number.isFinite(soonest) ? Math.max(1, soonest - now) : 1_000 };
  }

  /**
   * The item a refused write met, for engines that do not return it with the refusal
   * (`ReturnValuesOnConditionCheckFailure` is recent; dynalite ignores it): only paid when refused.
   */
  async #read(pk: string): Promise<Record<string, AttributeValue> | undefined> {
    try {
      const out = await this.#client.send(new GetItemCommand({ TableName: this.#table, Key: { pk: { S: pk } }, ConsistentRead: true }));
      return out.Item;
    } catch (e) {
      throw backendError(`GetItem (${pk})`, e);
    }
  }

  async releaseSlot(key: string, slot: number, owner: string): Promise<void> {
    try {
      await this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: { pk: { S: slotKey(key, slot) } },
          ConditionExpression: SLOT_OURS,
          ExpressionAttributeValues: { ':owner': { S: owner } },
        }),
      );
    } catch (e) {
      // Taken over after our lease ended: the slot is someone else's now, and stays so.
      if (!(e instanceof ConditionalCheckFailedException)) throw backendError(`DeleteItem (slot ${key}#${slot})`, e);
    }
  }
}

function ttlOf(untilMs: number): AttributeValue {
  return { N: String(Math.ceil(untilMs / 1000) + IDLE_TTL_SECONDS) };
}

function numberOf(v: AttributeValue | undefined): number | undefined {
  return v?.N === undefined ? undefined : Number(v.N);
}

/** The slot an owner tries first: owners spread over the slots, so a free one is usually found in one write. */
function spread(owner: string, limit: number): number {
  let h = 0;
  for (let i = 0; i < owner.length; i++) h = (h * 31 + owner.charCodeAt(i)) >>> 0;
  return h % limit;
}
