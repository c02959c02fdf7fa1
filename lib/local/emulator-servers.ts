/**
 * The two emulator servers — dynalite (DynamoDB) and fauxqs (SQS, and S3 on the same port) — as
 * plain listening servers. Both the in-process starters (lib/local/emulators.ts) and the emulator
 * thread (lib/local/emulator-thread.ts) start them from here, so their settings are written once.
 * This module imports nothing but Node built-ins, the two packages and lib/local/http.ts: the
 * emulator thread loads it without the rest of celeriac (no AWS SDK), which keeps its start fast.
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { close, listen } from './http';

/** A listening emulator server: its loopback port, and how to close it with its connections. */
export interface ServedEmulator {
  readonly port: number;
  stop(): Promise<void>;
}

type DynaliteFactory = (opts: Record<string, unknown>) => Server;

/**
 * Serves dynalite on 127.0.0.1 (`port` 0: a free one), in memory or persisted to `path`. Tables
 * become ACTIVE at once (dynalite's default is a 500 ms CREATING phase, which only slows tests down).
 */
export async function serveDynalite(opts: { readonly path?: string; readonly port?: number } = {}): Promise<ServedEmulator> {
  // dynalite is CommonJS without type declarations.
  const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(opts.path === undefined ? {} : { path: opts.path }),
  });
  const port = await listen(server, opts.port ?? 0);
  return { port, stop: () => close(server) };
}

/** Serves fauxqs (SQS, and S3 on the same port; needs node:sqlite) on a loopback port (`port` 0: a free one). */
export async function serveFauxqs(opts: { readonly port?: number; readonly logger?: boolean } = {}): Promise<ServedEmulator> {
  const { startFauxqs } = await import('fauxqs');
  const server = await startFauxqs({ port: opts.port ?? 0, logger: opts.logger ?? false });
  return { port: server.port, stop: () => server.stop() };
}
