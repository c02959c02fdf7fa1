import {
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { PayloadRef, PayloadStore } from '../../ports';
import { checkOwnKey, checkPayload, checkPayloadSize, payloadKey, payloadNotFound, payloadRefOf } from '../../protocol/payload';
import { backendError, errorName } from './retry';

/** S3's limit on keys per DeleteObjects request (and its most per ListObjectsV2 page). */
const DELETE_BATCH = 1_000;

export interface S3PayloadStoreOptions {
  readonly client: S3Client;
  /** The app's bucket (`CELERIAC_PAYLOAD_BUCKET`). */
  readonly bucket: string;
  /** The key prefix of this app's payloads (its name): the worker's role may touch only these. */
  readonly prefix: string;
}

/**
 * {@link PayloadStore} over S3: one object per payload, written with PutObject (S3 is strongly
 * consistent read-after-write, so a reference is readable the moment `put` returns). Expiry is
 * the bucket's lifecycle rule; encryption the bucket's default (the stack sets both).
 */
export class S3PayloadStore implements PayloadStore {
  readonly prefix: string;
  readonly #client: S3Client;
  readonly #bucket: string;

  constructor(opts: S3PayloadStoreOptions) {
    this.#client = opts.client;
    this.#bucket = opts.bucket;
    this.prefix = opts.prefix;
  }

  async put(path: string, text: string): Promise<PayloadRef> {
    const key = payloadKey(this.prefix, path);
    try {
      await this.#client.send(
        new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: text, ContentType: 'application/json; charset=utf-8' }),
      );
    } catch (e) {
      throw backendError(`storing payload ${key}`, e);
    }
    return payloadRefOf(key, text);
  }

  async get(ref: PayloadRef): Promise<string> {
    checkOwnKey(this.prefix, ref.key);
    let out: GetObjectCommandOutput;
    try {
      out = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: ref.key }));
    } catch (e) {
      if (errorName(e) === 'NoSuchKey' || errorName(e) === 'NotFound') throw payloadNotFound(ref);
      throw backendError(`reading payload ${ref.key}`, e);
    }
    if (out.ContentLength !== undefined && out.ContentLength !== ref.bytes) {
      // Refused unread: an object of another size than its reference says is never loaded.
      (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
      checkPayloadSize(ref, out.ContentLength);
    }
    let text: string;
    try {
      text = (await out.Body?.transformToString('utf-8')) ?? '';
    } catch (e) {
      throw backendError(`reading payload ${ref.key}`, e);
    }
    return checkPayload(ref, text);
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) checkOwnKey(this.prefix, key);
    for (let i = 0; i < keys.length; i += DELETE_BATCH) await this.#deleteBatch(keys.slice(i, i + DELETE_BATCH));
  }

  /** One ListObjectsV2 per 1,000 keys under the folder, each page deleted with one DeleteObjects. */
  async deleteUnder(path: string): Promise<number> {
    const folder = `${payloadKey(this.prefix, path)}/`;
    let deleted = 0;
    let token: string | undefined;
    do {
      let keys: string[];
      try {
        const out = await this.#client.send(
          new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: folder, MaxKeys: DELETE_BATCH, ContinuationToken: token }),
        );
        // S3 lists by byte prefix: every key it returns is in the folder; the check is belt and braces.
        keys = (out.Contents ?? []).flatMap((o) => (o.Key?.startsWith(folder) ? [o.Key] : []));
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } catch (e) {
        throw backendError(`listing payloads under ${folder}`, e);
      }
      if (keys.length > 0) await this.#deleteBatch(keys);
      deleted += keys.length;
    } while (token !== undefined);
    return deleted;
  }

  /** One DeleteObjects request (at most {@link DELETE_BATCH} keys, all checked as the app's). */
  async #deleteBatch(batch: readonly string[]): Promise<void> {
    let errors: readonly { Key?: string; Code?: string }[] | undefined;
    try {
      const out = await this.#client.send(
        new DeleteObjectsCommand({ Bucket: this.#bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
      );
      errors = out.Errors;
    } catch (e) {
      throw backendError(`deleting ${batch.length} payload(s)`, e);
    }
    const failed = (errors ?? []).filter((x) => x.Code !== 'NoSuchKey');
    if (failed.length > 0) {
      throw backendError(
        `deleting ${failed.length} payload(s)`,
        Object.assign(new Error(`${failed[0]?.Key}: ${failed[0]?.Code}`), { name: failed[0]?.Code ?? 'Error' }),
      );
    }
  }
}
