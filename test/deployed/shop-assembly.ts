/**
 * The example stack's cloud assembly (examples/shop/cdk.out), synthesized for the deployed suite
 * with the project's own script (`npm run synth`) — once, and again only when a file it is built
 * from (the app, the infra, lib/, cdk/) is newer than the assembly.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
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

/** Synthesizes the example stack when its assembly is stale; returns the assembly directory. */
export function ensureShopAssembly(): string {
  if (assemblyIsStale()) execFileSync('npm', ['run', '-s', 'synth'], { cwd: ROOT, stdio: 'pipe', timeout: 180_000 });
  return SHOP_ASSEMBLY;
}
