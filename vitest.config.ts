import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The packaging test builds and installs the tarball: `npm run test:package` (CI runs it).
    exclude: ['**/node_modules/**', 'test/package/**'],
    typecheck: { enabled: true, include: ['test/types/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
  resolve: {
    alias: [
      { find: /^celeriac\/local$/, replacement: new URL('./lib/local/index.ts', import.meta.url).pathname },
      { find: /^celeriac\/cdk$/, replacement: new URL('./cdk/index.ts', import.meta.url).pathname },
      { find: /^celeriac\/aws$/, replacement: new URL('./lib/adapters/aws/index.ts', import.meta.url).pathname },
      { find: /^celeriac\/cdk$/, replacement: new URL('./cdk/index.ts', import.meta.url).pathname },
      { find: /^celeriac$/, replacement: new URL('./lib/index.ts', import.meta.url).pathname },
    ],
  },
});
