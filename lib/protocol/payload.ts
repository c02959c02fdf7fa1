/**
 * The rules every payload store follows, written once: how a key is formed from a store's
 * prefix, what a reference holds, and when a reference is refused (foreign) or a stored text is
 * refused (corrupt). The adapters (memory, S3) only move bytes.
 */
import { createHash } from 'node:crypto';
import { CeleriacError, ErrorCodes } from '../errors';
import type { PayloadRef } from '../ports';

/** The key of `path` in a store with `prefix`. Paths are the caller's (ids and a part name). */
export function payloadKey(prefix: string, path: string): string {
  if (path === '' || path.startsWith('/') || path.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new CeleriacError(ErrorCodes.INVALID_ARGS, `payload path "${path}" must be non-empty segments joined by "/"`);
  }
  return `${prefix}/${path}`;
}

/** The reference of `text` stored under `key`. */
export function payloadRefOf(key: string, text: string): PayloadRef {
  return { key, bytes: Buffer.byteLength(text, 'utf8'), sha256: digest(text) };
}

/** Refuses a key outside `prefix` (another app's payload, or a forged reference). */
export function checkOwnKey(prefix: string, key: string): void {
  if (typeof key !== 'string' || !key.startsWith(`${prefix}/`) || key.split('/').some((p) => p === '..')) {
    throw new CeleriacError(ErrorCodes.PAYLOAD_FOREIGN, `payload "${String(key)}" is not under this app's prefix "${prefix}/"`);
  }
}

/** The error of a reference whose object does not exist. */
export function payloadNotFound(ref: PayloadRef): CeleriacError {
  return new CeleriacError(ErrorCodes.PAYLOAD_NOT_FOUND, `payload "${ref.key}" does not exist (deleted, expired, or never written)`);
}

/** `text` if it is what `ref` names; PAYLOAD_CORRUPT otherwise. */
export function checkPayload(ref: PayloadRef, text: string): string {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes !== ref.bytes || digest(text) !== ref.sha256) {
    throw new CeleriacError(
      ErrorCodes.PAYLOAD_CORRUPT,
      `payload "${ref.key}" is not the one its reference names (${bytes} bytes stored, ${ref.bytes} expected, or a different digest)`,
    );
  }
  return text;
}

function digest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64url');
}
