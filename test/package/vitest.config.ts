import { defineConfig } from 'vitest/config';

/**
 * The packaging test (`npm run test:package`, run by CI after the build): the published tarball in
 * a scratch project outside the repository. Separate from `npm test`, which runs from sources.
 */
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/package/**/*.test.ts'],
    // One scratch project is shared by every check, in order.
    fileParallelism: false,
    sequence: { concurrent: false },
    testTimeout: 180_000,
    hookTimeout: 600_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
