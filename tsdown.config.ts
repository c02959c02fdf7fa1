/**
 * The build of the published package (`npm run build` → dist/). tsdown bundles each public entry
 * into ESM with its `.d.ts` and declaration map. A bundler rather than plain `tsc` because the
 * sources use extensionless relative imports (moduleResolution Bundler): plain Node ESM and a
 * consumer's `tsc --module NodeNext` need full specifiers, and bundling resolves them once, here,
 * instead of rewriting every import in lib/. Shared code lands in shared chunks, so the entries
 * share one copy of each class (an `instanceof CeleriacError` holds across `celeriac` and
 * `celeriac/local`). Dependencies and peer dependencies stay external.
 */
import { defineConfig } from 'tsdown';

export default defineConfig({
  entry: {
    index: 'lib/index.ts',
    local: 'lib/local/index.ts',
    aws: 'lib/adapters/aws/index.ts',
    cdk: 'cdk/index.ts',
    cli: 'lib/cli/main.ts',
    // Not a public entry: the emulator thread's module, which lib/local/emulators.ts finds next to itself.
    'emulator-thread': 'lib/local/emulator-thread.ts',
  },
  outDir: 'dist',
  format: 'esm',
  platform: 'node',
  // The oldest Node the package supports (package.json engines).
  target: 'node22.12',
  fixedExtension: false,
  tsconfig: 'tsconfig.build.json',
  dts: { sourcemap: true },
  sourcemap: true,
  clean: true,
  // The local dashboard reads its page next to the code that serves it (import.meta.url).
  copy: [{ from: 'lib/local/dashboard/page.html', to: 'dist' }],
});
