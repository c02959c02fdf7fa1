/**
 * The example stack's cloud assembly (examples/shop/cdk.out), synthesized for the deployed suite
 * with the project's own script (`npm run synth`) — once, and again only when a file it is built
 * from (the app, the infra, lib/, cdk/) is newer than the assembly.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The assembly directory `npm run synth` writes. */
export const SHOP_ASSEMBLY = join(ROOT, 'examples/shop/cdk.out');
const SOURCES = ['examples/shop/src', 'examples/shop/infra', 'examples/shop/cdk.json', 'lib', 'cdk', 'package-lock.json'];

function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  let max = s.mtimeMs;
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

/** True when the assembly is missing or older than one of its sources. */
export function assemblyIsStale(): boolean {
  const manifest = join(SHOP_ASSEMBLY, 'manifest.json');
  if (!existsSync(manifest)) return true;
  const built = statSync(manifest).mtimeMs;
  return SOURCES.some((s) => existsSync(join(ROOT, s)) && newest(join(ROOT, s)) > built);
}

/** Held while one test process synthesizes: suites run in parallel processes and share cdk.out. */
const LOCK = join(ROOT, 'examples/shop/.synth-lock');
/** A lock older than this was left by a process that died while synthesizing. */
const LOCK_STALE_MS = 300_000;

/**
 * Synthesizes the example stack when its assembly is stale; returns the assembly directory. One
 * process synthesizes at a time; the others wait for it and then find the assembly fresh.
 */
export function ensureShopAssembly(): string {
  const until = Date.now() + LOCK_STALE_MS;
  for (;;) {
    if (!assemblyIsStale()) return SHOP_ASSEMBLY;
    try {
      mkdirSync(LOCK);
    } catch {
      if (existsSync(LOCK) && Date.now() - statSync(LOCK).mtimeMs > LOCK_STALE_MS) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > until) throw new Error(`another process has held ${LOCK} for over ${LOCK_STALE_MS} ms`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
      continue;
    }
    try {
      if (assemblyIsStale()) execFileSync('npm', ['run', '-s', 'synth'], { cwd: ROOT, stdio: 'pipe', timeout: 180_000 });
      return SHOP_ASSEMBLY;
    } finally {
      rmSync(LOCK, { recursive: true, force: true });
    }
  }
}
