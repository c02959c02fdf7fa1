import { type IncomingMessage, request, type ServerResponse } from 'node:http';

/** Passes a request (its body already read) on to `upstream` and streams the answer back unchanged. */
export function forward(upstream: string, req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
  const url = new URL(upstream);
  return new Promise((resolve, reject) => {
    const fwd = request(
      { host: url.hostname, port: url.port, method: req.method, path: req.url, headers: { ...req.headers, host: url.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        up.on('end', () => resolve());
        up.on('error', reject);
      },
    );
    fwd.on('error', reject);
    fwd.end(body);
  });
}
