/**
 * Local backends, one factory per mode: each returns the app's ports on this machine with the
 * topology's queues and table created, and its own `stop`.
 */
import type { LocalMode } from '../types';
import type { BackendContext, LocalBackend } from './backend';
import { startEmulatedBackend } from './emulated';
import { startLocalstackBackend } from './localstack';
import { startMemoryBackend } from './memory';

export type { BackendContext, LocalBackend } from './backend';

const FACTORIES: Readonly<Record<LocalMode, (ctx: BackendContext) => Promise<LocalBackend>>> = {
  memory: startMemoryBackend,
  emulated: startEmulatedBackend,
  localstack: startLocalstackBackend,
};

/** Starts the backend of `mode`. If it fails to start, it has stopped what it had started. */
export function startBackend(mode: LocalMode, ctx: BackendContext): Promise<LocalBackend> {
  return FACTORIES[mode](ctx);
}
