/**
 * The loopback HTTP plumbing every in-process endpoint shares (the emulators' capture endpoint,
 * `celeriac up`'s EventBridge, Scheduler and IAM endpoints): listen on 127.0.0.1, stop without
 * hanging on keep-alive connections, read a request body.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on 127.0.0.1 (`port` 0 picks a free one) and resolves with the port. */
export function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Closes a server and drops keep-alive connections, which would otherwise hold `close` open. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}

/** Serves `server` on a free loopback port: its endpoint URL, and how to stop it. */
export async function serveOnLoopback(server: Server): Promise<{ readonly endpoint: string; stop(): Promise<void> }> {
  const port = await listen(server);
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => close(server) };
}

/** The whole request body. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
